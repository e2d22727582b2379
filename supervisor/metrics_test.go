package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tzmediator/tzbridge/config"
	"github.com/tzmediator/tzbridge/internal/child"
	"github.com/tzmediator/tzbridge/internal/control"
	"github.com/tzmediator/tzbridge/internal/seqpacket"
	"github.com/tzmediator/tzbridge/shadow"
	"github.com/tzmediator/tzbridge/teeclient"
	"github.com/tzmediator/tzbridge/tzrpc"
)

// fakeTA drives a real shadow.Shadow with requests, as a TA would, and
// joins it to the supervisor's side by a real control socket, as
// shadowmain.Run does: what the supervisor reports goes the whole way.
type fakeTA struct {
	t   *testing.T
	s   *shadow.Shadow
	mb  []byte
	seq uint32
	p   *shadowProc // the supervisor's handle
}

func newFakeTA(t *testing.T, opts shadow.StatsOptions) *fakeTA {
	t.Helper()
	s, err := shadow.New(shadow.Config{Name: "echo", Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.SetStatsOptions(opts); err != nil {
		t.Fatal(err)
	}
	a, b, err := seqpacket.Pair()
	if err != nil {
		t.Fatal(err)
	}
	shadowEnd, supEnd := control.NewConn(a), control.NewConn(b)
	var current atomic.Pointer[shadow.Shadow]
	current.Store(s)
	go control.ServeShadow(shadowEnd, make([]byte, control.MaxMsg), &current)
	p := &shadowProc{Process: startChild(t, "sleep", "60"), ctl: supEnd}
	go p.serveControl(procOptions{log: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { shadowEnd.Close(); supEnd.Close() })
	return &fakeTA{t: t, s: s, mb: make([]byte, tzrpc.MinMailbox), p: p}
}

// startChild runs a program as a stand-in for a shadow process (the
// control socket is faked separately); the test kills it at the end.
func startChild(t *testing.T, name string, args ...string) *child.Process {
	t.Helper()
	p, err := child.Start(exec.Command(name, args...), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Cmd.Process.Kill()
		<-p.Done()
	})
	return p
}

// endedChild is a stand-in for a shadow process that has ended.
func endedChild(t *testing.T) *child.Process {
	t.Helper()
	p := startChild(t, "true")
	<-p.Done()
	return p
}

// call dispatches one request and returns its result.
func (a *fakeTA) call(op tzrpc.Op, payload string, args ...int64) (int64, tzrpc.Errno) {
	a.t.Helper()
	var arg [6]int64
	copy(arg[:], args)
	a.seq++
	copy(a.mb[tzrpc.HeaderSize:], payload)
	if err := tzrpc.EncodeRequestHeader(a.mb, op, a.seq, arg, len(payload)); err != nil {
		a.t.Fatal(err)
	}
	a.s.Dispatch(context.Background(), a.mb)
	r, err := tzrpc.DecodeResponse(a.mb)
	if err != nil {
		a.t.Fatal(err)
	}
	return r.Ret, r.Errno
}

// scrape fetches url and parses it with the Prometheus text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// value is the value of the series of family name with exactly labels
// (name=value pairs), and whether there is one. A histogram's value is
// its count.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsEndpoint: counters a shadow bumps reach /metrics over the
// control socket, added to those of the TA's earlier shadow processes,
// and move when the TA makes calls; status.json shows the same figures.
func TestMetricsEndpoint(t *testing.T) {
	ta := newFakeTA(t, shadow.StatsOptions{TimeCalls: true, Endpoints: []shadow.Endpoint{{Kind: shadow.KindFIFO, Name: "in"}}})
	// An earlier shadow process of the TA, killed by a TA panic.
	earlier := &shadowProc{Process: endedChild(t), stats: shadow.Stats{
		Calls: 3, BytesOut: 10, Errors: 1,
		Ops:       []shadow.OpStats{{Op: "WRITE", Calls: 2}, {Op: "CLOSE", Calls: 1, Errors: map[string]uint64{"EBADF": 1}}},
		Endpoints: []shadow.EndpointStats{{Endpoint: shadow.Endpoint{Kind: shadow.KindFIFO, Name: "in"}, BytesOut: 10}},
	}}
	r := &taRunner{
		cfg:   config.TA{Name: "echo", UUID: teeclient.UUID{1}, User: "root"},
		log:   slog.New(slog.DiscardHandler),
		state: "running", since: time.Now(), restarts: 1, current: ta.p, timeCalls: true,
	}
	dead := &teeclient.Error{Op: "InvokeCommand", Code: teeclient.ErrorTargetDead, Origin: teeclient.OriginTEE}
	r.totals.ended(earlier, control.OutcomeOf(fmt.Errorf("resume TA: %w", dead)).Err())
	r.totals.ended(earlier, nil) // reported twice, counted once

	m, err := startMetrics("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	m.add(r)
	url := "http://" + m.addr.String() + "/metrics"

	if _, e := ta.call(tzrpc.OpMkfifo, "in", 0o600); e != 0 {
		t.Fatal(e)
	}
	fd, e := ta.call(tzrpc.OpOpen, "in", tzrpc.O_RDWR|tzrpc.O_NONBLOCK)
	if e != 0 {
		t.Fatal(e)
	}
	ta.call(tzrpc.OpWrite, "hello", fd)
	ta.call(tzrpc.OpRead, "", fd, 100)
	if _, e := ta.call(tzrpc.OpRead, "", fd, 100); e != tzrpc.EAGAIN {
		t.Fatalf("read of an empty FIFO: %v, want EAGAIN", e)
	}

	fams := scrape(t, url)
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tzbridge_ta_state", []string{"ta", "echo", "state", "running"}, 1},
		{"tzbridge_ta_state", []string{"ta", "echo", "state", "failed"}, 0},
		{"tzbridge_ta_restarts_total", []string{"ta", "echo"}, 1},
		{"tzbridge_ta_open_descriptors", []string{"ta", "echo"}, 1},
		{"tzbridge_calls_total", []string{"ta", "echo", "op", "WRITE"}, 3},
		{"tzbridge_calls_total", []string{"ta", "echo", "op", "READ"}, 2},
		{"tzbridge_calls_total", []string{"ta", "echo", "op", "CLOSE"}, 1},
		{"tzbridge_call_errors_total", []string{"ta", "echo", "op", "READ", "errno", "EAGAIN"}, 1},
		{"tzbridge_call_errors_total", []string{"ta", "echo", "op", "CLOSE", "errno", "EBADF"}, 1},
		// This process's calls only: the earlier one was not timed.
		{"tzbridge_call_duration_seconds", []string{"ta", "echo", "op", "READ"}, 2},
		{"tzbridge_endpoint_in_bytes_total", []string{"ta", "echo", "kind", "fifo", "endpoint", "in"}, 5},
		{"tzbridge_endpoint_out_bytes_total", []string{"ta", "echo", "kind", "fifo", "endpoint", "in"}, 15},
		{"tzbridge_tee_errors_total", []string{"ta", "echo", "code", "TEEC_ERROR_TARGET_DEAD"}, 1},
	}
	for _, tt := range tests {
		if got, ok := value(fams, tt.name, tt.labels...); !ok || got != tt.want {
			t.Errorf("%s%v = %v (found %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}

	// The figures move with the TA's calls.
	for range 3 {
		ta.call(tzrpc.OpWrite, "0123456789", fd)
	}
	ta.call(tzrpc.OpClose, "", fd)
	fams = scrape(t, url)
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tzbridge_calls_total", []string{"ta", "echo", "op", "WRITE"}, 6},
		{"tzbridge_endpoint_out_bytes_total", []string{"ta", "echo", "kind", "fifo", "endpoint", "in"}, 45},
		{"tzbridge_ta_open_descriptors", []string{"ta", "echo"}, 0},
		{"tzbridge_call_duration_seconds", []string{"ta", "echo", "op", "WRITE"}, 4},
	} {
		if got, ok := value(fams, tt.name, tt.labels...); !ok || got != tt.want {
			t.Errorf("after more calls: %s%v = %v (found %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}

	// status.json says the same.
	var st TAStatus
	if err := json.Unmarshal(r.statusJSON(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Calls != 3+9 || st.BytesOut != 45 || st.BytesIn != 5 || st.Errors != 2 || st.PID != ta.p.Pid() || st.TEEErrors["TEEC_ERROR_TARGET_DEAD"] != 1 {
		t.Errorf("status.json totals: %+v", st)
	}
	var sum uint64
	for _, o := range st.Ops {
		sum += o.Calls
	}
	if sum != st.Calls {
		t.Errorf("ops add up to %d calls, the total is %d", sum, st.Calls)
	}
	// EAGAIN is a normal result, EBADF a failure.
	if st.Failures != 1 {
		t.Errorf("status.json: %d failures of %d errors, want 1 (EBADF)", st.Failures, st.Errors)
	}
	if text := string(r.status()); !strings.Contains(text, "calls: 12\n") || !strings.Contains(text, "bytes_out: 45\n") || !strings.Contains(text, "failures: 1\n") {
		t.Errorf("text status:\n%s", text)
	}
}

// TestMetricsLint: the metrics follow Prometheus' naming conventions.
func TestMetricsLint(t *testing.T) {
	ta := newFakeTA(t, shadow.StatsOptions{TimeCalls: true})
	ta.call(tzrpc.OpClose, "", 99)
	c := &taCollector{tas: map[string]*taRunner{}}
	c.add(&taRunner{cfg: config.TA{Name: "echo"}, state: "running", current: ta.p, timeCalls: true})
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	if n := testutil.CollectAndCount(c, "tzbridge_calls_total"); n != 1 {
		t.Errorf("%d tzbridge_calls_total series, want 1", n)
	}
	c.remove("echo")
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Errorf("%d series after the TA was removed", n)
	}
}

func TestStartMetrics(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	m, err := startMetrics("", log)
	if err != nil || m != nil {
		t.Fatalf("no address: %v, %v; want nothing served", m, err)
	}
	m.add(&taRunner{}) // a nil server takes TAs and ignores them
	m.remove("x")
	m.close()

	m, err = startMetrics("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	if _, err := startMetrics(m.addr.String(), log); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("second endpoint on %s: %v, want address already in use", m.addr, err)
	}
	resp, err := http.Get("http://" + m.addr.String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /: %s, want 404", resp.Status)
	}
}

// TestTotals: a TA's counters add up across its shadow processes, each
// counted once however often it is looked at.
func TestTotals(t *testing.T) {
	// Ended processes: their Stats are the last counters they reported.
	proc := func(calls uint64) *shadowProc {
		return &shadowProc{Process: endedChild(t), stats: shadow.Stats{Calls: calls, OpenDescriptors: 3}}
	}
	var tot taTotals
	first, second := proc(5), proc(7)
	tot.ended(first, nil)
	tot.ended(first, nil)
	if st, _ := tot.with(nil); st.Calls != 5 || st.OpenDescriptors != 0 {
		t.Errorf("after one process: %d calls, %d descriptors; want 5, 0", st.Calls, st.OpenDescriptors)
	}
	// The current process, still running or just ended, counts once.
	if st, _ := tot.with(second); st.Calls != 12 {
		t.Errorf("with the current process: %d calls, want 12", st.Calls)
	}
	tot.ended(second, &control.ShadowError{Msg: "x", Code: teeclient.ErrorCommunication})
	st, tee := tot.with(second)
	if st.Calls != 12 || tee["TEEC_ERROR_COMMUNICATION"] != 1 || len(tee) != 1 {
		t.Errorf("after it ended: %d calls, TEE errors %v; want 12, one TEEC_ERROR_COMMUNICATION", st.Calls, tee)
	}
}

// TestTotalsTEECodesBounded: a TA chooses the result code its entry
// point fails with; one that fails with a new code in every restart
// must not grow the code labels without limit.
func TestTotalsTEECodesBounded(t *testing.T) {
	var tot taTotals
	for i := range 100 {
		p := &shadowProc{Process: endedChild(t)}
		tot.ended(p, &control.ShadowError{Msg: "x", Code: teeclient.Result(0x1000 + i)})
	}
	_, tee := tot.with(nil)
	if len(tee) > maxTEEErrorCodes+1 {
		t.Errorf("%d TEE error codes after 100 distinct ones, want at most %d", len(tee), maxTEEErrorCodes+1)
	}
	var n uint64
	for _, c := range tee {
		n += c
	}
	if n != 100 {
		t.Errorf("%d TEE errors counted, want 100", n)
	}
}

// TestCollectBadLabel: a label value that is not UTF-8 costs its series,
// not the scrape or the supervisor.
func TestCollectBadLabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectorFunc(func(ch chan<- prometheus.Metric) {
		collectTA(ch, &TAStatus{Name: "echo", State: "running", Endpoints: []EndpointStatus{
			{Kind: "fifo", Name: "caf\xe9", BytesIn: 1}, {Kind: "fifo", Name: "in", BytesIn: 2},
		}})
	}))
	fams, err := reg.Gather()
	if err == nil {
		t.Error("no error for a label that is not UTF-8")
	}
	got := 0
	for _, f := range fams {
		if f.GetName() == "tzbridge_endpoint_in_bytes_total" {
			got = len(f.GetMetric())
		}
	}
	if got != 1 {
		t.Errorf("%d tzbridge_endpoint_in_bytes_total series, want the valid one", got)
	}
}

// collectorFunc is an unchecked collector (it describes nothing).
type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(chan<- *prometheus.Desc)    {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

func TestResultErrno(t *testing.T) {
	for _, tt := range []struct {
		errno  string
		result bool
	}{
		{"EAGAIN", true}, {"EINPROGRESS", true}, {"EINTR", true},
		{"EEXIST", true}, {"ENOENT", true}, {"ENXIO", true},
		{"EBADF", false}, {"EFAULT", false}, {"EINVAL", false}, {"EMFILE", false},
		{"EACCES", false}, {"EPIPE", false}, {"ECONNRESET", false}, {"EIO", false},
		{"UNKNOWN", false},
	} {
		if got := resultErrno(tt.errno); got != tt.result {
			t.Errorf("resultErrno(%s) = %v, want %v", tt.errno, got, tt.result)
		}
	}
}
