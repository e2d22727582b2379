package test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/internal/echotest"
	"github.com/tzmediator/tzbridge/internal/sandbox"
)

// A native TA is as confined in the simulator as a TA on OP-TEE, which
// has no system calls at all (internal/sandbox). The hostile TA in
// testdata/hostile makes raw Linux system calls; every one must fail, and
// the bridge, its shadows and the other TAs must keep serving.

const hostileUUID = "0badc0de-5a4d-4b0c-8e11-7a2f3c4d5e6f"

// buildNativeTA builds the TA in dir with ta/c/build-host.sh. A missing
// gcc or a failed build fails the test: these tests are the only ones
// that show the sandbox holds.
func buildNativeTA(t *testing.T, dir string, cflags ...string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatalf("gcc is needed to build native TAs (.ci/run installs it): %v", err)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(dir)+"-ta")
	args := append([]string{"../ta/c/build-host.sh", dir, bin}, cflags...)
	if out, err := exec.Command("sh", args...).CombinedOutput(); err != nil {
		t.Fatalf("ta/c/build-host.sh %s: %v\n%s", dir, err, out)
	}
	return bin
}

// markDir is a directory anyone may create files in, so that only the
// sandbox keeps a TA from creating the file MARK_PATH names.
func markDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o1777); err != nil {
		t.Fatal(err)
	}
	return dir
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, os.ErrNotExist)
}

// TestCheckRunsNoTACode: tzbridge check on a configuration naming a
// native TA whose constructor creates a file leaves no file; the same
// program run directly does create it (so the test can fail).
func TestCheckRunsNoTACode(t *testing.T) {
	mark := filepath.Join(markDir(t), "constructor-ran")
	bin := buildNativeTA(t, "testdata/hostile", fmt.Sprintf("-DMARK_PATH=%q", mark))
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	yaml := fmt.Sprintf("tee: sim\ntas:\n  - name: hostile\n    uuid: %s\n    native: %s\n", hostileUUID, bin)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tzbridgeBin(), "check", "--config", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("tzbridge check: %v\n%s", err, out)
	}
	if exists(mark) {
		t.Fatalf("tzbridge check ran the TA's constructor: %s exists", mark)
	}
	// Not a TA for check: a dynamically linked program.
	bad := strings.Replace(yaml, bin, "/bin/true", 1)
	if err := os.WriteFile(cfg, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tzbridgeBin(), "check", "--config", cfg).CombinedOutput(); err == nil || !strings.Contains(string(out), "dynamically linked") {
		t.Errorf("tzbridge check accepted /bin/true as a native TA: %v\n%s", err, out)
	}
	// Run by hand, outside the sandbox, the constructor runs.
	_ = exec.Command(bin).Run()
	if !exists(mark) {
		t.Fatalf("the constructor did not create %s when run directly: the test shows nothing", mark)
	}
}

// TestNativeSandboxHostile runs the hostile TA next to the built-in echo
// TA and the C echo TA and checks every escape it tries fails.
func TestNativeSandboxHostile(t *testing.T) {
	mark := filepath.Join(markDir(t), "constructor-ran")
	const tmpFile = "/tmp/tzbridge-hostile-ta" // hostile_ta.c tries to create it
	os.Remove(tmpFile)
	hostile := buildNativeTA(t, "testdata/hostile", fmt.Sprintf("-DMARK_PATH=%q", mark))
	cecho := cEchoTA(t)

	// A service only the test's namespace has.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Write([]byte("banner: host-only service\n"))
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port

	cfg := echoConfig("%[1]s") + fmt.Sprintf(`  - name: cecho
    uuid: %s
    native: %s
  - name: hostile
    uuid: %s
    native: %s
    endpoints:
      - {name: cmd, kind: fifo, mode: "0600"}
      - {name: out, kind: fifo, mode: "0600"}
`, cEchoUUID, cecho, hostileUUID, hostile)
	b := startBridge(t, cfg, func(mount string) bool {
		return echoReady(mount) && exists(filepath.Join(mount, "hostile", "cmd")) &&
			echotest.StreamEcho("tcp", cEchoTCP, []byte("x")) == nil
	})

	sup := b.cmd.Process.Pid
	sw := childrenOf(t, sup, "secure-world")
	shadows := childrenOf(t, sup, "shadow")
	if len(sw) != 1 || len(shadows) != 3 {
		t.Fatalf("secure world %v, shadows %v: want 1 and 3", sw, shadows)
	}
	tas := childrenOf(t, sw[0], "")
	if len(tas) != 2 {
		t.Fatalf("the secure world runs %d processes (%v), want the 2 native TAs", len(tas), tas)
	}
	t.Run("confinement", func(t *testing.T) {
		for _, pid := range tas {
			checkConfined(t, pid)
		}
	})

	// The attack: the pids of the supervisor, the secure world and the
	// shadows, pid 1, then the port.
	targets := append([]int{sup, sw[0], 1}, shadows...)
	var cmd strings.Builder
	for _, p := range targets {
		fmt.Fprintf(&cmd, "%d ", p)
	}
	fmt.Fprintf(&cmd, "%d\n", port)
	results := make(chan []string, 1)
	go func() {
		var lines []string
		defer func() { results <- lines }()
		f, err := os.Open(b.path("hostile", "out"))
		if err != nil {
			lines = append(lines, "open out: "+err.Error())
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if sc.Text() == "done" {
				return
			}
			lines = append(lines, sc.Text())
		}
	}()
	if err := os.WriteFile(b.path("hostile", "cmd"), []byte(cmd.String()), 0); err != nil {
		t.Fatal(err)
	}
	var lines []string
	select {
	case lines = <-results:
	case <-time.After(30 * time.Second):
		t.Fatal("no answer from the hostile TA within 30s")
	}
	want := []string{"open_shadow", "create_tmp", "mkdir_root", "socket_tcp", "connect_tcp", "socket_unix",
		"kill_all", "execve_sh", "fork", "clone3", "unshare_net", "setuid_0", "memfd_create", "mount",
		"ioctl_tiocsti", "dup3_ctl"}
	seen := map[string]int{}
	for _, line := range lines {
		name, val, ok := strings.Cut(line, " ")
		r, err := strconv.ParseInt(val, 10, 64)
		if !ok || err != nil {
			t.Errorf("hostile TA: %q", line)
			continue
		}
		seen[name]++
		t.Logf("%-14s = %d (%v)", name, r, syscall.Errno(-r))
		if r >= 0 {
			t.Errorf("%s succeeded (%d)", name, r)
		}
	}
	for _, w := range want {
		if seen[w] != 1 {
			t.Errorf("%s attempted %d times, want 1", w, seen[w])
		}
	}
	if seen["kill"] != len(targets) || seen["ptrace"] != len(targets) {
		t.Errorf("kill tried %d and ptrace %d times, want %d each", seen["kill"], seen["ptrace"], len(targets))
	}

	// Nothing reached the host, and everything still serves.
	for _, f := range []string{mark, tmpFile} {
		if exists(f) {
			t.Errorf("the hostile TA created %s", f)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the host-only service accepted %d connections", n)
	}
	for _, p := range append([]int{sup, sw[0]}, shadows...) {
		if err := syscall.Kill(p, 0); err != nil {
			t.Errorf("process %d: %v", p, err)
		}
	}
	if err := echotest.StreamEcho("tcp", "127.0.0.1:7000", echotest.Payload(4096)); err != nil {
		t.Errorf("built-in echo TA after the attack: %v", err)
	}
	if err := echotest.StreamEcho("tcp", cEchoTCP, echotest.Payload(4096)); err != nil {
		t.Errorf("C echo TA after the attack: %v", err)
	}
	select {
	case <-b.done:
		t.Fatalf("tzbridge exited: %v", b.err)
	default:
	}
}

// childrenOf lists the processes whose parent is pid and whose command
// line contains arg.
func childrenOf(t *testing.T, pid int, arg string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var kids []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces.
		rest := stat[strings.LastIndexByte(string(stat), ')')+1:]
		var state string
		var ppid int
		if _, err := fmt.Sscan(string(rest), &state, &ppid); err != nil || ppid != pid {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		if strings.Contains(string(cmdline), arg) {
			kids = append(kids, p)
		}
	}
	return kids
}

// checkConfined checks a native TA process from outside: its own uid and
// gid, no groups, no capabilities, no_new_privs, a seccomp filter, its
// own namespaces, and a root holding only its program.
func checkConfined(t *testing.T, pid int) {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for line := range strings.Lines(string(status)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		fields[k] = strings.Join(strings.Fields(v), " ")
	}
	ids := map[string]bool{}
	for _, u := range []string{hostileUUID, cEchoUUID} {
		id := sandbox.ID(gp.MustParseUUID(u))
		ids[fmt.Sprintf("%d %d %d %d", id, id, id, id)] = true
	}
	if !ids[fields["Uid"]] || fields["Gid"] != fields["Uid"] {
		t.Errorf("pid %d: Uid %q, Gid %q: want a TA's own id", pid, fields["Uid"], fields["Gid"])
	}
	for k, want := range map[string]string{
		"Groups": "", "CapInh": "0000000000000000", "CapPrm": "0000000000000000",
		"CapEff": "0000000000000000", "CapBnd": "0000000000000000", "CapAmb": "0000000000000000",
		"NoNewPrivs": "1", "Seccomp": "2",
	} {
		if fields[k] != want {
			t.Errorf("pid %d: %s %q, want %q", pid, k, fields[k], want)
		}
	}
	for _, ns := range []string{"net", "mnt", "pid", "ipc", "uts", "cgroup"} {
		mine, err1 := os.Readlink("/proc/self/ns/" + ns)
		its, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		if err1 != nil || err2 != nil || mine == its {
			t.Errorf("pid %d: %s namespace %q, the test's %q (%v, %v)", pid, ns, its, mine, err1, err2)
		}
	}
	root, err := os.ReadDir(fmt.Sprintf("/proc/%d/root", pid))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range root {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != "ta" {
		t.Errorf("pid %d: root holds %v, want only the program", pid, names)
	}
}
