package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// loadTrace reads a trace kept by --profile-traces, whose first line
// names the threads.
func loadTrace(t testing.TB, path string) ([]byte, traceThreads) {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := bytes.Cut(text, []byte("\n"))
	return text, threadsFromHeader(string(first))
}

// threadsFromHeader reads "… client=1 server=2,3 secure_world=4,5".
func threadsFromHeader(line string) traceThreads {
	var th traceThreads
	ints := func(s string) []int {
		var out []int
		for f := range strings.SplitSeq(s, ",") {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
		return out
	}
	for _, f := range strings.Fields(line) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "client":
			th.Client, _ = strconv.Atoi(v)
		case "server":
			th.Server = ints(v)
		case "secure_world":
			th.SecureWorld = ints(v)
		}
	}
	return th
}

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		want traceEvent
		ok   bool
	}{
		{"sys_enter", "             exe-3229    [001] ..... 24991.908457: sys_enter: NR 0 (12, 7f1eb201a040, 10000, 0, 0, 0)",
			traceEvent{ts: 24991908457000, cpu: 1, tid: 3229, kind: evSysEnter, nr: 0}, true},
		{"sys_exit", "        tzb-prof-3209    [000] ..... 24991.908517: sys_exit: NR 0 = 4096",
			traceEvent{ts: 24991908517000, cpu: 0, tid: 3209, kind: evSysExit, nr: 0, ret: 4096}, true},
		{"sys_exit error", "exe-1 [003] ..... 1.000001: sys_exit: NR 271 = -4",
			traceEvent{ts: 1000001000, cpu: 3, tid: 1, kind: evSysExit, nr: 271, ret: -4}, true},
		{"switch", "        tzb-prof-3219    [000] d..2. 24991.908515: sched_switch: prev_comm=tzb-prof prev_pid=3219 prev_prio=120 prev_state=S ==> next_comm=tzb-prof next_pid=3209 next_prio=120",
			traceEvent{ts: 24991908515000, cpu: 0, tid: 3219, kind: evSwitch, prev: 3219, next: 3209}, true},
		{"switch, preempted, comms with spaces and dashes", "  a b-c -12  [001] d..2. 5.5: sched_switch: prev_comm=a b-c  prev_pid=12 prev_prio=120 prev_state=R+ ==> next_comm=x next_pid=9 y next_pid=13 next_prio=120",
			traceEvent{ts: 5500000000, cpu: 1, tid: 12, kind: evSwitch, prev: 12, next: 13, prevRunnable: true}, true},
		{"waking", "             exe-3229    [001] d..3. 24991.908469: sched_waking: comm=tzb-prof pid=3209 prio=120 target_cpu=000",
			traceEvent{ts: 24991908469000, cpu: 1, tid: 3229, kind: evWakeup, pid: 3209}, true},
		{"wakeup from an interrupt", "          <idle>-0       [001] dNh4. 2.000002: sched_wakeup: comm=exe pid=7 prio=120 target_cpu=001",
			traceEvent{ts: 2000002000, cpu: 1, tid: 0, kind: evWakeup, pid: 7, cpu2: 1}, true},
		{"migrate", "  tzrpc.test-31792   [000] d..2. 24747.342328: sched_migrate_task: comm=tzrpc.test pid=31788 prio=120 orig_cpu=1 dest_cpu=0",
			traceEvent{ts: 24747342328000, cpu: 0, tid: 31792, kind: evMigrate, pid: 31788}, true},
		{"tgid column, no flags, nanoseconds", "  exe-5  (    4) [002] 3.123456789: sys_enter: NR 1 (1, 2, 3, 0, 0, 0)",
			traceEvent{ts: 3123456789, cpu: 2, tid: 5, kind: evSysEnter, nr: 1}, true},
		{"other event", "exe-5 [002] ..... 3.1: sched_process_exit: comm=exe pid=5 prio=120", traceEvent{}, false},
		{"no NR", "exe-5 [002] ..... 3.1: sys_enter: (1, 2)", traceEvent{}, false},
		{"switch without arrow", "exe-5 [002] ..... 3.1: sched_switch: prev_pid=1 next_pid=2", traceEvent{}, false},
		{"huge timestamp", "exe-5 [002] ..... 99999999999999999.1: sys_enter: NR 1 (1)", traceEvent{}, false},
		{"garbage", "CPU:1 [LOST 12 EVENTS]", traceEvent{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseLine(tc.line)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tc.ok, got)
			}
			if !ok {
				return
			}
			got.cpu2, tc.want.cpu2 = 0, 0 // not asserted
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseTraceHeader(t *testing.T) {
	text := "# tracer: nop\n#\n# entries-in-buffer/entries-written: 10/25   #P:2\n\nexe-1 [000] ..... 1.000001: sys_exit: NR 0 = 1\nnonsense\n"
	tr := parseTrace([]byte(text))
	if len(tr.events) != 1 || tr.skipped != 1 || tr.lost != 15 {
		t.Errorf("events %d skipped %d lost %d, want 1, 1, 15", len(tr.events), tr.skipped, tr.lost)
	}
}

// synthetic writes a trace of this architecture's syscalls: the client
// 10 writes and reads, the server 20 waits, reads and writes, yielding
// between, the secure world 30. Times are µs.
type synthetic struct{ b strings.Builder }

func (s *synthetic) add(tid, cpu int, us int64, format string, args ...any) {
	fmt.Fprintf(&s.b, "  t-%d [%03d] ..... %d.%06d: %s\n", tid, cpu, us/1e6, us%1e6, fmt.Sprintf(format, args...))
}
func (s *synthetic) call(tid, cpu int, nr int64, enter, exit, ret int64) {
	s.add(tid, cpu, enter, "sys_enter: NR %d (0, 0, 0)", nr)
	s.add(tid, cpu, exit, "sys_exit: NR %d = %d", nr, ret)
}

func TestAnalyseSynthetic(t *testing.T) {
	var s synthetic
	const base = 1_000_000
	for i := range int64(3) {
		t0 := base + i*100
		// The server waits from before the client sends.
		s.add(10, 0, t0, "sys_enter: NR %d (3, 0, 4096)", unix.SYS_WRITE)
		s.add(10, 0, t0+3, "sched_waking: comm=t pid=20 prio=120 target_cpu=001")
		s.add(10, 0, t0+4, "sys_exit: NR %d = 4096", unix.SYS_WRITE)
		s.add(10, 0, t0+5, "sys_enter: NR %d (4, 0, 4096)", unix.SYS_READ)
		s.add(10, 0, t0+6, "sched_switch: prev_comm=t prev_pid=10 prev_prio=120 prev_state=S ==> next_comm=t next_pid=30 next_prio=120")
		s.add(0, 1, t0+7, "sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=t next_pid=20 next_prio=120")
		s.add(20, 1, t0+8, "sys_exit: NR %d = 1", unix.SYS_PPOLL)
		s.call(20, 1, unix.SYS_SCHED_YIELD, t0+9, t0+10, 0)
		s.call(20, 1, unix.SYS_READ, t0+12, t0+14, 4096)
		s.call(20, 1, unix.SYS_SCHED_YIELD, t0+15, t0+16, 0)
		s.add(20, 1, t0+20, "sys_enter: NR %d (5, 0, 4096)", unix.SYS_WRITE)
		s.add(20, 1, t0+21, "sched_waking: comm=t pid=10 prio=120 target_cpu=000")
		s.add(30, 0, t0+25, "sched_switch: prev_comm=t prev_pid=30 prev_prio=120 prev_state=S ==> next_comm=t next_pid=10 next_prio=120")
		s.add(10, 0, t0+26, "sys_exit: NR %d = 4096", unix.SYS_READ)
		s.add(20, 1, t0+30, "sys_exit: NR %d = 4096", unix.SYS_WRITE)
		s.add(20, 1, t0+40, "sys_enter: NR %d (0, 2, 0)", unix.SYS_PPOLL)
	}
	s.add(10, 0, base+300, "sys_enter: NR %d (3, 0, 4096)", unix.SYS_WRITE)
	tr := parseTrace([]byte(s.b.String()))
	if tr.skipped != 0 {
		t.Fatalf("%d lines skipped", tr.skipped)
	}
	bd, err := analyseTrace(tr, traceThreads{Client: 10, Server: []int{20, 21}, SecureWorld: []int{30}}, "shadow")
	if err != nil {
		t.Fatal(err)
	}
	// The first round trip begins inside the server's ppoll, which the
	// trace did not see begin; all three are followed.
	if bd.RoundTrips != 3 || bd.Matched != 3 || !reflect.DeepEqual(bd.Shape, []string{"ppoll", "read", "write"}) {
		t.Fatalf("round trips %d matched %d shape %v", bd.RoundTrips, bd.Matched, bd.Shape)
	}
	want := []Segment{
		{Name: "CA write → shadow enters ppoll (previous trip's tail)", Kind: "gap", MedianTripUS: 0, P50US: 0, P90US: 0},
		{Name: "shadow ppoll returns (the wake, if it waited)", Kind: "wake", MedianTripUS: 8, P50US: 8, P90US: 8},
		{Name: "hand-off 1 (ppoll → read)", Kind: "gap", MedianTripUS: 4, P50US: 4, P90US: 4},
		{Name: "shadow read", Kind: "syscall", MedianTripUS: 2, P50US: 2, P90US: 2},
		{Name: "hand-off 2 (read → write)", Kind: "gap", MedianTripUS: 6, P50US: 6, P90US: 6},
		{Name: "shadow write → CA's read returns", Kind: "wake", MedianTripUS: 6, P50US: 6, P90US: 6},
	}
	if !reflect.DeepEqual(bd.Segments, want) {
		t.Errorf("segments\n%+v\nwant\n%+v", bd.Segments, want)
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"total p50", bd.TotalP50US, 26},
		{"server's send", bd.SendUS, 10},
		{"client's send", bd.ClientSendUS, 4},
		{"server wake-up", bd.WakeServerUS, 4},
		{"client wake-up", bd.WakeClientUS, 4},
		{"client from the secure world", bd.ClientFrom["secure world"], 1},
		{"server waiting", bd.ServerWaiting, 1},
		{"switches", bd.Switches, 3},
		{"yields", bd.Yields, 2},
		{"same CPU", bd.SameCPU, 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestAnalyseCapturedSamples(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the samples hold amd64 syscall numbers")
	}
	for _, tc := range []struct {
		file                 string
		server               string
		trips, matched, band int
		shape                []string
		p50                  float64
		sameCPU              float64
	}{
		{"fifo-bridged.trace", "shadow", 8, 6, 1, []string{"ppoll", "read", "write"}, 72, 0},
		{"fifo-direct.trace", "peer", 21, 21, 4, []string{"read", "write"}, 12, 1},
		{"tcp-bridged.trace", "shadow", 4, 4, 1, []string{"ppoll", "recvfrom", "sendmsg"}, 113, 0},
	} {
		t.Run(tc.file, func(t *testing.T) {
			text, th := loadTrace(t, filepath.Join("testdata", tc.file))
			tr := parseTrace(text)
			if tr.skipped != 0 || tr.lost != 0 {
				t.Errorf("skipped %d, lost %d", tr.skipped, tr.lost)
			}
			bd, err := analyseTrace(tr, th, tc.server)
			if err != nil {
				t.Fatal(err)
			}
			if bd.RoundTrips != tc.trips || bd.Matched != tc.matched || bd.Band != tc.band || !reflect.DeepEqual(bd.Shape, tc.shape) {
				t.Errorf("trips %d matched %d band %d shape %v, want %d %d %d %v", bd.RoundTrips, bd.Matched, bd.Band, bd.Shape, tc.trips, tc.matched, tc.band, tc.shape)
			}
			if bd.TotalP50US != tc.p50 || bd.SameCPU != tc.sameCPU {
				t.Errorf("p50 %v same CPU %v, want %v %v", bd.TotalP50US, bd.SameCPU, tc.p50, tc.sameCPU)
			}
			// The segments follow one another: around the median they add
			// up to the median round trip (the band is one trip here).
			var sum float64
			for _, s := range bd.Segments {
				sum += s.MedianTripUS
			}
			if tc.band == 1 && math.Abs(sum-tc.p50) > 0.01 {
				t.Errorf("segments add up to %v, want %v", sum, tc.p50)
			}
			if len(bd.Segments) != 2*len(tc.shape) {
				t.Errorf("%d segments for %d syscalls", len(bd.Segments), len(tc.shape))
			}
		})
	}
}

func TestAnalyseErrors(t *testing.T) {
	text, th := loadTrace(t, filepath.Join("testdata", "fifo-direct.trace"))
	tr := parseTrace(text)
	for _, tc := range []struct {
		name string
		tr   trace
		th   traceThreads
	}{
		{"empty", trace{}, th},
		{"unknown server", tr, traceThreads{Client: th.Client, Server: []int{1}}},
		{"unknown client", tr, traceThreads{Client: 1, Server: th.Server}},
		{"client is the server", tr, traceThreads{Client: th.Server[0], Server: th.Server}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := analyseTrace(tc.tr, tc.th, "peer"); err == nil && runtime.GOARCH == "amd64" {
				t.Error("no error")
			}
		})
	}
}

func TestWriteProfiles(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the samples hold amd64 syscall numbers")
	}
	p := Profile{Transport: FIFO, Size: 4096, WindowMS: 30, Notes: []string{"direct: no peer process found"}}
	for _, side := range []struct {
		file, server string
		out          **Breakdown
	}{{"fifo-bridged.trace", "shadow", &p.Bridged}, {"fifo-direct.trace", "peer", &p.Direct}} {
		text, th := loadTrace(t, filepath.Join("testdata", side.file))
		bd, err := analyseTrace(parseTrace(text), th, side.server)
		if err != nil {
			t.Fatal(err)
		}
		*side.out = bd
	}
	var b strings.Builder
	if err := WriteProfiles(&b, []Profile{p}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"profile, bridged fifo 4K: 6 of 8 traced round trips in 30 ms had the shape ppoll → read → write",
		"hand-off 2 (read → write)",
		"profile, direct fifo 4K: 21 of 21",
		"gap 1 (read → write)",
		"CA and peer on one CPU in 100%",
		"note: profile fifo: direct: no peer process found",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// And in the report's JSON, as "profile".
	rep := Report{Profiles: []Profile{p}}
	j, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Profile []Profile `json:"profile"`
	}
	if err := json.Unmarshal(j, &back); err != nil || len(back.Profile) != 1 || !reflect.DeepEqual(back.Profile[0].Bridged.Shape, p.Bridged.Shape) {
		t.Errorf("JSON round trip: %v, %s", err, j)
	}
	var tb strings.Builder
	if err := rep.WriteTable(&tb); err != nil || !strings.Contains(tb.String(), "profile, bridged fifo 4K") {
		t.Errorf("WriteTable leaves the profile out: %v\n%s", err, tb.String())
	}
}

func TestStatPPID(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want int
		ok   bool
	}{
		{"123 (exe) S 45 123 45 0 -1", 45, true},
		{"123 (a) b) (c) R 7 1 1", 7, true},
		{"123 (exe", 0, false},
		{"123 (exe) S", 0, false},
		{"123 (exe) S x", 0, false},
	} {
		got, ok := statPPID(tc.stat)
		if got != tc.want || ok != tc.ok {
			t.Errorf("statPPID(%q) = %d, %v; want %d, %v", tc.stat, got, ok, tc.want, tc.ok)
		}
	}
}

func TestProcDiscovery(t *testing.T) {
	proc := t.TempDir()
	mk := func(pid, ppid int, args ...string) {
		d := filepath.Join(proc, strconv.Itoa(pid))
		for _, tid := range []int{pid, pid + 1} {
			if err := os.MkdirAll(filepath.Join(d, "task", strconv.Itoa(tid)), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(d, "stat"), fmt.Appendf(nil, "%d (x y) S %d 1 1", pid, ppid), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "cmdline"), []byte(strings.Join(args, "\x00")+"\x00"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk(100, 1, "tzbridge", "run")
	mk(200, 100, "/usr/bin/tzbridge", "shadow", "--ta", "echo")
	mk(300, 100, "/usr/bin/tzbridge", "secure-world", "--listen-fd", "3")
	mk(400, 1, "/usr/bin/tzbridge", "shadow") // someone else's
	if err := os.MkdirAll(filepath.Join(proc, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	sh, sw := bridgeThreads(proc, 100)
	if !reflect.DeepEqual(sh, []int{200, 201}) || !reflect.DeepEqual(sw, []int{300, 301}) {
		t.Errorf("shadow %v secure world %v", sh, sw)
	}
}

func TestOpenTracerRefuses(t *testing.T) {
	// A directory that is not tracefs, and one that does not exist.
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "nothing")} {
		tr, err := openTracer(dir)
		if err == nil {
			tr.close()
			t.Fatalf("openTracer(%s) succeeded", dir)
		}
		if !errors.Is(err, errNoTracefs) || !strings.Contains(err.Error(), "needs root and tracefs") {
			t.Errorf("error %q does not say what is needed", err)
		}
	}
}

// TestTracer uses the machine's tracefs. It is opt-in, since one user of
// tracefs at a time is the rule on a shared machine: set
// TZBRIDGE_TRACEFS_TEST=1 (and hold whatever lock the machine uses).
func TestTracer(t *testing.T) {
	if os.Getenv("TZBRIDGE_TRACEFS_TEST") == "" {
		t.Skip("set TZBRIDGE_TRACEFS_TEST=1 to use tracefs")
	}
	tr, err := openTracer(DefaultTracefs)
	if err != nil {
		t.Fatal(err)
	}
	dir := tr.dir
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	tid := unix.Gettid()
	text, err := tr.capture([]int{tid}, func() error {
		buf := make([]byte, 16)
		for range 10 {
			if err := writeAll(p[1], buf); err != nil {
				return err
			}
			if err := readFull(p[0], buf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := parseTrace(text)
	writes := 0
	for _, e := range got.events {
		if e.tid == tid && e.kind == evSysEnter && e.nr == unix.SYS_WRITE {
			writes++
		}
	}
	if writes < 10 {
		t.Errorf("%d writes traced, want at least 10", writes)
	}
	if err := tr.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("instance %s left behind: %v", dir, err)
	}
}

func FuzzParseTrace(f *testing.F) {
	for _, name := range []string{"fifo-bridged.trace", "fifo-direct.trace", "tcp-bridged.trace"} {
		text, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		// Small pieces, so that the fuzzer's mutations go somewhere.
		lines := strings.SplitAfter(string(text), "\n")
		f.Add([]byte(strings.Join(lines[:min(len(lines), 30)], "")))
	}
	f.Add([]byte("exe-1 [000] ..... 1.000001: sys_exit: NR 0 = 1\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		tr := parseTrace(text)
		if tr.skipped < 0 || tr.lost < 0 {
			t.Fatalf("negative counts %+v", tr)
		}
		// Take the threads from the trace itself, so that the analysis
		// gets past its first checks.
		th := traceThreads{Client: 3209, Server: []int{3229}, SecureWorld: []int{3219}}
		if len(tr.events) > 1 {
			th.Client, th.Server = tr.events[0].tid, []int{tr.events[1].tid}
		}
		if bd, err := analyseTrace(tr, th, "shadow"); err == nil {
			if bd.Matched == 0 || len(bd.Segments) == 0 {
				t.Fatalf("a breakdown of nothing: %+v", bd)
			}
			var b strings.Builder
			if err := WriteProfiles(&b, []Profile{{Transport: "x", Bridged: bd}}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestProfileSize(t *testing.T) {
	cells := []cell{{transport: FIFO, size: 64}, {transport: UDP, size: MaxUDP}}
	if got := profileSize(cells, UDP); got != MaxUDP {
		t.Errorf("udp: %d", got)
	}
	if got := profileSize(cells, TCP); got != 4096 {
		t.Errorf("tcp, no cell: %d", got)
	}
	if got := joinInts([]int{1, 22}); got != "1,22" {
		t.Errorf("joinInts: %q", got)
	}
}
