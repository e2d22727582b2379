package bench

import (
	"bufio"
	"bytes"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// This file decodes the text of a tracefs trace file (the "nop" tracer
// with the sched and raw_syscalls events) into events. It is a pure
// function of the text, which it treats as untrusted: a line it cannot
// read is counted and skipped, never a reason to fail.

// evKind is the kind of a trace event.
type evKind uint8

const (
	evSysEnter evKind = iota + 1
	evSysExit
	evSwitch
	evWakeup // sched_wakeup and sched_waking
	evMigrate
)

// traceEvent is one line of the trace. Times are in nanoseconds of the
// trace clock (the text gives microseconds, so the last three digits are
// zero with the default clocks).
type traceEvent struct {
	ts   int64
	cpu  int
	tid  int // the task the line is from (TASK-PID)
	kind evKind
	// sys_enter, sys_exit
	nr, ret int64
	// sched_switch: prev and next; sched_wakeup/waking and
	// sched_migrate_task: the task in pid, where in cpu2 (target or
	// destination CPU).
	prev, next, pid, cpu2 int
	prevRunnable          bool // sched_switch: prev_state R (preempted)
}

// trace is a decoded trace file.
type trace struct {
	events []traceEvent
	// skipped counts lines that are not comments and could not be read.
	skipped int
	// lost is how many events the ring buffer dropped (written minus
	// kept, from the header), when the header says.
	lost int64
}

// lineRE matches "  comm-123  (  45) [001] d..2. 1234.567890: name: body",
// the tgid column and the flags being optional. The comm may hold spaces
// and dashes; the pid is the last "-digits" before the CPU.
var lineRE = regexp.MustCompile(`^\s*(.*)-(\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(\d+)\]\s+(?:\S+\s+)?(\d+)\.(\d+):\s+(\w+):\s?(.*)$`)

// headerRE matches the header line with the buffer's counts.
var headerRE = regexp.MustCompile(`^#\s*entries-in-buffer/entries-written:\s*(\d+)/(\d+)`)

// parseTrace decodes the text of a tracefs trace file.
func parseTrace(text []byte) trace {
	var tr trace
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			if m := headerRE.FindStringSubmatch(line); m != nil {
				kept, err1 := strconv.ParseInt(m[1], 10, 64)
				written, err2 := strconv.ParseInt(m[2], 10, 64)
				if err1 == nil && err2 == nil && written > kept {
					tr.lost = written - kept
				}
			}
			continue
		}
		ev, ok := parseLine(line)
		if !ok {
			tr.skipped++
			continue
		}
		tr.events = append(tr.events, ev)
	}
	// A line longer than the scanner's limit ends the scan; what came
	// before it is still good.
	if sc.Err() != nil {
		tr.skipped++
	}
	return tr
}

// parseLine decodes one event line; ok is false for a line it cannot
// read or an event it does not use.
func parseLine(line string) (ev traceEvent, ok bool) {
	m := lineRE.FindStringSubmatch(line)
	if m == nil {
		return ev, false
	}
	var err error
	if ev.tid, err = strconv.Atoi(m[2]); err != nil {
		return ev, false
	}
	if ev.cpu, err = strconv.Atoi(m[3]); err != nil {
		return ev, false
	}
	if ev.ts, ok = parseTimestamp(m[4], m[5]); !ok {
		return ev, false
	}
	body := m[7]
	switch m[6] {
	case "sys_enter":
		ev.kind = evSysEnter
		f := strings.Fields(body)
		if len(f) < 2 || f[0] != "NR" {
			return ev, false
		}
		if ev.nr, err = strconv.ParseInt(f[1], 10, 64); err != nil {
			return ev, false
		}
	case "sys_exit":
		ev.kind = evSysExit
		f := strings.Fields(body)
		if len(f) < 4 || f[0] != "NR" || f[2] != "=" {
			return ev, false
		}
		if ev.nr, err = strconv.ParseInt(f[1], 10, 64); err != nil {
			return ev, false
		}
		if ev.ret, err = strconv.ParseInt(f[3], 10, 64); err != nil {
			return ev, false
		}
	case "sched_switch":
		ev.kind = evSwitch
		// prev_comm=a b prev_pid=1 prev_prio=120 prev_state=R ==> next_comm=c next_pid=2 next_prio=120
		before, after, found := strings.Cut(body, " ==> ")
		if !found {
			return ev, false
		}
		var okp, okn bool
		ev.prev, okp = intField(before, "prev_pid")
		ev.next, okn = intField(after, "next_pid")
		if !okp || !okn {
			return ev, false
		}
		if st, found := strField(before, "prev_state"); found {
			ev.prevRunnable = strings.HasPrefix(st, "R")
		}
	case "sched_wakeup", "sched_waking":
		ev.kind = evWakeup
		var okp bool
		if ev.pid, okp = intField(body, "pid"); !okp {
			return ev, false
		}
		ev.cpu2, _ = intField(body, "target_cpu")
	case "sched_migrate_task":
		ev.kind = evMigrate
		var okp bool
		if ev.pid, okp = intField(body, "pid"); !okp {
			return ev, false
		}
		ev.cpu2, _ = intField(body, "dest_cpu")
	default:
		return ev, false
	}
	return ev, true
}

// parseTimestamp reads seconds and a decimal fraction into nanoseconds.
func parseTimestamp(secs, frac string) (int64, bool) {
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || s < 0 || s > math.MaxInt64/int64(time.Second)-1 {
		return 0, false
	}
	if len(frac) > 9 {
		frac = frac[:9]
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, false
	}
	for i := len(frac); i < 9; i++ {
		f *= 10
	}
	return s*1e9 + f, true
}

// strField finds "key=value" in body (the last one, since a comm before
// it may hold anything) and returns the value up to the next space.
func strField(body, key string) (string, bool) {
	i := strings.LastIndex(" "+body, " "+key+"=")
	if i < 0 {
		return "", false
	}
	v := body[i+len(key)+1:]
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return v, true
}

func intField(body, key string) (int, bool) {
	v, ok := strField(body, key)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}

// sysClass is what a syscall is to the profile.
type sysClass uint8

const (
	sysOther sysClass = iota
	sysWait           // waits for a descriptor: ppoll, pselect, epoll_pwait
	sysRecv           // read, readv, recvfrom, recvmsg
	sysSend           // write, writev, sendto, sendmsg
	sysYield          // sched_yield: the doorbell's spin
	sysFutex          // futex: the doorbell's sleep (or the Go runtime's)
)

// syscallInfo names a syscall number of this architecture and says what
// it is to the profile. The numbers come from x/sys/unix, so the profile
// reads traces of the machine it runs on.
func syscallInfo(nr int64) (string, sysClass) {
	switch nr {
	case unix.SYS_PPOLL:
		return "ppoll", sysWait
	case unix.SYS_PSELECT6:
		return "pselect6", sysWait
	case unix.SYS_EPOLL_PWAIT:
		return "epoll_pwait", sysWait
	case unix.SYS_READ:
		return "read", sysRecv
	case unix.SYS_READV:
		return "readv", sysRecv
	case unix.SYS_RECVFROM:
		return "recvfrom", sysRecv
	case unix.SYS_RECVMSG:
		return "recvmsg", sysRecv
	case unix.SYS_WRITE:
		return "write", sysSend
	case unix.SYS_WRITEV:
		return "writev", sysSend
	case unix.SYS_SENDTO:
		return "sendto", sysSend
	case unix.SYS_SENDMSG:
		return "sendmsg", sysSend
	case unix.SYS_SCHED_YIELD:
		return "sched_yield", sysYield
	case unix.SYS_FUTEX:
		return "futex", sysFutex
	}
	return "syscall " + strconv.FormatInt(nr, 10), sysOther
}

// tracedSyscalls are the syscalls the profile records (a filter on
// raw_syscalls keeps the others out of the buffer).
func tracedSyscalls() []int64 {
	return []int64{
		unix.SYS_PPOLL, unix.SYS_PSELECT6, unix.SYS_EPOLL_PWAIT,
		unix.SYS_READ, unix.SYS_READV, unix.SYS_RECVFROM, unix.SYS_RECVMSG,
		unix.SYS_WRITE, unix.SYS_WRITEV, unix.SYS_SENDTO, unix.SYS_SENDMSG,
		unix.SYS_SCHED_YIELD, unix.SYS_FUTEX,
	}
}
