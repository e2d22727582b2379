package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/tzmediator/tzbridge/internal/echotest"
)

// withMetrics adds a Prometheus endpoint at a free port to a
// configuration and returns it with the endpoint's URL.
func withMetrics(t *testing.T, configYAML string) (string, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "metrics: " + addr + "\n" + configYAML, "http://" + addr + "/metrics"
}

// metrics is one scrape, parsed with the Prometheus text parser.
type metrics map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, url string) metrics {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET %s: Content-Type %q, want the text format", url, ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// get is the value of the series of name whose labels include labels
// (name, value pairs); a histogram's is its count. Missing is 0.
func (m metrics) get(name string, labels ...string) float64 {
	v, _ := m.find(name, labels...)
	return v
}

func (m metrics) find(name string, labels ...string) (float64, bool) {
	f := m[name]
	if f == nil {
		return 0, false
	}
series:
	for _, s := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range s.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if v, ok := have[labels[i]]; !ok || v != labels[i+1] {
				continue series
			}
		}
		switch {
		case s.Counter != nil:
			return s.GetCounter().GetValue(), true
		case s.Gauge != nil:
			return s.GetGauge().GetValue(), true
		case s.Histogram != nil:
			return float64(s.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// sum adds up every series of name whose labels include labels.
func (m metrics) sum(name string, labels ...string) float64 {
	total := 0.0
	f := m[name]
	if f == nil {
		return 0
	}
	for _, s := range f.GetMetric() {
		mm := metrics{name: &dto.MetricFamily{Metric: []*dto.Metric{s}}}
		if v, ok := mm.find(name, labels...); ok {
			total += v
		}
	}
	return total
}

// TestMetricsEcho: with metrics: set, CAs talking to the echo TA over
// every transport move the TA's figures on /metrics, by endpoint and by
// op, and `tzbridge status --json` shows the same figures.
func TestMetricsEcho(t *testing.T) {
	cfg, url := withMetrics(t, echoConfig("%[1]s"))
	b := startBridge(t, cfg, echoReady)
	before := scrapeMetrics(t, url)
	if before.get("tzbridge_ta_state", "ta", "echo", "state", "running") != 1 {
		t.Errorf("echo not running by tzbridge_ta_state")
	}

	const n = 64 << 10
	if err := echotest.StreamEcho("tcp", "127.0.0.1:7000", echotest.Payload(n)); err != nil {
		t.Fatal(err)
	}
	if err := echotest.StreamEcho("unix", b.path("echo", "echo.sock"), echotest.Payload(n)); err != nil {
		t.Fatal(err)
	}
	if err := udpEcho(echotest.Payload(1000)); err != nil {
		t.Fatal(err)
	}
	if err := cFIFOEcho(b.path("echo", "in"), b.path("echo", "out"), echotest.Payload(4096)); err != nil {
		t.Fatal(err)
	}
	// The shadow counts a call's bytes after its syscall returns, so the
	// CA can have its echo before the TA's last WRITE's bytes show (the
	// shadow's thread may wait for the Go scheduler on its way back from
	// the syscall): scrape until they do. The shadow counts a call before
	// its bytes and a scrape reads them in the other order
	// (shadow.stats.called), so the WRITE is counted by then.
	fifoOut := []string{"ta", "echo", "kind", "fifo", "endpoint", "out"}
	after := scrapeMetrics(t, url)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); after = scrapeMetrics(t, url) {
		if after.get("tzbridge_endpoint_out_bytes_total", fifoOut...)-before.get("tzbridge_endpoint_out_bytes_total", fifoOut...) >= 4096 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Each endpoint moved at least what its CA sent and got back.
	for _, ep := range []struct {
		kind, name string
		in, out    float64
	}{
		{"tcp", "tcp://127.0.0.1:7000", n, n},
		{"unix", "echo.sock", n, n},
		{"udp", "udp://127.0.0.1:7001", 1000, 1000},
		{"fifo", "in", 4096, 0},
		{"fifo", "out", 0, 4096},
	} {
		labels := []string{"ta", "echo", "kind", ep.kind, "endpoint", ep.name}
		in := after.get("tzbridge_endpoint_in_bytes_total", labels...) - before.get("tzbridge_endpoint_in_bytes_total", labels...)
		out := after.get("tzbridge_endpoint_out_bytes_total", labels...) - before.get("tzbridge_endpoint_out_bytes_total", labels...)
		if in < ep.in || out < ep.out {
			t.Errorf("%s %s moved %v bytes in, %v out; want at least %v, %v", ep.kind, ep.name, in, out, ep.in, ep.out)
		}
	}
	// No READ, RECV or RECVFROM: the echo TA polls before it reads, and
	// its POLLs read ahead (docs/protocol.md), so it may never make one.
	for _, op := range []string{"SEND", "ACCEPT", "WRITE", "SENDTO", "POLL"} {
		if d := after.get("tzbridge_calls_total", "ta", "echo", "op", op) - before.get("tzbridge_calls_total", "ta", "echo", "op", op); d < 1 {
			t.Errorf("tzbridge_calls_total{op=%q} moved by %v", op, d)
		}
	}
	calls := after.sum("tzbridge_calls_total", "ta", "echo")
	timed := after.sum("tzbridge_call_duration_seconds", "ta", "echo")
	if timed == 0 || timed > calls {
		t.Errorf("%v calls timed of %v", timed, calls)
	}
	if fds := after.get("tzbridge_ta_open_descriptors", "ta", "echo"); fds < 4 {
		t.Errorf("%v open descriptors; the echo TA holds at least its 4 listeners and FIFOs", fds)
	}
	if r, ok := after.find("tzbridge_ta_restarts_total", "ta", "echo"); !ok || r != 0 {
		t.Errorf("restarts %v (found %v), want 0", r, ok)
	}

	// status --json: the same figures. The TA is idle now, so bytes stand
	// still; calls may not (the TA's poll), but never go back.
	out := run(t, nil, tzbridgeBin(), "status", "--mount", b.mount, "--json")
	now := scrapeMetrics(t, url)
	var st struct {
		Mount string `json:"mount"`
		TAs   []struct {
			Name      string `json:"name"`
			State     string `json:"state"`
			Calls     uint64 `json:"calls"`
			BytesIn   uint64 `json:"bytes_in"`
			BytesOut  uint64 `json:"bytes_out"`
			Endpoints []struct {
				Kind     string `json:"kind"`
				Name     string `json:"name"`
				BytesIn  uint64 `json:"bytes_in"`
				BytesOut uint64 `json:"bytes_out"`
			} `json:"endpoints"`
			Ops []struct {
				Op      string `json:"op"`
				Calls   uint64 `json:"calls"`
				Latency *struct {
					Count uint64 `json:"count"`
				} `json:"latency"`
			} `json:"ops"`
		} `json:"tas"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if st.Mount != b.mount || len(st.TAs) != 1 || st.TAs[0].Name != "echo" || st.TAs[0].State != "running" {
		t.Fatalf("status --json:\n%s", out)
	}
	ta := st.TAs[0]
	var in, outBytes uint64
	for _, e := range ta.Endpoints {
		labels := []string{"ta", "echo", "kind", e.Kind, "endpoint", e.Name}
		if m := now.get("tzbridge_endpoint_in_bytes_total", labels...); m != float64(e.BytesIn) {
			t.Errorf("%s %q: status says %d bytes in, metrics %v", e.Kind, e.Name, e.BytesIn, m)
		}
		if m := now.get("tzbridge_endpoint_out_bytes_total", labels...); m != float64(e.BytesOut) {
			t.Errorf("%s %q: status says %d bytes out, metrics %v", e.Kind, e.Name, e.BytesOut, m)
		}
		in += e.BytesIn
		outBytes += e.BytesOut
	}
	if in != ta.BytesIn || outBytes != ta.BytesOut || len(ta.Endpoints) < 5 {
		t.Errorf("%d endpoints add up to %d in, %d out; totals %d, %d", len(ta.Endpoints), in, outBytes, ta.BytesIn, ta.BytesOut)
	}
	for _, o := range ta.Ops {
		if m := after.get("tzbridge_calls_total", "ta", "echo", "op", o.Op); float64(o.Calls) < m {
			t.Errorf("%s: status says %d calls, fewer than an earlier scrape's %v", o.Op, o.Calls, m)
		}
		if o.Latency == nil || o.Latency.Count > o.Calls {
			t.Errorf("%s: latency %+v for %d calls", o.Op, o.Latency, o.Calls)
		}
	}
}

// TestMetricsAcrossRestart: a TA panic shows as a restart and a TEE error
// by result code, and the TA's counters carry on from where they were.
func TestMetricsAcrossRestart(t *testing.T) {
	cfg, url := withMetrics(t, faultyConfig("always"))
	b := startBridge(t, cfg, faultyReady)
	sock := b.path("faulty", "faulty.sock")
	if err := lineEcho(sock, "hello"); err != nil {
		t.Fatal(err)
	}
	// As in TestMetricsEcho: the shadow counts the echo's bytes after its
	// write returns, so the CA can have the line before they show.
	before := scrapeMetrics(t, url)
	for deadline := time.Now().Add(10 * time.Second); before.sum("tzbridge_endpoint_out_bytes_total", "ta", "faulty") == 0 && time.Now().Before(deadline); before = scrapeMetrics(t, url) {
		time.Sleep(10 * time.Millisecond)
	}
	crashFaulty(t, sock, "panic")
	waitLineEcho(t, sock, 15*time.Second)
	after := scrapeMetrics(t, url)

	if r := after.get("tzbridge_ta_restarts_total", "ta", "faulty"); r != 1 {
		t.Errorf("restarts %v, want 1", r)
	}
	if e := after.get("tzbridge_tee_errors_total", "ta", "faulty", "code", "TEEC_ERROR_TARGET_DEAD"); e != 1 {
		t.Errorf("TEEC_ERROR_TARGET_DEAD %v, want 1", e)
	}
	if _, ok := after.find("tzbridge_tee_errors_total", "ta", "echo"); ok {
		t.Error("TEE errors for the echo TA, which never failed")
	}
	for _, name := range []string{"tzbridge_calls_total", "tzbridge_endpoint_in_bytes_total", "tzbridge_endpoint_out_bytes_total"} {
		b, a := before.sum(name, "ta", "faulty"), after.sum(name, "ta", "faulty")
		if b == 0 || a <= b {
			t.Errorf("%s of the faulty TA: %v before the restart, %v after; want it to carry on growing", name, b, a)
		}
	}
	// The lines before and after the panic, each way.
	lines := float64(len("hello\n") + len("before panic\n") + len("again\n"))
	if in := after.sum("tzbridge_endpoint_in_bytes_total", "ta", "faulty", "kind", "unix"); in < lines {
		t.Errorf("faulty TA read %v bytes from its UNIX socket; want at least %v", in, lines)
	}
	if s := fmt.Sprint(after.get("tzbridge_ta_state", "ta", "faulty", "state", "running")); s != "1" {
		t.Errorf("faulty not running after the restart: %s", s)
	}
}

// TestMetricsReload: on SIGHUP a removed TA leaves the scrape, an added
// one joins it, an untouched one keeps counting from where it was; a new
// metrics address needs a restart, and the old one keeps serving.
func TestMetricsReload(t *testing.T) {
	cfg, url := withMetrics(t, reloadConfig(map[string]string{"faulty": faultyUUID}))
	metricsLine := strings.SplitAfter(cfg, "\n")[0]
	b := startBridge(t, cfg, faultyReady)
	if err := lineEcho(b.path("faulty", "faulty.sock"), "hello"); err != nil {
		t.Fatal(err)
	}
	if err := echotest.StreamEcho("tcp", "127.0.0.1:7000", echotest.Payload(4096)); err != nil {
		t.Fatal(err)
	}
	before := scrapeMetrics(t, url)
	if _, ok := before.find("tzbridge_calls_total", "ta", "faulty"); !ok {
		t.Fatal("no calls of the faulty TA before the reload")
	}

	b.reload(t, metricsLine+reloadConfig(map[string]string{"added": addedUUID}), 1, "reload done")
	waitLineEcho(t, b.path("added", "faulty.sock"), 10*time.Second)
	after := scrapeMetrics(t, url)
	for name, f := range after {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "ta" && l.GetValue() == "faulty" {
					t.Errorf("%s still has the removed TA", name)
				}
			}
		}
	}
	if after.get("tzbridge_ta_state", "ta", "added", "state", "running") != 1 {
		t.Error("the added TA is not running by its metrics")
	}
	if e := after.get("tzbridge_endpoint_in_bytes_total", "ta", "added", "kind", "unix", "endpoint", "faulty.sock"); e < float64(len("again\n")) {
		t.Errorf("the added TA read %v bytes from faulty.sock", e)
	}
	echoBefore, echoAfter := before.sum("tzbridge_calls_total", "ta", "echo"), after.sum("tzbridge_calls_total", "ta", "echo")
	if echoAfter < echoBefore {
		t.Errorf("the echo TA's calls went from %v to %v across the reload", echoBefore, echoAfter)
	}

	moved, _ := withMetrics(t, "")
	b.reload(t, moved+reloadConfig(map[string]string{"added": addedUUID}), 2, "reload done")
	if !strings.Contains(b.log.String(), `restart needed for these settings; their old values stay in force" fields=[metrics]`) {
		t.Error("the log does not say that the metrics change needs a restart")
	}
	if got := scrapeMetrics(t, url).sum("tzbridge_calls_total", "ta", "echo"); got < echoAfter {
		t.Errorf("the old endpoint after the reload: echo calls %v, want at least %v", got, echoAfter)
	}
}

// TestEchoCallsPerRoundTrip: a request-response exchange with the echo TA
// costs it two calls (so two RESUMEs) on every transport: a POLL that
// reads the request ahead, and the WRITE or SEND of the answer. Without
// read-ahead it would be three; this is what the bridge's latency rests
// on, so it is asserted as a count rather than as a time.
func TestEchoCallsPerRoundTrip(t *testing.T) {
	cfg, url := withMetrics(t, echoConfig("%[1]s"))
	b := startBridge(t, cfg, echoReady)
	tests := []struct {
		name string
		dial func() (io.ReadWriteCloser, error)
	}{
		{"tcp", func() (io.ReadWriteCloser, error) { return net.Dial("tcp", "127.0.0.1:7000") }},
		{"unix", func() (io.ReadWriteCloser, error) { return net.Dial("unix", b.path("echo", "echo.sock")) }},
		{"udp", func() (io.ReadWriteCloser, error) { return net.Dial("udp", "127.0.0.1:7001") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { twoCallsPerExchange(t, url, "echo", tt.dial) })
	}
}

// twoCallsPerExchange asserts that request-response exchanges over the
// connection dial makes cost TA ta two calls each, by the Prometheus
// counter at url.
func twoCallsPerExchange(t *testing.T, url, ta string, dial func() (io.ReadWriteCloser, error)) {
	t.Helper()
	const rounds = 200
	msg := echotest.Payload(1024)
	c, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// One exchange first: the connection's ACCEPT is not an echo.
	exchange := func() {
		t.Helper()
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if err := echotest.ReadExactly(c, msg); err != nil {
			t.Fatal(err)
		}
	}
	exchange()
	before := scrapeMetrics(t, url).sum("tzbridge_calls_total", "ta", ta)
	for range rounds {
		exchange()
	}
	// The TA counts its last SEND after the client has its echo: wait
	// until every exchange shows.
	var calls float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if calls = scrapeMetrics(t, url).sum("tzbridge_calls_total", "ta", ta) - before; calls >= 2*rounds {
			break
		}
	}
	t.Logf("%s: %v calls for %d exchanges", ta, calls, rounds)
	if per := calls / rounds; per < 2 || per > 2.05 {
		t.Errorf("%v calls for %d exchanges: %.2f each, want 2 (POLL with read-ahead, then the answer)", calls, rounds, per)
	}
}
