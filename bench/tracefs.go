package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultTracefs is where the profile looks for tracefs.
const DefaultTracefs = "/sys/kernel/tracing"

// instancePrefix names the tracefs instances the profile makes; the pid
// of the bench process follows.
const instancePrefix = "tzbridge-bench-"

// traceBufferKB is the ring buffer of the instance, per CPU.
const traceBufferKB = 8192

// tracer records events in a tracefs instance of its own
// (instances/tzbridge-bench-<pid>), with its own ring buffer, events and
// pid filter, so that the top-level tracing settings and any other user's
// instance stay as they are. close removes the instance.
type tracer struct {
	dir string // the instance
}

// errNoTracefs is wrapped by every error that says tracefs is unusable.
var errNoTracefs = errors.New("the profile needs root and tracefs")

// openTracer makes the instance under root (a tracefs mount) and
// enables the profile's events in it, tracing off.
func openTracer(root string) (*tracer, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return nil, fmt.Errorf("%w at %s: %v", errNoTracefs, root, err)
	}
	if st.Type != unix.TRACEFS_MAGIC {
		return nil, fmt.Errorf("%w at %s: it is not a tracefs mount (mount -t tracefs nodev %s)", errNoTracefs, root, root)
	}
	if err := unix.Access(filepath.Join(root, "instances"), unix.W_OK); err != nil {
		return nil, fmt.Errorf("%w at %s: %s/instances is not writable: %v", errNoTracefs, root, root, err)
	}
	removeStaleInstances(root)
	t := &tracer{dir: filepath.Join(root, "instances", instancePrefix+strconv.Itoa(os.Getpid()))}
	if err := os.Mkdir(t.dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w at %s: make an instance: %v", errNoTracefs, root, err)
	}
	if err := t.setup(); err != nil {
		_ = t.close()
		return nil, err
	}
	return t, nil
}

// setup configures a fresh instance: tracing off, buffer, events, the
// syscall filter, children of filtered tasks followed.
func (t *tracer) setup() error {
	if err := t.write("tracing_on", "0"); err != nil {
		return err
	}
	if err := t.write("buffer_size_kb", strconv.Itoa(traceBufferKB)); err != nil {
		return err
	}
	var filter []string
	for _, nr := range tracedSyscalls() {
		filter = append(filter, "id == "+strconv.FormatInt(nr, 10))
	}
	for _, ev := range []string{"sys_enter", "sys_exit"} {
		// Without the filter the trace only gets bigger.
		_ = t.write(filepath.Join("events", "raw_syscalls", ev, "filter"), strings.Join(filter, " || "))
	}
	for _, ev := range []string{"sched/sched_switch", "sched/sched_wakeup", "sched/sched_waking", "sched/sched_migrate_task", "raw_syscalls/sys_enter", "raw_syscalls/sys_exit"} {
		if err := t.write(filepath.Join("events", ev, "enable"), "1"); err != nil {
			return err
		}
	}
	return t.write(filepath.Join("options", "event-fork"), "1")
}

// capture records the events of tasks (thread ids; sched_switch lines
// are kept when either side is one of them) while run runs, and returns
// the trace's text.
func (t *tracer) capture(tasks []int, run func() error) ([]byte, error) {
	ids := make([]string, len(tasks))
	for i, id := range tasks {
		ids[i] = strconv.Itoa(id)
	}
	if err := t.write("set_event_pid", strings.Join(ids, " ")); err != nil {
		return nil, err
	}
	if err := t.write("trace", ""); err != nil { // clears the buffer
		return nil, err
	}
	if err := t.write("tracing_on", "1"); err != nil {
		return nil, err
	}
	err := run()
	if offErr := t.write("tracing_on", "0"); err == nil {
		err = offErr
	}
	if err != nil {
		return nil, err
	}
	text, err := os.ReadFile(filepath.Join(t.dir, "trace"))
	if err != nil {
		return nil, fmt.Errorf("read the trace: %w", err)
	}
	return text, nil
}

// close turns tracing off and removes the instance (rmdir removes its
// files and frees its buffer).
func (t *tracer) close() error {
	_ = t.write("tracing_on", "0")
	if err := os.Remove(t.dir); err != nil {
		return fmt.Errorf("remove the tracefs instance %s: %w", t.dir, err)
	}
	return nil
}

func (t *tracer) write(name, value string) error {
	p := filepath.Join(t.dir, name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("tracefs: %w", err)
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("tracefs: write %q to %s: %w", value, p, err)
	}
	return nil
}

// removeStaleInstances removes instances left by bench processes that no
// longer run (killed before they could remove their own).
func removeStaleInstances(root string) {
	ents, err := os.ReadDir(filepath.Join(root, "instances"))
	if err != nil {
		return
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(strings.TrimPrefix(e.Name(), instancePrefix))
		if !strings.HasPrefix(e.Name(), instancePrefix) || err != nil || pid == os.Getpid() {
			continue
		}
		if unix.Kill(pid, 0) == unix.ESRCH {
			_ = os.Remove(filepath.Join(root, "instances", e.Name()))
		}
	}
}

// procChildren lists the processes whose parent is pid, from /proc.
func procChildren(proc string, pid int) []int {
	ents, err := os.ReadDir(proc)
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(proc, e.Name(), "stat"))
		if err != nil {
			continue
		}
		if pp, ok := statPPID(string(b)); ok && pp == pid {
			out = append(out, p)
		}
	}
	return out
}

// statPPID reads the parent pid from the text of /proc/<pid>/stat,
// "pid (comm) state ppid …", where comm may hold anything.
func statPPID(stat string) (int, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

// procThreads lists the threads of pid.
func procThreads(proc string, pid int) []int {
	ents, err := os.ReadDir(filepath.Join(proc, strconv.Itoa(pid), "task"))
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		if t, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, t)
		}
	}
	return out
}

// procRole says what a tzbridge child process is, from its command line:
// the word after the program ("shadow", "secure-world", "bench"…).
func procRole(proc string, pid int) string {
	b, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return ""
	}
	args := strings.Split(string(b), "\x00")
	if len(args) < 2 {
		return ""
	}
	return args[1]
}

// bridgeThreads finds the threads of the shadows and of the secure world
// among the children of the `tzbridge run` process pid.
func bridgeThreads(proc string, pid int) (shadow, secureWorld []int) {
	for _, c := range procChildren(proc, pid) {
		switch procRole(proc, c) {
		case "shadow":
			shadow = append(shadow, procThreads(proc, c)...)
		case "secure-world":
			secureWorld = append(secureWorld, procThreads(proc, c)...)
		}
	}
	return shadow, secureWorld
}
