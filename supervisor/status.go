package supervisor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tzmediator/tzbridge/internal/control"
	"github.com/tzmediator/tzbridge/internal/netaddr"
	"github.com/tzmediator/tzbridge/shadow"
	"github.com/tzmediator/tzbridge/teeclient"
)

// TAStatus is what the bridge shows of one TA: the text status view
// (.tz/status), the JSON one (.tz/status.json, which `tzbridge status
// --json` prints) and the Prometheus metrics are all made from it, so
// they agree. The JSON field names are stable; docs/metrics.md describes
// them. Counters cover every shadow process the TA has had since
// `tzbridge run` started (a restart does not reset them).
type TAStatus struct {
	Name  string    `json:"name"`
	UUID  string    `json:"uuid"`
	State string    `json:"state"` // starting, running, restarting, exited, failed or stopped
	Since time.Time `json:"since"` // when it entered State
	PID   int       `json:"pid"`   // the shadow process, 0 when none runs
	Netns string    `json:"netns"` // the TA's network namespace, or "host"
	User  string    `json:"user"`
	// SecureWorld is the TEE's state: running or restarting (the
	// simulator), or device; SecureWorldRestarts counts the simulator's
	// restarts. Shared by every TA.
	SecureWorld         string   `json:"secure_world"`
	SecureWorldRestarts int      `json:"secure_world_restart_count"`
	Proxies             []string `json:"proxies"` // "LISTEN -> TO"
	LastError           string   `json:"last_error"`

	Restarts        int    `json:"restarts"`
	OpenDescriptors int    `json:"open_descriptors"`
	Calls           uint64 `json:"calls"`     // POSIX calls the TA made
	Errors          uint64 `json:"errors"`    // calls answered with an errno
	Failures        uint64 `json:"failures"`  // of those, the ones that are no normal result (resultErrno)
	BytesIn         uint64 `json:"bytes_in"`  // bytes the TA read or received
	BytesOut        uint64 `json:"bytes_out"` // bytes the TA wrote or sent

	// CallsTimed says whether calls are timed (metrics: is set), and so
	// whether Ops carry latency.
	CallsTimed bool              `json:"calls_timed"`
	Ops        []OpStatus        `json:"ops"`        // by op name, only ops called
	Endpoints  []EndpointStatus  `json:"endpoints"`  // by kind and name
	TEEErrors  map[string]uint64 `json:"tee_errors"` // failed TEE calls that ended a shadow, by result code ("other" past 16 codes)
}

// OpStatus is one op's figures.
type OpStatus struct {
	Op      string            `json:"op"` // READ, WRITE…; UNKNOWN for requests with no valid op
	Calls   uint64            `json:"calls"`
	Errors  map[string]uint64 `json:"errors"`  // by errno name, e.g. EAGAIN
	Latency *LatencyStatus    `json:"latency"` // null when calls are not timed
}

// LatencyStatus is a latency histogram, in Prometheus' form: cumulative
// buckets, plus the count and sum of all observations. Calls refused
// before they were performed (an invalid request) are not observed.
type LatencyStatus struct {
	Count      uint64         `json:"count"`
	SumSeconds float64        `json:"sum_seconds"`
	Buckets    []BucketStatus `json:"buckets"` // increasing le; the +Inf bucket is Count
}

// BucketStatus is one histogram bucket: Count calls took at most LE
// seconds.
type BucketStatus struct {
	LE    float64 `json:"le"`
	Count uint64  `json:"count"`
}

// EndpointStatus is the bytes one endpoint moved (shadow.Endpoint says
// what an endpoint is).
type EndpointStatus struct {
	Kind     string `json:"kind"` // fifo, unix, tcp or udp
	Name     string `json:"name"` // "" for the kind's undeclared, unnamed rest
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
}

// taTotals carries a TA's counters across its shadow processes, each of
// which starts from zero.
type taTotals struct {
	mu sync.Mutex
	// past is the sum of the last counters of the processes that ended,
	// of which last is the latest, so that it is added once.
	past      shadow.Stats
	last      *shadowProc
	teeErrors map[teeclient.Result]uint64
	// otherTEEErrors counts the codes beyond maxTEEErrorCodes: a TA
	// chooses the code its entry point returns, and must not grow the
	// map (and the metrics' code labels) without limit by restarting.
	otherTEEErrors uint64
}

// maxTEEErrorCodes bounds the distinct TEE result codes counted by name
// for one TA; further ones count as "other".
const maxTEEErrorCodes = 16

// ended adds the counters of p, which has ended with err, and err's TEE
// result code if it has one. A process killed before it reported its last
// counters adds the ones last polled.
func (t *taTotals) ended(p *shadowProc, err error) {
	st := p.Stats()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == p {
		return
	}
	t.past, t.last = t.past.Add(st), p
	var se *control.ShadowError
	if errors.As(err, &se) && se.Code != 0 {
		if t.teeErrors == nil {
			t.teeErrors = map[teeclient.Result]uint64{}
		}
		if _, ok := t.teeErrors[se.Code]; ok || len(t.teeErrors) < maxTEEErrorCodes {
			t.teeErrors[se.Code]++
		} else {
			t.otherTEEErrors++
		}
	}
}

// with returns the totals with the counters of p, the current process
// (nil if none), and the TEE errors by name.
func (t *taTotals) with(p *shadowProc) (shadow.Stats, map[string]uint64) {
	var cur shadow.Stats
	if p != nil {
		cur = p.Stats() // may wait for the shadow; not under mu
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tee := map[string]uint64{}
	for code, n := range t.teeErrors {
		tee[code.String()] = n
	}
	if t.otherTEEErrors > 0 {
		tee["other"] = t.otherTEEErrors
	}
	if p == nil || p == t.last {
		return t.past, tee
	}
	return t.past.Add(cur), tee
}

// statsOptions set up the counters of the TA's shadow: timed calls when
// metrics are served, and the declared endpoints, proxy targets and
// preopened sockets counted by name from the start.
func (r *taRunner) statsOptions() shadow.StatsOptions {
	o := shadow.StatsOptions{TimeCalls: r.timeCalls}
	for _, e := range r.cfg.Endpoints {
		kind := shadow.KindFIFO
		if e.Kind == "unix" {
			kind = shadow.KindUnix
		}
		o.Endpoints = append(o.Endpoints, shadow.Endpoint{Kind: kind, Name: e.Name})
	}
	addrs := slices.Clone(r.cfg.Listen)
	for _, p := range r.cfg.Proxies {
		addrs = append(addrs, p.To)
	}
	for _, a := range addrs {
		na, err := netaddr.Parse(a)
		if err != nil {
			continue // the config was checked
		}
		switch na.Network {
		case "unix":
			o.Endpoints = append(o.Endpoints, shadow.Endpoint{Kind: shadow.KindUnix, Name: na.Addr})
		case "tcp":
			o.Endpoints = append(o.Endpoints, shadow.Endpoint{Kind: shadow.KindTCP, Name: a})
		case "udp":
			o.Endpoints = append(o.Endpoints, shadow.Endpoint{Kind: shadow.KindUDP, Name: a})
		}
	}
	return o
}

// snapshot is the TA's status now. It asks the shadow for its counters,
// which may take up to statsTimeout.
func (r *taRunner) snapshot() TAStatus {
	r.mu.Lock()
	state, since, restarts, lastErr, p := r.state, r.since, r.restarts, r.lastErr, r.current
	r.mu.Unlock()
	st, tee := r.totals.with(p)
	s := TAStatus{
		Name:            r.cfg.Name,
		UUID:            r.cfg.UUID.String(),
		State:           state,
		Since:           since.UTC().Truncate(time.Second),
		Netns:           "host",
		User:            r.cfg.User,
		Proxies:         []string{},
		LastError:       strings.ReplaceAll(lastErr, "\n", " "),
		Restarts:        restarts,
		OpenDescriptors: st.OpenDescriptors,
		Calls:           st.Calls,
		Errors:          st.Errors,
		BytesIn:         st.BytesIn,
		BytesOut:        st.BytesOut,
		CallsTimed:      r.timeCalls,
		Ops:             []OpStatus{},
		Endpoints:       []EndpointStatus{},
		TEEErrors:       tee,
	}
	if p != nil {
		select {
		case <-p.Done():
		default:
			s.PID = p.Pid()
		}
	}
	if r.netns != nil {
		s.Netns = r.netns.Name
	}
	if r.tee != nil {
		s.SecureWorld, s.SecureWorldRestarts = r.tee.status()
	}
	for _, px := range r.proxies {
		s.Proxies = append(s.Proxies, px.l.String()+" -> "+px.config)
	}
	bounds := shadow.LatencyBounds()
	for _, o := range st.Ops {
		for name, n := range o.Errors {
			if !resultErrno(name) {
				s.Failures += n
			}
		}
		x := OpStatus{Op: o.Op, Calls: o.Calls, Errors: o.Errors}
		if x.Errors == nil {
			x.Errors = map[string]uint64{}
		}
		if len(o.Latency) == len(bounds)+1 {
			l := &LatencyStatus{SumSeconds: o.LatencySum.Seconds(), Buckets: make([]BucketStatus, len(bounds))}
			for i, b := range bounds {
				l.Count += o.Latency[i]
				l.Buckets[i] = BucketStatus{LE: b.Seconds(), Count: l.Count}
			}
			l.Count += o.Latency[len(bounds)]
			x.Latency = l
		}
		s.Ops = append(s.Ops, x)
	}
	slices.SortFunc(s.Ops, func(a, b OpStatus) int { return strings.Compare(a.Op, b.Op) })
	for _, e := range st.Endpoints {
		s.Endpoints = append(s.Endpoints, EndpointStatus{Kind: e.Kind, Name: e.Name, BytesIn: e.BytesIn, BytesOut: e.BytesOut})
	}
	slices.SortFunc(s.Endpoints, func(a, b EndpointStatus) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return s
}

// status renders the TA's /tz/<ta>/.tz/status file: one "key: value" per
// line, read by `tzbridge status`.
func (r *taRunner) status() []byte {
	s := r.snapshot()
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\n", s.Name)
	fmt.Fprintf(&b, "uuid: %s\n", s.UUID)
	fmt.Fprintf(&b, "state: %s\n", s.State)
	fmt.Fprintf(&b, "since: %s\n", s.Since.Format(time.RFC3339))
	fmt.Fprintf(&b, "restarts: %d\n", s.Restarts)
	fmt.Fprintf(&b, "open_descriptors: %d\n", s.OpenDescriptors)
	fmt.Fprintf(&b, "calls: %d\n", s.Calls)
	fmt.Fprintf(&b, "errors: %d\n", s.Errors)
	fmt.Fprintf(&b, "failures: %d\n", s.Failures)
	fmt.Fprintf(&b, "bytes_in: %d\n", s.BytesIn)
	fmt.Fprintf(&b, "bytes_out: %d\n", s.BytesOut)
	fmt.Fprintf(&b, "pid: %d\n", s.PID)
	fmt.Fprintf(&b, "netns: %s\n", s.Netns)
	fmt.Fprintf(&b, "user: %s\n", s.User)
	fmt.Fprintf(&b, "secure_world: %s\n", s.SecureWorld)
	fmt.Fprintf(&b, "secure_world_restart_count: %d\n", s.SecureWorldRestarts)
	if len(s.Proxies) > 0 {
		fmt.Fprintf(&b, "proxies: %s\n", strings.Join(s.Proxies, ", "))
	}
	if s.LastError != "" {
		fmt.Fprintf(&b, "last_error: %s\n", s.LastError)
	}
	return []byte(b.String())
}

// statusJSON renders the TA's /tz/<ta>/.tz/status.json file.
func (r *taRunner) statusJSON() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "LISTEN -> TO" stays readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(r.snapshot()); err != nil {
		// TAStatus holds nothing JSON cannot encode.
		r.log.Error("encode the status", "err", err)
		return nil
	}
	return b.Bytes()
}

// resultErrno reports whether an errno answer is a normal result rather
// than a failure: it tells the TA the state of what it asked about, which
// TAs meet in correct operation and handle — nothing is ready yet (EAGAIN,
// also EWOULDBLOCK), a connect is under way (EINPROGRESS, EALREADY), a
// call was interrupted (EINTR), what it would create exists (EEXIST:
// mkfifo of an endpoint made before the TA started), what it would open or
// remove does not (ENOENT: unlinking a stale socket before bind), a FIFO
// has no reader for a nonblocking open for writing (ENXIO). Every other
// errno counts as a failure: a bad descriptor or argument, a limit, a
// refused permission, a peer that reset or went away. The rule is the
// errno alone, whatever the op, so that it is the same in every view.
func resultErrno(name string) bool {
	switch name {
	case "EAGAIN", "EWOULDBLOCK", "EINPROGRESS", "EALREADY", "EINTR", "EEXIST", "ENOENT", "ENXIO":
		return true
	}
	return false
}
