package shadow

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/tzmediator/tzbridge/tzrpc"
)

// opStats finds op in st.
func opStats(st Stats, op string) OpStats {
	for _, o := range st.Ops {
		if o.Op == op {
			return o
		}
	}
	return OpStats{}
}

// endpointBytes returns every endpoint's [in, out] bytes by "kind name".
func endpointBytes(st Stats) map[string][2]uint64 {
	m := map[string][2]uint64{}
	for _, e := range st.Endpoints {
		m[e.Kind+" "+e.Name] = [2]uint64{e.BytesIn, e.BytesOut}
	}
	return m
}

// checkTotals checks that the detail adds up to the totals, which are
// counted elsewhere (dispatch, files, sockets).
func checkTotals(t *testing.T, st Stats) {
	t.Helper()
	var calls, errs, in, out uint64
	for _, o := range st.Ops {
		calls += o.Calls
		for _, n := range o.Errors {
			errs += n
		}
	}
	for _, e := range st.Endpoints {
		in += e.BytesIn
		out += e.BytesOut
	}
	if calls != st.Calls || errs != st.Errors || in != st.BytesIn || out != st.BytesOut {
		t.Errorf("detail adds up to calls %d, errors %d, in %d, out %d; totals are %d, %d, %d, %d",
			calls, errs, in, out, st.Calls, st.Errors, st.BytesIn, st.BytesOut)
	}
}

func TestStatsOpsAndErrnos(t *testing.T) {
	a := newTA(t, options{})
	a.ok(OpMkfifo, args(0o600), []byte("p"))
	a.fails(EEXIST, OpMkfifo, args(0o600), []byte("p"))
	fd := a.ok(OpOpen, args(O_RDWR|O_NONBLOCK), []byte("p"))
	a.fails(EAGAIN, OpRead, args(fd, 10), nil)
	a.fails(EAGAIN, OpRead, args(fd, 10), nil)
	a.fails(EBADF, OpRead, args(99, 10), nil)
	a.ok(OpWrite, args(fd), []byte("hello"))
	a.ok(OpRead, args(fd, 10), nil)
	// Refused before it is performed: still counted, by op and errno.
	a.fails(EINVAL, OpFcntl, args(fd, 12345), nil)
	// An op this protocol does not define (the op field is at offset 6,
	// docs/protocol.md §2).
	if err := EncodeRequestHeader(a.mb, OpFcntl, 1, args(), 0); err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint16(a.mb[6:], 999)
	a.s.Dispatch(a.ctx, a.mb)

	st := a.s.Stats()
	checkTotals(t, st)
	tests := []struct {
		op     string
		calls  uint64
		errors map[string]uint64
	}{
		{"MKFIFO", 2, map[string]uint64{"EEXIST": 1}},
		{"OPEN", 1, nil},
		{"READ", 4, map[string]uint64{"EAGAIN": 2, "EBADF": 1}},
		{"WRITE", 1, nil},
		{"FCNTL", 1, map[string]uint64{"EINVAL": 1}},
		{"UNKNOWN", 1, map[string]uint64{"ENOSYS": 1}},
	}
	for _, tt := range tests {
		o := opStats(st, tt.op)
		if o.Calls != tt.calls || !reflect.DeepEqual(o.Errors, tt.errors) {
			t.Errorf("%s: %d calls, errors %v; want %d, %v", tt.op, o.Calls, o.Errors, tt.calls, tt.errors)
		}
		if o.Latency != nil {
			t.Errorf("%s: latency %v without TimeCalls", tt.op, o.Latency)
		}
	}
	if len(st.Ops) != len(tests) {
		t.Errorf("ops %+v, want only %d", st.Ops, len(tests))
	}
}

func TestStatsEveryOpHasASlot(t *testing.T) {
	for op := OpExit; op.Valid(); op++ {
		if opSlot(op) != int(op) {
			t.Errorf("%v has no slot of its own (opSlots %d)", op, opSlots)
		}
	}
	if opSlot(0) != 0 || opSlot(Op(opSlots)) != 0 {
		t.Error("an invalid op has a slot of its own")
	}
}

// TestStatsEndpoints: bytes count under the name the TA gave each
// endpoint; accepted connections under their listener; unnamed sockets
// and directories under their kind.
func TestStatsEndpoints(t *testing.T) {
	a := newTA(t, options{})
	err := a.s.SetStatsOptions(StatsOptions{Endpoints: []Endpoint{
		{KindFIFO, "/p"}, {KindUnix, "idle.sock"}, {KindTCP, "tcp://127.0.0.1:1"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// A FIFO by three spellings of one name.
	a.ok(OpMkfifo, args(0o600), []byte("p"))
	w := a.ok(OpOpen, args(O_RDWR), []byte("./p"))
	r := a.ok(OpOpen, args(O_RDONLY|O_NONBLOCK), []byte("/p"))
	a.ok(OpWrite, args(w), []byte("12345"))
	a.ok(OpRead, args(r, 2), nil)
	a.ok(OpRead, args(r, 3), nil)
	// A directory takes no name.
	a.ok(OpMkdir, args(0o700), []byte("d"))
	a.ok(OpOpen, args(O_RDONLY), []byte("d"))

	// A UNIX listener and a connection it accepted.
	l := a.ok(OpSocket, args(AF_UNIX, SOCK_STREAM), nil)
	a.ok(OpBind, args(l), unixAddr(t, "/d/../s.sock"))
	a.ok(OpListen, args(l, 4), nil)
	ca, err := net.Dial("unix", a.path("s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	c := a.ok(OpAccept, args(l), nil)
	ca.Write([]byte("ping"))
	a.ok(OpRecv, args(c, 4, MSG_WAITALL), nil)
	a.ok(OpSend, args(c, MSG_NOSIGNAL), []byte("pong!"))
	io.ReadFull(ca, make([]byte, 5))

	// A TA client of its own listener: named by the path it connected to.
	cl := a.ok(OpSocket, args(AF_UNIX, SOCK_STREAM), nil)
	a.ok(OpConnect, args(cl), unixAddr(t, "s.sock"))
	a.ok(OpSend, args(cl, MSG_NOSIGNAL), []byte("x"))

	// UDP: bound to port 0 it stays unnamed; connected, it is named by
	// its peer.
	u := a.ok(OpSocket, args(AF_INET, SOCK_DGRAM), nil)
	a.ok(OpBind, args(u), inetAddr(t, "127.0.0.1:0"))
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	to := inetAddr(t, peer.LocalAddr().String())
	a.ok(OpSendto, args(u, 0, int64(len(to))), append(to, "abc"...))
	uc := a.ok(OpSocket, args(AF_INET, SOCK_DGRAM), nil)
	a.ok(OpConnect, args(uc), inetAddr(t, peer.LocalAddr().String()))
	a.ok(OpSend, args(uc, 0), []byte("abcd"))

	st := a.s.Stats()
	checkTotals(t, st)
	want := map[string][2]uint64{
		"fifo p":                                 {5, 5},
		"unix idle.sock":                         {0, 0}, // declared, unused
		"tcp tcp://127.0.0.1:1":                  {0, 0},
		"unix s.sock":                            {4, 6},
		"udp ":                                   {0, 3},
		"udp udp://" + peer.LocalAddr().String(): {0, 4},
	}
	if got := endpointBytes(st); !reflect.DeepEqual(got, want) {
		t.Errorf("endpoints %v\nwant %v", got, want)
	}
}

// TestStatsEndpointLimit: names beyond MaxEndpoints, or longer than
// MaxEndpointName, count under their kind, so a TA cannot grow the
// counters.
func TestStatsEndpointLimit(t *testing.T) {
	a := newTA(t, options{maxFDs: 4})
	for i := range MaxEndpoints + 3 {
		name := fmt.Sprintf("f%d", i)
		a.ok(OpMkfifo, args(0o600), []byte(name))
		fd := a.ok(OpOpen, args(O_RDWR), []byte(name))
		a.ok(OpWrite, args(fd), []byte("x"))
		a.ok(OpClose, args(fd), nil)
	}
	// A name too long to be one.
	dir := strings.Repeat("d", MaxEndpointName/2)
	long := dir + "/" + strings.Repeat("x", MaxEndpointName/2)
	a.ok(OpMkdir, args(0o700), []byte(dir))
	a.ok(OpMkfifo, args(0o600), []byte(long))
	fd := a.ok(OpOpen, args(O_RDWR), []byte(long))
	a.ok(OpWrite, args(fd), []byte("x"))
	a.ok(OpClose, args(fd), nil)
	got := endpointBytes(a.s.Stats())
	if len(got) != MaxEndpoints+1 || got["fifo "] != [2]uint64{0, 4} || got["fifo f0"] != [2]uint64{0, 1} {
		t.Errorf("%d endpoints, unnamed %v, f0 %v; want %d, [0 4], [0 1]", len(got), got["fifo "], got["fifo f0"], MaxEndpoints+1)
	}
}

// TestStatsEndpointNotUTF8: a path that is not UTF-8 is counted under a
// name that is, as JSON and metric labels require.
func TestStatsEndpointNotUTF8(t *testing.T) {
	a := newTA(t, options{})
	name := []byte("caf\xe9")
	a.ok(OpMkfifo, args(0o600), name)
	fd := a.ok(OpOpen, args(O_RDWR), name)
	a.ok(OpWrite, args(fd), []byte("x"))
	if got := endpointBytes(a.s.Stats()); got["fifo caf\uFFFD"] != [2]uint64{0, 1} {
		t.Errorf("endpoints %v, want caf\uFFFD", got)
	}
}

func TestStatsOptionsErrors(t *testing.T) {
	tests := []struct {
		name string
		ep   Endpoint
		ok   bool
	}{
		{"fifo", Endpoint{KindFIFO, "in"}, true},
		{"unix in a subdirectory", Endpoint{KindUnix, "/run/x.sock"}, true},
		{"tcp", Endpoint{KindTCP, "tcp://127.0.0.1:7000"}, true},
		{"udp v6", Endpoint{KindUDP, "udp://[::1]:7001"}, true},
		{"unknown kind", Endpoint{"sctp", "x"}, false},
		{"fifo without a path", Endpoint{KindFIFO, ""}, false},
		{"tcp without a scheme", Endpoint{KindTCP, "127.0.0.1:7000"}, false},
		{"udp named tcp", Endpoint{KindUDP, "tcp://127.0.0.1:7000"}, false},
		{"port 0", Endpoint{KindTCP, "tcp://127.0.0.1:0"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTA(t, options{})
			err := a.s.SetStatsOptions(StatsOptions{Endpoints: []Endpoint{tt.ep}})
			if (err == nil) != tt.ok {
				t.Errorf("SetStatsOptions(%v): %v, want ok %v", tt.ep, err, tt.ok)
			}
		})
	}
}

func TestStatsCanonicalNames(t *testing.T) {
	tests := []struct {
		kind       int
		name, want string
	}{
		{kindFIFO, "in", "in"},
		{kindFIFO, "/in", "in"},
		{kindFIFO, "./sub/../in", "in"},
		{kindUnix, "/", "."},
		{kindTCP, "tcp://127.0.0.1:7000", "tcp://127.0.0.1:7000"},
		{kindTCP, "tcp://[::ffff:127.0.0.1]:7000", "tcp://127.0.0.1:7000"},
		{kindUDP, "udp://[::1]:7001", "udp://[::1]:7001"},
	}
	for _, tt := range tests {
		if got, err := canonicalName(tt.kind, tt.name); err != nil || got != tt.want {
			t.Errorf("canonicalName(%s, %q) = %q, %v; want %q", kinds[tt.kind], tt.name, got, err, tt.want)
		}
	}
}

func TestLatencyBucket(t *testing.T) {
	bounds := LatencyBounds()
	for i := 1; i < len(bounds); i++ {
		if bounds[i] <= bounds[i-1] {
			t.Fatalf("bounds not increasing at %d: %v", i, bounds)
		}
	}
	tests := []struct {
		d    time.Duration
		want int
	}{
		{0, 0},
		{time.Microsecond, 0},
		{time.Microsecond + 1, 1},
		{10 * time.Millisecond, 12},
		{10 * time.Second, len(bounds) - 1},
		{10*time.Second + 1, len(bounds)},
		{time.Hour, len(bounds)},
	}
	for _, tt := range tests {
		if got := latencyBucket(tt.d); got != tt.want {
			t.Errorf("latencyBucket(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
	bounds[0] = time.Hour
	if LatencyBounds()[0] == time.Hour {
		t.Error("LatencyBounds hands out its own array")
	}
}

// TestStatsLatency: with TimeCalls, every performed call lands in one
// bucket of its op, and a call that waits lands in a bucket of its wait.
func TestStatsLatency(t *testing.T) {
	a := newTA(t, options{})
	if err := a.s.SetStatsOptions(StatsOptions{TimeCalls: true}); err != nil {
		t.Fatal(err)
	}
	s := a.ok(OpSocket, args(AF_INET, SOCK_DGRAM), nil)
	a.ok(OpBind, args(s), inetAddr(t, "127.0.0.1:0"))
	const wait = 30 * time.Millisecond
	for range 3 {
		// POLL with nothing to wait for but its timeout.
		a.ok(OpPoll, args(0, int64(wait/time.Millisecond)), nil)
	}
	a.fails(EBADF, OpClose, args(99), nil)
	a.fails(EINVAL, OpFcntl, args(s, 12345), nil) // refused before it is performed

	st := a.s.Stats()
	bounds := LatencyBounds()
	for _, o := range st.Ops {
		var n uint64
		for _, c := range o.Latency {
			n += c
		}
		performed := o.Calls
		if o.Op == "FCNTL" {
			performed = 0
		}
		if len(o.Latency) != len(bounds)+1 || n != performed {
			t.Errorf("%s: %d calls in %d buckets, want %d in %d", o.Op, n, len(o.Latency), performed, len(bounds)+1)
		}
	}
	poll := opStats(st, "POLL")
	for i, c := range poll.Latency {
		if c != 0 && (i == len(bounds) || bounds[i] < wait) {
			t.Errorf("POLL of %v in bucket %d (%v)", wait, i, poll.Latency)
		}
	}
	if poll.LatencySum < 3*wait {
		t.Errorf("POLL latency sum %v, want at least %v", poll.LatencySum, 3*wait)
	}
}

func TestStatsAdd(t *testing.T) {
	a := Stats{
		OpenDescriptors: 0, Calls: 10, BytesIn: 5, BytesOut: 6, Errors: 2,
		Ops: []OpStats{
			{Op: "READ", Calls: 7, Errors: map[string]uint64{"EAGAIN": 2}, Latency: []uint64{1, 6}, LatencySum: 10},
			{Op: "EXIT", Calls: 3},
		},
		Endpoints: []EndpointStats{{Endpoint{KindFIFO, "in"}, 5, 0}, {Endpoint{KindTCP, ""}, 0, 6}},
	}
	b := Stats{
		OpenDescriptors: 4, Calls: 3, BytesIn: 1, BytesOut: 1, Errors: 1,
		Ops: []OpStats{
			{Op: "WRITE", Calls: 1},
			{Op: "READ", Calls: 2, Errors: map[string]uint64{"EAGAIN": 1, "EINTR": 1}, Latency: []uint64{2, 0}, LatencySum: 4},
		},
		Endpoints: []EndpointStats{{Endpoint{KindFIFO, "in"}, 1, 0}, {Endpoint{KindUDP, ""}, 0, 1}},
	}
	want := Stats{
		OpenDescriptors: 4, Calls: 13, BytesIn: 6, BytesOut: 7, Errors: 3,
		Ops: []OpStats{
			{Op: "READ", Calls: 9, Errors: map[string]uint64{"EAGAIN": 3, "EINTR": 1}, Latency: []uint64{3, 6}, LatencySum: 14},
			{Op: "EXIT", Calls: 3},
			{Op: "WRITE", Calls: 1},
		},
		Endpoints: []EndpointStats{{Endpoint{KindFIFO, "in"}, 6, 0}, {Endpoint{KindTCP, ""}, 0, 6}, {Endpoint{KindUDP, ""}, 0, 1}},
	}
	if got := a.Add(b); !reflect.DeepEqual(got, want) {
		t.Errorf("Add:\n got %+v\nwant %+v", got, want)
	}
	// The operands are not changed.
	if a.Ops[0].Calls != 7 || a.Ops[0].Errors["EAGAIN"] != 2 || a.Ops[0].Latency[0] != 1 {
		t.Errorf("Add changed its receiver: %+v", a.Ops[0])
	}
	if got := (Stats{}).Add(a); !reflect.DeepEqual(got, a) {
		t.Errorf("zero.Add(a):\n got %+v\nwant %+v", got, a)
	}
}

// TestStatsAddEndpointLimit: totals summed over restarts name no more
// endpoints than one shadow does; a TA naming new endpoints in every
// restart adds to its kind's unnamed endpoint instead.
func TestStatsAddEndpointLimit(t *testing.T) {
	var total Stats
	for restart := range 10 {
		var st Stats
		st.Endpoints = append(st.Endpoints, EndpointStats{Endpoint{KindFIFO, "in"}, 1, 0})
		for i := range MaxEndpoints - 1 {
			st.Endpoints = append(st.Endpoints, EndpointStats{Endpoint{KindUnix, fmt.Sprintf("r%d-%d", restart, i)}, 1, 0})
		}
		total = total.Add(st)
	}
	named, unnamedUnix := 0, uint64(0)
	var in uint64
	for _, e := range total.Endpoints {
		in += e.BytesIn
		if e.Name != "" {
			named++
		} else if e.Kind == KindUnix {
			unnamedUnix = e.BytesIn
		}
	}
	if named > MaxEndpoints {
		t.Errorf("%d named endpoints after 10 restarts, want at most %d", named, MaxEndpoints)
	}
	if in != 10*MaxEndpoints {
		t.Errorf("bytes in %d, want %d: bytes lost", in, 10*MaxEndpoints)
	}
	if unnamedUnix != 9*(MaxEndpoints-1) {
		t.Errorf("unnamed unix bytes %d, want %d", unnamedUnix, 9*(MaxEndpoints-1))
	}
}

// TestStatsNoAllocation: counting costs a call no allocation, timed or
// not.
func TestStatsNoAllocation(t *testing.T) {
	for _, timed := range []bool{false, true} {
		a := newTA(t, options{})
		if err := a.s.SetStatsOptions(StatsOptions{TimeCalls: timed}); err != nil {
			t.Fatal(err)
		}
		a.ok(OpMkfifo, args(0o600), []byte("p"))
		fd := a.ok(OpOpen, args(O_RDWR|O_NONBLOCK), []byte("p"))
		calls := []struct {
			op  Op
			arg [6]int64
			p   []byte
		}{
			{OpFcntl, args(fd, F_GETFL), nil},
			{OpWrite, args(fd), []byte("data")},
			{OpRead, args(fd, 4), nil},
			{OpRead, args(fd, 4), nil}, // EAGAIN
		}
		for _, c := range calls {
			copy(a.mb[HeaderSize:], c.p)
			if err := EncodeRequestHeader(a.mb, c.op, 1, c.arg, len(c.p)); err != nil {
				t.Fatal(err)
			}
			hdr := [HeaderSize]byte(a.mb)
			n := testing.AllocsPerRun(100, func() {
				copy(a.mb, hdr[:])
				a.s.Dispatch(a.ctx, a.mb)
			})
			if n != 0 {
				t.Errorf("timed %v: %v allocates %v times per call", timed, c.op, n)
			}
		}
	}
}

// TestStatsWhileDispatching: Stats may be read while calls are counted
// (the race detector checks the rest).
func TestStatsWhileDispatching(t *testing.T) {
	a := newTA(t, options{})
	if err := a.s.SetStatsOptions(StatsOptions{TimeCalls: true}); err != nil {
		t.Fatal(err)
	}
	a.ok(OpMkfifo, args(0o600), []byte("p"))
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				checkSane(t, a.s.Stats())
			}
		}
	})
	for i := range 200 {
		name := fmt.Sprintf("f%d", i%80) // past MaxEndpoints: slots are added meanwhile
		a.try(a.ctx, OpMkfifo, args(0o600), []byte(name))
		fd := a.ok(OpOpen, args(O_RDWR), []byte(name))
		a.ok(OpWrite, args(fd), []byte("x"))
		a.ok(OpRead, args(fd, 1), nil)
		a.ok(OpClose, args(fd), nil)
	}
	close(done)
	wg.Wait()
	st := a.s.Stats()
	checkTotals(t, st)
	if o := opStats(st, "WRITE"); o.Calls != 200 {
		t.Errorf("WRITE calls %d, want 200", o.Calls)
	}
}

// checkSane checks a snapshot taken while slots are being published: no
// endpoint shows up half made.
func checkSane(t *testing.T, st Stats) {
	for _, e := range st.Endpoints {
		if e.Kind != KindFIFO || (e.Name == "" && e.BytesIn == 0 && e.BytesOut == 0) {
			t.Errorf("endpoint %+v of a kind never used", e)
		}
	}
}

// BenchmarkDispatchNullTimed is BenchmarkDispatchNull with calls timed
// for the latency histogram, as when metrics are served: the difference
// is the price of two clock reads.
func BenchmarkDispatchNullTimed(b *testing.B) {
	a := newTA(b, options{})
	if err := a.s.SetStatsOptions(StatsOptions{TimeCalls: true}); err != nil {
		b.Fatal(err)
	}
	a.ok(OpMkfifo, args(0o600), []byte("p"))
	fd := a.ok(OpOpen, args(O_RDWR|O_NONBLOCK), []byte("p"))
	hdr := benchRequest(b, a, OpFcntl, args(fd, F_GETFL), nil)
	b.ReportAllocs()
	for b.Loop() {
		copy(a.mb, hdr[:])
		a.s.Dispatch(a.ctx, a.mb)
	}
	checkLast(b, a, O_RDWR|O_NONBLOCK)
}

// TestStatsCheck: a shadow's own counters pass; names and shapes a shadow
// never sends do not.
func TestStatsCheck(t *testing.T) {
	a := newTA(t, options{})
	a.ok(OpMkfifo, args(0o600), []byte("in"))
	a.fails(EBADF, OpClose, args(77), nil)
	good := a.s.Stats()
	if err := good.Check(); err != nil {
		t.Fatalf("a shadow's own counters: %v", err)
	}
	tests := []struct {
		name string
		mut  func(st *Stats)
	}{
		{"negative descriptors", func(st *Stats) { st.OpenDescriptors = -1 }},
		{"unknown op", func(st *Stats) { st.Ops = append(st.Ops, OpStats{Op: "READ\" } evil"}) }},
		{"repeated op", func(st *Stats) { st.Ops = append(st.Ops, st.Ops[0]) }},
		{"unknown errno", func(st *Stats) { st.Ops[0].Errors = map[string]uint64{"EWHATEVER": 1} }},
		{"latency buckets", func(st *Stats) { st.Ops[0].Latency = make([]uint64, 3) }},
		{"latency buckets overflow", func(st *Stats) {
			st.Ops[0].Latency = make([]uint64, len(latencyBounds)+1)
			st.Ops[0].Latency[0], st.Ops[0].Latency[1] = math.MaxUint64, 1
		}},
		{"negative latency sum", func(st *Stats) { st.Ops[0].LatencySum = -1 }},
		{"undefined op", func(st *Stats) { st.Ops[0].Op = "Op(99)" }},
		{"errno out of range", func(st *Stats) { st.Ops[0].Errors = map[string]uint64{"errno(134)": 1} }},
		{"repeated endpoint", func(st *Stats) {
			e := EndpointStats{Endpoint: Endpoint{Kind: KindFIFO, Name: "in"}}
			st.Endpoints = append(st.Endpoints, e, e)
		}},
		{"name with a newline", func(st *Stats) { st.Ops[0].Errors = map[string]uint64{"EIO\nEVIL": 1} }},
		{"unknown kind", func(st *Stats) { st.Endpoints = append(st.Endpoints, EndpointStats{Endpoint: Endpoint{Kind: "sctp"}}) }},
		{"long name", func(st *Stats) {
			st.Endpoints = append(st.Endpoints, EndpointStats{Endpoint: Endpoint{Kind: KindFIFO, Name: strings.Repeat("x", MaxEndpointName+1)}})
		}},
		{"too many endpoints", func(st *Stats) {
			for i := range MaxEndpoints + numKinds + 1 {
				st.Endpoints = append(st.Endpoints, EndpointStats{Endpoint: Endpoint{Kind: KindTCP, Name: fmt.Sprint(i)}})
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := a.s.Stats()
			tt.mut(&st)
			if err := st.Check(); err == nil {
				t.Error("Check passed")
			} else {
				t.Log(err)
			}
		})
	}
}

// TestStatsCallBeforeBytes checks the order in which a call's counters
// become visible: a snapshot that shows a call's bytes or errno also
// counts the call, so a monitor that waits for bytes may then rely on
// the calls that moved them (test/metrics_test.go does).
func TestStatsCallBeforeBytes(t *testing.T) {
	a := newTA(t, options{})
	a.ok(OpMkfifo, args(0o600), []byte("p"))
	fd := a.ok(OpOpen, args(O_RDWR|O_NONBLOCK), []byte("p"))
	const size = 100
	msg := []byte(strings.Repeat("x", size))

	stop := make(chan struct{})
	bad := make(chan string, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			st := a.s.Stats()
			w, r := opStats(st, "WRITE"), opStats(st, "READ")
			var errs uint64
			for _, n := range r.Errors {
				errs += n
			}
			if st.BytesOut > size*w.Calls || st.BytesIn > size*r.Calls || errs > r.Calls {
				select {
				case bad <- fmt.Sprintf("%d bytes out by %d WRITEs, %d bytes in by %d READs with %d errors",
					st.BytesOut, w.Calls, st.BytesIn, r.Calls, errs):
				default:
				}
				return
			}
		}
	}()
	for range 20000 {
		a.ok(OpWrite, args(fd), msg)
		a.ok(OpRead, args(fd, size), nil)
		a.fails(EAGAIN, OpRead, args(fd, size), nil)
	}
	close(stop)
	wg.Wait()
	select {
	case b := <-bad:
		t.Fatalf("a snapshot showed %s", b)
	default:
	}
}
