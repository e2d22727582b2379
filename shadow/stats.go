package shadow

import (
	"fmt"
	"math/bits"
	"net/netip"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// Detailed counters: calls and errors by op and errno, a latency histogram
// by op, and bytes by endpoint. Every call bumps a few of them, so they
// are built for the hot path: fixed arrays of atomics indexed by op,
// errno and bucket, no map, no lock, no allocation. Only the dispatch
// goroutine writes them; Stats reads them from any goroutine at any time
// and may see one call half counted, which a monitoring figure tolerates.
//
// Latency needs two clock reads per call, which cost about as much as the
// whole of a call that makes no syscall (time.Now is ~50 ns on a VM), so it
// is measured only when StatsOptions.TimeCalls asks for it.

// Endpoint kinds: the transport a descriptor's bytes travel over.
const (
	KindFIFO = "fifo"
	KindUnix = "unix"
	KindTCP  = "tcp"
	KindUDP  = "udp"
)

// kinds are the endpoint kinds by index; slot i of stats.eps is the
// unnamed endpoint of kinds[i].
var kinds = [...]string{KindFIFO, KindUnix, KindTCP, KindUDP}

const (
	kindFIFO = iota
	kindUnix
	kindTCP
	kindUDP
	numKinds
)

const (
	// opSlots covers every tzrpc op (1 to 26 today) with room to grow;
	// slot 0 counts requests whose op is not one. A power of two
	// (performed masks with it).
	opSlots = 32
	// errnoSlots covers every valid errno; slot 0 counts any other.
	errnoSlots = int(tzrpc.MaxErrno) + 1
	// MaxEndpoints bounds the named endpoints a shadow counts bytes for,
	// so that a TA cannot grow the counters (or a metrics label set)
	// without limit; bytes of further ones count under their kind's
	// unnamed endpoint.
	MaxEndpoints = 64
	// MaxEndpointName bounds an endpoint's name: longer ones (a FIFO path
	// may be 4 KB) count under their kind's unnamed endpoint, so that
	// the counters stay small enough to cross the control socket.
	MaxEndpointName = 256
)

// latencyBounds are the upper bounds of the latency histogram buckets; a
// last bucket takes longer calls. From 1 µs, roughly the cost of a call
// that makes one syscall, to 10 s, a call that waits for a peer.
var latencyBounds = [...]time.Duration{
	1 * time.Microsecond, 2500 * time.Nanosecond, 5 * time.Microsecond,
	10 * time.Microsecond, 25 * time.Microsecond, 50 * time.Microsecond,
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	1 * time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	1 * time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// LatencyBounds returns the upper bounds of the latency histogram's
// buckets (OpStats.Latency), in increasing order.
func LatencyBounds() []time.Duration { return slices.Clone(latencyBounds[:]) }

// StatsOptions set up a shadow's detailed counters.
type StatsOptions struct {
	// TimeCalls measures how long each call takes, for OpStats.Latency.
	TimeCalls bool `json:"time_calls,omitempty"`
	// Endpoints are the TA's declared endpoints: they are counted under
	// their own name from the start, before the TA uses them. See
	// Endpoint for the names.
	Endpoints []Endpoint `json:"endpoints,omitempty"`
}

// Endpoint names what a TA's bytes travel through. Name is the FIFO path
// the TA opened, the UNIX socket path it bound (or, for a socket it did
// not bind, connected to), both relative to the TA's root ("in",
// "sub/x"), or the TCP or UDP address it bound with a nonzero port (or
// else connected to) as "tcp://IP:PORT" or "udp://IP:PORT". A connection
// the TA accepted counts under its listening socket's endpoint. Name is
// empty for the rest of a kind: unnamed sockets, and names beyond
// MaxEndpoints.
type Endpoint struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// EndpointStats are the bytes moved through one endpoint.
type EndpointStats struct {
	Endpoint
	BytesIn  uint64 `json:"bytes_in"`  // read or received by the TA
	BytesOut uint64 `json:"bytes_out"` // written or sent by the TA
}

// OpStats are the counters of one op.
type OpStats struct {
	Op     string            `json:"op"` // tzrpc's name, e.g. READ; UNKNOWN for an undecodable op
	Calls  uint64            `json:"calls"`
	Errors map[string]uint64 `json:"errors,omitempty"` // by errno name, e.g. EAGAIN
	// Latency counts the performed calls by duration: Latency[i] took
	// at most LatencyBounds()[i] (and more than the bound before); the
	// last entry, longer than every bound. Nil unless calls are timed.
	// Requests refused before they were performed are not in it.
	Latency    []uint64      `json:"latency,omitempty"`
	LatencySum time.Duration `json:"latency_sum,omitempty"`
}

// opCounters are one op's counters.
type opCounters struct {
	calls  atomic.Uint64
	errnos [errnoSlots]atomic.Uint64
	lat    [len(latencyBounds) + 1]atomic.Uint64
	latSum atomic.Uint64 // nanoseconds
}

// endpointSlot is one endpoint's counters. kind and name are written once,
// before the slot is published (stats.named), and never change.
type endpointSlot struct {
	kind    uint8
	name    string
	in, out atomic.Uint64
}

// stats are a Shadow's detailed counters. The zero value counts, untimed,
// with no declared endpoint.
type stats struct {
	timed bool // set by SetStatsOptions before the first call
	ops   [opSlots]opCounters
	// eps are the endpoints: numKinds unnamed ones, then the named ones,
	// of which named are published.
	eps   [numKinds + MaxEndpoints]endpointSlot
	named atomic.Int32
	// tags maps a TA descriptor (vfd-firstFD) to its endpoint's index in
	// eps plus one; 0 is "not tagged". Only the dispatch goroutine uses
	// it. Every call that makes a descriptor tags it, so a tag left by a
	// closed descriptor is overwritten before it could be read.
	tags []uint8
}

// SetStatsOptions sets up the detailed counters. It must be called before
// Run or the first Dispatch.
func (s *Shadow) SetStatsOptions(o StatsOptions) error {
	s.st.timed = o.TimeCalls
	for _, e := range o.Endpoints {
		k := kindIndex(e.Kind)
		if k < 0 {
			return fmt.Errorf("shadow %s: endpoint %q of unknown kind %q", s.cfg.Name, e.Name, e.Kind)
		}
		name, err := canonicalName(k, e.Name)
		if err != nil {
			return fmt.Errorf("shadow %s: endpoint %q: %w", s.cfg.Name, e.Name, err)
		}
		s.st.endpoint(k, name)
	}
	return nil
}

func kindIndex(kind string) int {
	for i, k := range kinds {
		if k == kind {
			return i
		}
	}
	return -1
}

// canonicalName is the name under which a declared endpoint's bytes are
// counted: the form a TA's own calls produce (endpointName, inetName).
func canonicalName(kind int, name string) (string, error) {
	switch kind {
	case kindFIFO, kindUnix:
		if name == "" {
			return "", fmt.Errorf("no path")
		}
		return cleanPath(name), nil
	}
	addr, ok := strings.CutPrefix(name, kinds[kind]+"://")
	ap, err := netip.ParseAddrPort(addr)
	if !ok || err != nil || ap.Port() == 0 {
		return "", fmt.Errorf("want %s://IP:PORT", kinds[kind])
	}
	return inetName(kind, ap), nil
}

// cleanPath is a TA path as its root sees it, without the leading slash:
// "/in", "in" and "./in" name the same node.
func cleanPath(p string) string {
	c := path.Clean("/" + p)
	if c == "/" {
		return "."
	}
	return c[1:]
}

func inetName(kind int, ap netip.AddrPort) string {
	return kinds[kind] + "://" + netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
}

// startCall returns when a call starts, if calls are timed.
func (st *stats) startCall() time.Time {
	if !st.timed {
		return time.Time{}
	}
	return time.Now()
}

// count counts one request, answered with e (0 for success), that was
// never performed.
func (st *stats) count(op tzrpc.Op, e tzrpc.Errno) {
	st.called(op)
	st.answered(op, e)
}

// called counts a request before it is performed. Every other counter a
// call moves (its errno, latency, bytes, the Shadow's totals) is bumped
// after this, and snapshot reads calls last: whoever sees a call's bytes
// or errno sees the call counted, so a monitor that waits for bytes may
// then rely on the calls that moved them.
func (st *stats) called(op tzrpc.Op) {
	st.ops[opSlot(op)].calls.Add(1)
}

// answered counts the errno of a request that called counted.
func (st *stats) answered(op tzrpc.Op, e tzrpc.Errno) {
	if e == 0 {
		return
	}
	es := 0
	if e.Valid() {
		es = int(e)
	}
	st.ops[opSlot(op)].errnos[es].Add(1)
}

func opSlot(op tzrpc.Op) int {
	if !op.Valid() || int(op) >= opSlots {
		return 0
	}
	return int(op)
}

func latencyBucket(d time.Duration) int {
	for i, b := range latencyBounds {
		if d <= b {
			return i
		}
	}
	return len(latencyBounds)
}

// What performed does beyond timing, by op.
const (
	accountNone = iota
	accountIn   // bytes the TA read or received
	accountOut  // bytes the TA wrote or sent
	accountTag  // a descriptor made or named
)

// accounting is indexed by op slot.
var accounting = [opSlots]uint8{
	tzrpc.OpRead: accountIn, tzrpc.OpRecv: accountIn, tzrpc.OpRecvfrom: accountIn,
	tzrpc.OpWrite: accountOut, tzrpc.OpSend: accountOut, tzrpc.OpSendto: accountOut,
	tzrpc.OpOpen: accountTag, tzrpc.OpSocket: accountTag, tzrpc.OpAccept: accountTag,
	tzrpc.OpBind: accountTag, tzrpc.OpConnect: accountTag,
}

// performed accounts for a request Dispatch performed: its duration since
// start, the bytes it moved, and the endpoint of a descriptor it made or
// named. It runs before the response is written, while req's payload is
// still the shadow's private copy. It is small enough to be inlined, so
// that an untimed call with nothing to account for costs a couple of
// predicted branches.
func (s *Shadow) performed(req *tzrpc.Request, r *result, start time.Time) {
	// A performed request has a valid op, below opSlots (a power of two,
	// so that the modulo is a mask and needs no bounds check).
	if s.st.timed || accounting[req.Op%opSlots] != accountNone {
		s.account(req, r, start)
	}
}

// account does performed's work. Kept out of line so that performed
// stays inlinable.
//
//go:noinline
func (s *Shadow) account(req *tzrpc.Request, r *result, start time.Time) {
	st := &s.st
	if st.timed {
		d := time.Since(start)
		o := &st.ops[opSlot(req.Op)]
		o.lat[latencyBucket(d)].Add(1)
		o.latSum.Add(uint64(d))
	}
	switch a := accounting[req.Op%opSlots]; {
	case a == accountTag:
		s.tagEndpoint(req, r)
	case a == accountNone || r.errno != 0 || r.ret <= 0:
	case a == accountIn:
		s.endpointOf(req.Args[0]).in.Add(uint64(r.ret))
	case a == accountOut:
		s.endpointOf(req.Args[0]).out.Add(uint64(r.ret))
	}
}

// endpointOf is the endpoint of TA descriptor vfd, which a call has just
// used successfully.
func (s *Shadow) endpointOf(vfd int64) *endpointSlot {
	st := &s.st
	if i := vfd - firstFD; i >= 0 && i < int64(len(st.tags)) && st.tags[i] != 0 {
		return &st.eps[st.tags[i]-1]
	}
	// Not reached while every descriptor is made through Dispatch; the
	// bytes still count, under their kind.
	return &st.eps[s.kindOf(vfd)]
}

// kindOf is the endpoint kind of TA descriptor vfd.
func (s *Shadow) kindOf(vfd int64) int {
	d, e := s.fds.get(vfd)
	switch {
	case e != 0 || !d.socket:
		return kindFIFO
	case d.domain == tzrpc.AF_UNIX:
		return kindUnix
	case d.sockType == tzrpc.SOCK_DGRAM:
		return kindUDP
	}
	return kindTCP
}

// tagEndpoint records which endpoint a descriptor's bytes count under,
// when a call makes the descriptor (OPEN, SOCKET, ACCEPT) or names it
// (BIND, CONNECT). These calls make syscalls of their own; the look-up
// here costs little beside them.
func (s *Shadow) tagEndpoint(req *tzrpc.Request, r *result) {
	st := &s.st
	vfd := req.Args[0]
	switch req.Op {
	case tzrpc.OpOpen:
		if r.errno != 0 {
			return
		}
		k := kindFIFO
		if !s.isFIFO(r.ret) {
			// A directory: it moves no bytes, so it takes no named slot.
			s.setTag(r.ret, k)
			return
		}
		s.setTag(r.ret, st.endpoint(k, cleanPath(string(req.Payload))))
	case tzrpc.OpSocket:
		if r.errno == 0 {
			s.setTag(r.ret, s.kindOf(r.ret))
		}
	case tzrpc.OpAccept:
		if r.errno == 0 {
			s.setTag(r.ret, s.endpointIndex(vfd))
		}
	case tzrpc.OpBind, tzrpc.OpConnect:
		// A connect in progress will carry bytes too; a socket keeps the
		// name it was bound to.
		if r.errno != 0 && !(req.Op == tzrpc.OpConnect && r.errno == tzrpc.EINPROGRESS) {
			return
		}
		k := s.kindOf(vfd)
		if req.Op == tzrpc.OpConnect && s.endpointIndex(vfd) >= numKinds {
			return
		}
		sa, n, err := tzrpc.ParseSockaddr(req.Payload)
		if err != nil || n != len(req.Payload) {
			return // the call succeeded, so this does not happen
		}
		switch {
		case sa.Family() == tzrpc.FamilyUnix && sa.Path() != "":
			s.setTag(vfd, st.endpoint(k, cleanPath(sa.Path())))
		case sa.Family() != tzrpc.FamilyUnix && sa.Port() != 0:
			s.setTag(vfd, st.endpoint(k, inetName(k, sa.AddrPort())))
		}
	}
}

// isFIFO reports whether TA descriptor vfd is a FIFO (OPEN's other
// outcome is a directory).
func (s *Shadow) isFIFO(vfd int64) bool {
	d, e := s.fds.get(vfd)
	if e != 0 {
		return false
	}
	var sb unix.Stat_t
	return unix.Fstat(d.fd, &sb) == nil && sb.Mode&unix.S_IFMT == unix.S_IFIFO
}

// endpointIndex is the index in eps of vfd's endpoint.
func (s *Shadow) endpointIndex(vfd int64) int {
	st := &s.st
	if i := vfd - firstFD; i >= 0 && i < int64(len(st.tags)) && st.tags[i] != 0 {
		return int(st.tags[i] - 1)
	}
	return s.kindOf(vfd)
}

// setTag makes vfd's bytes count under endpoint ep (an index in eps).
func (s *Shadow) setTag(vfd int64, ep int) {
	i := vfd - firstFD
	if i < 0 || i >= int64(s.cfg.MaxDescriptors) {
		return
	}
	st := &s.st
	if i >= int64(len(st.tags)) {
		// Grown to the highest descriptor in use, not to the limit: most
		// TAs hold a few descriptors of a limit in the hundreds.
		st.tags = append(st.tags, make([]uint8, int(i)+1-len(st.tags))...)
	}
	st.tags[i] = uint8(ep + 1)
}

// endpoint returns the index in eps of the named endpoint (kind, name),
// adding it if there is room; else, or for an empty or too long name, the
// kind's unnamed endpoint. Only the dispatch goroutine (or
// SetStatsOptions, before it runs) calls it.
func (st *stats) endpoint(kind int, name string) int {
	if name == "" || len(name) > MaxEndpointName {
		return kind
	}
	// Names end up in JSON and in metric labels, which want UTF-8; a
	// TA's path need not be.
	name = strings.ToValidUTF8(name, "\uFFFD")
	n := int(st.named.Load())
	for i := numKinds; i < numKinds+n; i++ {
		if int(st.eps[i].kind) == kind && st.eps[i].name == name {
			return i
		}
	}
	if n == MaxEndpoints {
		return kind
	}
	i := numKinds + n
	st.eps[i].kind, st.eps[i].name = uint8(kind), name
	st.named.Store(int32(n + 1)) // publishes the slot to readers
	return i
}

// snapshot adds the detailed counters to out, and their sum to out.Calls.
// Ops never called and unnamed endpoints that moved nothing are left out;
// declared endpoints are listed from the start. It reads in the reverse
// of the order a call writes (see called): bytes, then each op's errnos
// and latency, then its calls, so that the snapshot never shows bytes or
// an errno of a call it does not count. Stats loads the Shadow's totals
// before calling it, for the same reason.
func (st *stats) snapshot(out *Stats) {
	n := numKinds + int(st.named.Load())
	for i := range n {
		ep := &st.eps[i]
		es := EndpointStats{BytesIn: ep.in.Load(), BytesOut: ep.out.Load()}
		if i < numKinds {
			if es.BytesIn == 0 && es.BytesOut == 0 {
				continue
			}
			es.Kind = kinds[i]
		} else {
			es.Kind, es.Name = kinds[ep.kind], ep.name
		}
		out.Endpoints = append(out.Endpoints, es)
	}
	for i := range st.ops {
		o := &st.ops[i]
		// An op never called has nothing to read; calls only grow and
		// count before anything else of a call, so this early look
		// cannot hide a counted errno or latency.
		if o.calls.Load() == 0 {
			continue
		}
		var errs map[string]uint64
		for e := range o.errnos {
			if n := o.errnos[e].Load(); n != 0 {
				if errs == nil {
					errs = map[string]uint64{}
				}
				name := "UNKNOWN"
				if e > 0 {
					name = tzrpc.Errno(e).String()
				}
				errs[name] += n
			}
		}
		var lat []uint64
		var latSum time.Duration
		if st.timed {
			lat = make([]uint64, len(o.lat))
			for b := range o.lat {
				lat[b] = o.lat[b].Load()
			}
			latSum = time.Duration(o.latSum.Load())
		}
		calls := o.calls.Load()
		if calls == 0 {
			continue
		}
		out.Calls += calls
		op := "UNKNOWN"
		if i > 0 {
			op = tzrpc.Op(i).String()
		}
		out.Ops = append(out.Ops, OpStats{Op: op, Calls: calls, Errors: errs, Latency: lat, LatencySum: latSum})
	}
}

// Add returns the sum of two snapshots, as of two shadows that served
// the same TA one after the other: counters add up, ops and endpoints are
// matched by name. Latency is kept only if both were timed or one has
// none. The sum names at most MaxEndpoints endpoints, st's first, as one
// shadow does: the bytes of further ones count under their kind's
// unnamed endpoint, so that a TA that names new endpoints in each of its
// restarts cannot grow the totals (or the metrics) without limit.
func (st Stats) Add(o Stats) Stats {
	sum := Stats{
		OpenDescriptors: st.OpenDescriptors + o.OpenDescriptors,
		Calls:           st.Calls + o.Calls,
		BytesIn:         st.BytesIn + o.BytesIn,
		BytesOut:        st.BytesOut + o.BytesOut,
		Errors:          st.Errors + o.Errors,
	}
	ops := map[string]int{}
	for _, list := range [][]OpStats{st.Ops, o.Ops} {
		for _, x := range list {
			i, seen := ops[x.Op]
			if !seen {
				ops[x.Op] = len(sum.Ops)
				sum.Ops = append(sum.Ops, OpStats{Op: x.Op})
				i = len(sum.Ops) - 1
			}
			sum.Ops[i] = sum.Ops[i].add(x, !seen)
		}
	}
	eps := map[Endpoint]int{}
	named := 0
	for _, list := range [][]EndpointStats{st.Endpoints, o.Endpoints} {
		for _, x := range list {
			i, seen := eps[x.Endpoint]
			if !seen && x.Name != "" {
				if named == MaxEndpoints {
					x.Endpoint = Endpoint{Kind: x.Kind}
					i, seen = eps[x.Endpoint]
				} else {
					named++
				}
			}
			if !seen {
				eps[x.Endpoint] = len(sum.Endpoints)
				sum.Endpoints = append(sum.Endpoints, EndpointStats{Endpoint: x.Endpoint})
				i = len(sum.Endpoints) - 1
			}
			sum.Endpoints[i].BytesIn += x.BytesIn
			sum.Endpoints[i].BytesOut += x.BytesOut
		}
	}
	return sum
}

// add adds x to a; first says a is new, so x's latency is taken as is.
func (a OpStats) add(x OpStats, first bool) OpStats {
	a.Calls += x.Calls
	for name, n := range x.Errors {
		if a.Errors == nil {
			a.Errors = map[string]uint64{}
		}
		a.Errors[name] += n
	}
	switch {
	case first:
		a.Latency = append([]uint64(nil), x.Latency...)
		a.LatencySum = x.LatencySum
	case len(a.Latency) == len(x.Latency):
		for i := range x.Latency {
			a.Latency[i] += x.Latency[i]
		}
		a.LatencySum += x.LatencySum
	case len(a.Latency) == 0:
		// Untimed so far (or a histogram of another shape, which a
		// tzbridge of one version does not produce): the newer one counts.
		a.Latency = append([]uint64(nil), x.Latency...)
		a.LatencySum = x.LatencySum
	}
	return a
}

// Check reports whether st has the shape a shadow's Stats have: ops named
// as tzrpc names them (or UNKNOWN), each once; errnos likewise; latency
// histograms of the right length; endpoints of the known kinds, names and
// numbers within bounds. The supervisor takes a shadow's counters only if
// they pass: a shadow runs with its TA's identity, and names it sends
// become metric labels and log fields.
func (st *Stats) Check() error {
	if st.OpenDescriptors < 0 {
		return fmt.Errorf("stats: %d open descriptors", st.OpenDescriptors)
	}
	seen := make(map[string]bool, len(st.Ops))
	for _, o := range st.Ops {
		if !knownName(o.Op, func(i int) string { return tzrpc.Op(i).String() }, opSlots) || seen[o.Op] {
			return fmt.Errorf("stats: op %.40q unknown or repeated", o.Op)
		}
		seen[o.Op] = true
		for e := range o.Errors {
			if !knownName(e, func(i int) string { return tzrpc.Errno(i).String() }, errnoSlots) {
				return fmt.Errorf("stats: op %s: errno %.40q unknown", o.Op, e)
			}
		}
		if n := len(o.Latency); n != 0 && n != len(latencyBounds)+1 {
			return fmt.Errorf("stats: op %s: %d latency buckets, want %d", o.Op, n, len(latencyBounds)+1)
		}
		// The status views add the buckets up (cumulative counts): a
		// sum that wraps would make a histogram that goes down.
		var sum, carry uint64
		for _, n := range o.Latency {
			if sum, carry = bits.Add64(sum, n, 0); carry != 0 {
				return fmt.Errorf("stats: op %s: latency buckets add up past 2^64", o.Op)
			}
		}
		if o.LatencySum < 0 {
			return fmt.Errorf("stats: op %s: negative latency sum", o.Op)
		}
	}
	if len(st.Endpoints) > MaxEndpoints+numKinds {
		return fmt.Errorf("stats: %d endpoints, at most %d", len(st.Endpoints), MaxEndpoints+numKinds)
	}
	eps := make(map[Endpoint]bool, len(st.Endpoints))
	for _, e := range st.Endpoints {
		if !slices.Contains(kinds[:], e.Kind) || len(e.Name) > MaxEndpointName || !utf8.ValidString(e.Name) {
			return fmt.Errorf("stats: endpoint %.20q %.40q: unknown kind, or a name too long or not UTF-8", e.Kind, e.Name)
		}
		if eps[e.Endpoint] {
			return fmt.Errorf("stats: endpoint %s %.40q repeated", e.Kind, e.Name)
		}
		eps[e.Endpoint] = true
	}
	return nil
}

// knownName reports whether name is UNKNOWN or name(i) for some i in
// 1..slots-1 (names of numbers a version of tzrpc does not define are
// "Op(27)", "errno(57)": as many as there are slots).
func knownName(name string, nameOf func(int) string, slots int) bool {
	if name == "UNKNOWN" {
		return true
	}
	for i := 1; i < slots; i++ {
		if nameOf(i) == name {
			return true
		}
	}
	return false
}
