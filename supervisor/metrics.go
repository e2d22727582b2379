package supervisor

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The Prometheus endpoint (config metrics:). Its figures are read from the
// shadows at scrape time, through the same snapshot as the status views
// (TAStatus), so a shadow's hot path only bumps its atomic counters and
// the three views agree. docs/metrics.md lists the metrics.

// taStates are the states a TA can be in, each a series of
// tzbridge_ta_state.
var taStates = [...]string{"starting", "running", "restarting", "exited", "failed", "stopped"}

// metricsServer serves /metrics. A nil *metricsServer (no metrics
// configured) accepts add and remove and does nothing.
type metricsServer struct {
	srv  *http.Server
	addr net.Addr
	done chan struct{} // closed when Serve has returned
	log  *slog.Logger
	c    *taCollector
}

// startMetrics listens on addr and serves /metrics until close; "" serves
// nothing. Listening first, before any TA starts, makes a taken address a
// start-up error rather than a log line.
func startMetrics(addr string, log *slog.Logger) (*metricsServer, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	c := &taCollector{tas: map[string]*taRunner{}}
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		ln.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slogPrintln{log},
		ErrorHandling: promhttp.ContinueOnError,
	}))
	m := &metricsServer{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		addr: ln.Addr(),
		done: make(chan struct{}),
		log:  log,
		c:    c,
	}
	go func() {
		defer close(m.done)
		if err := m.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "addr", m.addr, "err", err)
		}
	}()
	log.Info("metrics endpoint", "url", "http://"+m.addr.String()+"/metrics")
	return m, nil
}

// add makes r's figures part of every scrape from now on.
func (m *metricsServer) add(r *taRunner) {
	if m != nil {
		m.c.add(r)
	}
}

// remove drops the TA named name from the scrapes (a TA removed from the
// configuration).
func (m *metricsServer) remove(name string) {
	if m != nil {
		m.c.remove(name)
	}
}

// close stops serving; a scrape in progress is cut short.
func (m *metricsServer) close() {
	if m == nil {
		return
	}
	if err := m.srv.Close(); err != nil {
		m.log.Warn("close the metrics endpoint", "err", err)
	}
	<-m.done
}

// slogPrintln lets promhttp report through the supervisor's log.
type slogPrintln struct{ log *slog.Logger }

func (l slogPrintln) Println(v ...any) { l.log.Error("metrics: " + fmt.Sprint(v...)) }

// Descriptions of the metrics; labels in order.
var (
	descState = prometheus.NewDesc("tzbridge_ta_state",
		"1 for the state the TA is in, 0 for the others.", []string{"ta", "state"}, nil)
	descRestarts = prometheus.NewDesc("tzbridge_ta_restarts_total",
		"Times the TA's shadow was started again after it stopped.", []string{"ta"}, nil)
	descOpenFDs = prometheus.NewDesc("tzbridge_ta_open_descriptors",
		"Descriptors the TA holds open now.", []string{"ta"}, nil)
	descCalls = prometheus.NewDesc("tzbridge_calls_total",
		"POSIX calls the TA made, by operation.", []string{"ta", "op"}, nil)
	descErrors = prometheus.NewDesc("tzbridge_call_errors_total",
		"POSIX calls answered with an error, by operation and errno.", []string{"ta", "op", "errno"}, nil)
	descLatency = prometheus.NewDesc("tzbridge_call_duration_seconds",
		"Time the shadow took to perform a POSIX call, including any wait for a peer, by operation.", []string{"ta", "op"}, nil)
	descBytesIn = prometheus.NewDesc("tzbridge_endpoint_in_bytes_total",
		"Bytes the TA read or received, by endpoint.", []string{"ta", "kind", "endpoint"}, nil)
	descBytesOut = prometheus.NewDesc("tzbridge_endpoint_out_bytes_total",
		"Bytes the TA wrote or sent, by endpoint.", []string{"ta", "kind", "endpoint"}, nil)
	descTEEErrors = prometheus.NewDesc("tzbridge_tee_errors_total",
		"TEE Client API calls that failed and ended the TA's shadow, by result code.", []string{"ta", "code"}, nil)
)

// taCollector reads the TAs' figures at scrape time.
type taCollector struct {
	mu  sync.Mutex
	tas map[string]*taRunner
}

func (c *taCollector) add(r *taRunner) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tas[r.cfg.Name] = r
}

func (c *taCollector) remove(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.tas, name)
}

// Describe implements prometheus.Collector.
func (c *taCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descRestarts, descOpenFDs, descCalls, descErrors, descLatency, descBytesIn, descBytesOut, descTEEErrors} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Each TA's shadow is asked for
// its counters in parallel: one that is slow to answer (statsTimeout)
// delays the scrape once, not once per TA.
func (c *taCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	runners := slices.Collect(maps.Values(c.tas))
	c.mu.Unlock()
	statuses := make([]TAStatus, len(runners))
	var wg sync.WaitGroup
	for i, r := range runners {
		wg.Go(func() { statuses[i] = r.snapshot() })
	}
	wg.Wait()
	for _, s := range statuses {
		collectTA(ch, &s)
	}
}

// collectTA sends one TA's metrics.
func collectTA(ch chan<- prometheus.Metric, s *TAStatus) {
	states := taStates[:]
	if !slices.Contains(states, s.State) {
		states = append(slices.Clone(states), s.State)
	}
	for _, st := range states {
		v := 0.0
		if st == s.State {
			v = 1
		}
		ch <- constMetric(descState, prometheus.GaugeValue, v, s.Name, st)
	}
	ch <- constMetric(descRestarts, prometheus.CounterValue, float64(s.Restarts), s.Name)
	ch <- constMetric(descOpenFDs, prometheus.GaugeValue, float64(s.OpenDescriptors), s.Name)
	for _, o := range s.Ops {
		ch <- constMetric(descCalls, prometheus.CounterValue, float64(o.Calls), s.Name, o.Op)
		for errno, n := range o.Errors {
			ch <- constMetric(descErrors, prometheus.CounterValue, float64(n), s.Name, o.Op, errno)
		}
		if l := o.Latency; l != nil {
			buckets := make(map[float64]uint64, len(l.Buckets))
			for _, b := range l.Buckets {
				buckets[b.LE] = b.Count
			}
			h, err := prometheus.NewConstHistogram(descLatency, l.Count, l.SumSeconds, buckets, s.Name, o.Op)
			if err != nil {
				h = prometheus.NewInvalidMetric(descLatency, err)
			}
			ch <- h
		}
	}
	for _, e := range s.Endpoints {
		ch <- constMetric(descBytesIn, prometheus.CounterValue, float64(e.BytesIn), s.Name, e.Kind, e.Name)
		ch <- constMetric(descBytesOut, prometheus.CounterValue, float64(e.BytesOut), s.Name, e.Kind, e.Name)
	}
	for code, n := range s.TEEErrors {
		ch <- constMetric(descTEEErrors, prometheus.CounterValue, float64(n), s.Name, code)
	}
}

// constMetric is prometheus.MustNewConstMetric without the panic: a label
// value that is not UTF-8 fails that one series (and shows in the
// scrape's error log), not the supervisor.
func constMetric(desc *prometheus.Desc, typ prometheus.ValueType, v float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(desc, typ, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	return m
}
