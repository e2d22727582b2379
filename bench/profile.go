package bench

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Profile is where the round trips of one transport spent their time, from
// a short window of kernel events (tracefs) recorded while the client made
// round trips through the bridge, and then to the direct peer.
type Profile struct {
	Transport string `json:"transport"`
	Size      int    `json:"size"`
	// WindowMS is the length of each traced window.
	WindowMS float64    `json:"window_ms"`
	Bridged  *Breakdown `json:"bridged,omitempty"`
	Direct   *Breakdown `json:"direct,omitempty"`
	Notes    []string   `json:"notes,omitempty"`
}

// Breakdown splits the round trips of one traced window into segments
// that follow one another from the client's send to the client's receive.
type Breakdown struct {
	// Server is who echoed: "shadow" (bridged) or "peer" (direct).
	Server string `json:"server"`
	// RoundTrips is the number of complete round trips in the trace;
	// Matched of them had Shape, the most common sequence of the server's
	// syscalls, and are the ones summarized.
	RoundTrips int      `json:"round_trips"`
	Matched    int      `json:"matched"`
	Shape      []string `json:"shape"`
	// TotalP50US and TotalP90US are the traced round trips (tracing makes
	// them slower than untraced ones).
	TotalP50US float64 `json:"total_p50_us"`
	TotalP90US float64 `json:"total_p90_us"`
	// Band is the number of round trips around the median (40th to 60th
	// percentile of the total) whose segments are averaged into
	// Segment.MedianTripUS: a breakdown that adds up to the median round
	// trip.
	Band     int       `json:"band"`
	Segments []Segment `json:"segments"`
	// SendUS is the server's last send, enter to exit (median): it wakes
	// the client and overlaps the last segment.
	SendUS float64 `json:"send_us"`
	// ClientSend and ClientRecv are the client's syscalls.
	ClientSend string `json:"client_send"`
	ClientRecv string `json:"client_recv"`
	// ClientSendUS is the client's send, enter to exit (median): it wakes
	// the server and overlaps the first segment.
	ClientSendUS float64 `json:"client_send_us"`
	// WakeServerUS and WakeClientUS are the wake-up latencies (median),
	// from the kernel's sched_waking of the sleeping thread to the switch
	// to it, over the round trips in which it slept (WokeServer,
	// WokeClient: the fraction of round trips).
	WakeServerUS float64 `json:"wake_server_us"`
	WokeServer   float64 `json:"woke_server"`
	WakeClientUS float64 `json:"wake_client_us"`
	WokeClient   float64 `json:"woke_client"`
	// ClientFrom says what the client's CPU ran when the client, woken,
	// was switched in: fractions of those wake-ups for "idle", "secure
	// world", "server" and "other".
	ClientFrom map[string]float64 `json:"client_switched_in_from,omitempty"`
	// ServerWaiting is the fraction of round trips in which the server
	// was already in its first syscall (waiting) when the client sent;
	// in the others, the previous round trip's last gap (hand-off) was
	// still running and the server entered it later (first segment).
	ServerWaiting float64 `json:"server_waiting"`
	// Per round trip, means over the matched ones: context switches of
	// the client's and the server's threads, their CPU migrations, the
	// doorbell's sched_yield and futex calls made by the server.
	Switches   float64 `json:"context_switches"`
	Migrations float64 `json:"migrations"`
	Yields     float64 `json:"sched_yields"`
	Futexes    float64 `json:"futexes"`
	// SameCPU is the fraction of round trips in which the server woke up
	// on the CPU the client sent from.
	SameCPU float64 `json:"same_cpu"`
	// GapsSwitched is the fraction of the server's gaps between two
	// syscalls (the hand-offs, when bridged) in which it was switched out;
	// GapsToSecureWorld the fraction in which the CPU went to a thread of
	// the secure world.
	GapsSwitched      float64 `json:"gaps_switched"`
	GapsToSecureWorld float64 `json:"gaps_to_secure_world,omitempty"`
}

// Segment is one step of a round trip.
type Segment struct {
	Name string `json:"name"`
	// Kind is "wake" (a thread waking up for the other's syscall),
	// "gap" (the server between two syscalls: for the shadow, a hand-off
	// to the secure world and back; or, first, the rest of the previous
	// round trip) or "syscall".
	Kind string `json:"kind"`
	// MedianTripUS is the mean over the round trips around the median;
	// P50US and P90US are over all matched round trips.
	MedianTripUS float64 `json:"median_trip_us"`
	P50US        float64 `json:"p50_us"`
	P90US        float64 `json:"p90_us"`
}

// traceThreads names the threads a trace is analysed for.
type traceThreads struct {
	// Client is the thread making the round trips.
	Client int
	// Server are the threads of the echoing process; the one that makes
	// the most descriptor syscalls is taken for the echo's worker.
	Server []int
	// SecureWorld are the simulator's threads, if known.
	SecureWorld []int
}

// sysCall is one completed syscall of a thread.
type sysCall struct {
	nr          int64
	name        string
	class       sysClass
	enter, exit int64 // enter is -1 when the trace began inside the call
	ret         int64
	exitCPU     int
}

// tripSample is what one round trip measured.
type tripSample struct {
	total      int64
	segs       []int64
	send       int64 // -1: the send's exit is not in the trace
	clientSend int64 // -1: likewise
	wakeServer int64 // -1: the server did not sleep
	wakeClient int64 // -1: the client did not sleep
	clientFrom string
	waiting    bool
	switches   int
	migrations int
	yields     int
	futexes    int
	sameCPU    bool
	gaps       int
	switched   int
	toSW       int
}

// analyseTrace breaks the round trips of tr down. server names the echoing
// side in the segment names ("shadow", "peer"). It returns an error when
// the trace holds no round trip it can follow.
func analyseTrace(tr trace, th traceThreads, server string) (*Breakdown, error) {
	evs := slices.Clone(tr.events)
	slices.SortStableFunc(evs, func(a, b traceEvent) int { return cmp.Compare(a.ts, b.ts) })

	worker := pickWorker(evs, th.Server)
	if worker == 0 {
		return nil, fmt.Errorf("no descriptor syscalls of the %s's threads %v in the trace", server, th.Server)
	}
	calls := syscallsOf(evs, worker)
	ct := clientTrips(evs, th.Client)
	starts, ends, sendName, recvName := ct.starts, ct.ends, ct.sendName, ct.recvName
	if len(starts) == 0 {
		return nil, fmt.Errorf("no complete round trip of the client thread %d in the trace", th.Client)
	}
	tracked := map[int]bool{th.Client: true, worker: true}
	sw := map[int]bool{}
	for _, t := range th.SecureWorld {
		sw[t] = true
	}

	// Follow each round trip through the worker's syscalls.
	type trip struct {
		shape []string
		s     tripSample
	}
	var trips []trip
	ci := 0 // first call that may belong to the current round trip
	for k := range starts {
		t0, t1 := starts[k], ends[k]
		for ci < len(calls) && calls[ci].exit <= t0 {
			ci++
		}
		// The chain: the first wait or receive to return after t0, up to
		// the last send entered before t1; doorbell calls are counted,
		// not chained.
		var chain []int
		var yields, futexes int
		first := -1
		for j := ci; j < len(calls) && calls[j].exit < t1; j++ {
			c := calls[j]
			if first < 0 {
				if c.class == sysWait || c.class == sysRecv {
					first = j
					chain = append(chain, j)
				}
				continue
			}
			switch c.class {
			case sysYield:
				yields++
			case sysFutex:
				futexes++
			default:
				chain = append(chain, j)
			}
		}
		// A send entered before t1 that had not returned by then.
		for j := ci; first >= 0 && j < len(calls) && calls[j].enter < t1; j++ {
			if calls[j].exit >= t1 && calls[j].class == sysSend && calls[j].enter > calls[first].exit {
				chain = append(chain, j)
			}
		}
		// Drop what follows the last send.
		last := len(chain) - 1
		for last >= 0 && calls[chain[last]].class != sysSend {
			last--
		}
		if first < 0 || last < 1 {
			continue
		}
		chain = chain[:last+1]
		if calls[chain[0]].exit <= t0 || slices.ContainsFunc(chain[1:], func(j int) bool { return calls[j].enter < 0 }) {
			continue
		}
		w := calls[chain[0]]
		s := tripSample{total: t1 - t0, send: -1, clientSend: -1, yields: yields, futexes: futexes, sameCPU: ct.cpus[k] == w.exitCPU}
		if ct.sendExits[k] >= t0 {
			s.clientSend = ct.sendExits[k] - t0
		}
		s.wakeServer, _ = wakeLatency(evs, worker, t0, w.exit)
		var from int
		s.wakeClient, from = wakeLatency(evs, th.Client, calls[chain[len(chain)-1]].enter, t1)
		if s.wakeClient >= 0 {
			switch {
			case from == 0:
				s.clientFrom = "idle"
			case sw[from]:
				s.clientFrom = "secure world"
			case slices.Contains(th.Server, from):
				s.clientFrom = "server"
			default:
				s.clientFrom = "other"
			}
		}
		shape := make([]string, 0, len(chain))
		for _, j := range chain {
			shape = append(shape, calls[j].name)
		}
		// Until the server enters its first call (0 if it was waiting
		// in it), then until that call returns.
		entered := max(w.enter, t0)
		s.waiting = w.enter >= 0 && w.enter <= t0
		if w.enter < 0 {
			entered = t0 // the trace began inside the call
			s.waiting = true
		}
		s.segs = append(s.segs, entered-t0, w.exit-entered)
		for i := 1; i < len(chain); i++ {
			prev, c := calls[chain[i-1]], calls[chain[i]]
			s.segs = append(s.segs, c.enter-prev.exit)
			s.gaps++
			switched, toSW := switchedOut(evs, worker, prev.exit, c.enter, sw)
			if switched {
				s.switched++
			}
			if toSW {
				s.toSW++
			}
			if i < len(chain)-1 {
				s.segs = append(s.segs, c.exit-c.enter)
			} else {
				s.segs = append(s.segs, t1-c.enter)
				if c.exit >= c.enter {
					s.send = c.exit - c.enter
				}
			}
		}
		s.switches, s.migrations = schedCounts(evs, tracked, t0, t1)
		trips = append(trips, trip{shape: shape, s: s})
	}
	if len(trips) == 0 {
		return nil, fmt.Errorf("none of the client's %d round trips could be followed through the %s's syscalls", len(starts), server)
	}

	// The most common shape.
	count := map[string]int{}
	best := ""
	for _, t := range trips {
		key := strings.Join(t.shape, ",")
		count[key]++
		if count[key] > count[best] || (count[key] == count[best] && key < best) {
			best = key
		}
	}
	var shape []string
	var samples []tripSample
	for _, t := range trips {
		if strings.Join(t.shape, ",") == best {
			shape = t.shape
			samples = append(samples, t.s)
		}
	}
	b := &Breakdown{Server: server, RoundTrips: len(trips), Matched: len(samples), Shape: shape, ClientSend: sendName, ClientRecv: recvName}
	b.summarize(samples, segmentNames(shape, server, sendName, recvName))
	return b, nil
}

// summarize fills the statistics of b from samples of one shape.
func (b *Breakdown) summarize(samples []tripSample, names []segName) {
	n := len(samples)
	totals := make([]time.Duration, n)
	for i, s := range samples {
		totals[i] = time.Duration(s.total)
	}
	tot := Summarize(slices.Clone(totals))
	b.TotalP50US = round(micros(tot.P50), 2)
	b.TotalP90US = round(micros(tot.P90), 2)

	// The band around the median: 40th to 60th percentile of the total.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(samples[x].total, samples[y].total) })
	lo, hi := n*40/100, max(n*60/100, n*40/100+1)
	band := order[lo:min(hi, n)]
	b.Band = len(band)

	for i, nm := range names {
		all := make([]time.Duration, n)
		var sum int64
		for j, s := range samples {
			all[j] = time.Duration(s.segs[i])
		}
		for _, j := range band {
			sum += samples[j].segs[i]
		}
		sm := Summarize(all)
		b.Segments = append(b.Segments, Segment{
			Name:         nm.name,
			Kind:         nm.kind,
			MedianTripUS: round(float64(sum)/float64(len(band))/1e3, 2),
			P50US:        round(micros(sm.P50), 2),
			P90US:        round(micros(sm.P90), 2),
		})
	}
	var sends, csends, wakeS, wakeC []time.Duration
	var sw, mig, y, fx, same, gaps, switched, toSW, waiting int
	from := map[string]int{}
	for _, s := range samples {
		if s.clientFrom != "" {
			from[s.clientFrom]++
		}
		if s.waiting {
			waiting++
		}
		if s.send >= 0 {
			sends = append(sends, time.Duration(s.send))
		}
		if s.clientSend >= 0 {
			csends = append(csends, time.Duration(s.clientSend))
		}
		if s.wakeServer >= 0 {
			wakeS = append(wakeS, time.Duration(s.wakeServer))
		}
		if s.wakeClient >= 0 {
			wakeC = append(wakeC, time.Duration(s.wakeClient))
		}
		sw += s.switches
		mig += s.migrations
		y += s.yields
		fx += s.futexes
		if s.sameCPU {
			same++
		}
		gaps += s.gaps
		switched += s.switched
		toSW += s.toSW
	}
	b.SendUS = round(micros(Summarize(sends).P50), 2)
	b.ClientSendUS = round(micros(Summarize(csends).P50), 2)
	per := func(x int) float64 { return round(float64(x)/float64(n), 2) }
	b.WakeServerUS, b.WokeServer = round(micros(Summarize(wakeS).P50), 2), per(len(wakeS))
	b.WakeClientUS, b.WokeClient = round(micros(Summarize(wakeC).P50), 2), per(len(wakeC))
	b.ServerWaiting = per(waiting)
	if len(wakeC) > 0 {
		b.ClientFrom = map[string]float64{}
		for k, v := range from {
			b.ClientFrom[k] = round(float64(v)/float64(len(wakeC)), 2)
		}
	}
	b.Switches, b.Migrations, b.Yields, b.Futexes, b.SameCPU = per(sw), per(mig), per(y), per(fx), per(same)
	if gaps > 0 {
		b.GapsSwitched = round(float64(switched)/float64(gaps), 2)
		b.GapsToSecureWorld = round(float64(toSW)/float64(gaps), 2)
	}
}

type segName struct{ name, kind string }

// segmentNames names the segments of a round trip whose server made the
// syscalls in shape: the wake, then gap and syscall in turn, the last
// send running until the client's receive returns.
func segmentNames(shape []string, server, sendName, recvName string) []segName {
	gap := "gap"
	if server == "shadow" {
		gap = "hand-off"
	}
	names := []segName{
		{fmt.Sprintf("CA %s → %s enters %s (previous trip's tail)", sendName, server, shape[0]), "gap"},
		{fmt.Sprintf("%s %s returns (the wake, if it waited)", server, shape[0]), "wake"},
	}
	for i := 1; i < len(shape); i++ {
		names = append(names, segName{fmt.Sprintf("%s %d (%s → %s)", gap, i, shape[i-1], shape[i]), "gap"})
		if i < len(shape)-1 {
			names = append(names, segName{fmt.Sprintf("%s %s", server, shape[i]), "syscall"})
		} else {
			names = append(names, segName{fmt.Sprintf("%s %s → CA's %s returns", server, shape[i], recvName), "wake"})
		}
	}
	return names
}

// pickWorker is the thread of candidates with the most descriptor
// syscalls (wait, receive, send) in evs; 0 if none has any.
func pickWorker(evs []traceEvent, candidates []int) int {
	n := map[int]int{}
	for _, c := range candidates {
		n[c] = 0
	}
	for _, e := range evs {
		if e.kind != evSysEnter {
			continue
		}
		if _, ok := n[e.tid]; !ok {
			continue
		}
		if _, cl := syscallInfo(e.nr); cl == sysWait || cl == sysRecv || cl == sysSend {
			n[e.tid]++
		}
	}
	best := 0
	for _, c := range candidates {
		if n[c] > 0 && (best == 0 || n[c] > n[best]) {
			best = c
		}
	}
	return best
}

// syscallsOf pairs the syscall enters and exits of tid, in order.
func syscallsOf(evs []traceEvent, tid int) []sysCall {
	var out []sysCall
	pending := int64(-1) // enter time of the open call
	var pendingNR int64 = -1
	for _, e := range evs {
		if e.tid != tid {
			continue
		}
		switch e.kind {
		case evSysEnter:
			pending, pendingNR = e.ts, e.nr
		case evSysExit:
			name, cl := syscallInfo(e.nr)
			enter := int64(-1)
			if pendingNR == e.nr {
				enter = pending
			}
			out = append(out, sysCall{nr: e.nr, name: name, class: cl, enter: enter, exit: e.ts, ret: e.ret, exitCPU: e.cpu})
			pending, pendingNR = -1, -1
		}
	}
	return out
}

// clientRoundTrips are the client's round trips in a trace.
type clientRoundTrips struct {
	starts, ends []int64 // the send's enter, the last receive's exit
	sendExits    []int64 // the first send's exit (-1: not seen)
	cpus         []int   // where the send was entered
	// The names of the client's send and receive syscalls.
	sendName, recvName string
}

// clientTrips finds the client's round trips: from the enter of a send
// that follows a receive (or starts the trace) to the exit of the last
// successful receive before the next such send. The last one, which the
// window may have cut, is dropped.
func clientTrips(evs []traceEvent, client int) clientRoundTrips {
	var ct clientRoundTrips
	var start, end, sendExit int64 = -1, -1, -1
	var cpu int
	received := true // a send now starts a round trip
	for _, e := range evs {
		if e.kind != evSysEnter && e.kind != evSysExit || e.tid != client {
			continue
		}
		name, cl := syscallInfo(e.nr)
		switch {
		case e.kind == evSysEnter && cl == sysSend && received:
			if start >= 0 && end > start {
				ct.starts, ct.ends = append(ct.starts, start), append(ct.ends, end)
				ct.sendExits, ct.cpus = append(ct.sendExits, sendExit), append(ct.cpus, cpu)
			}
			start, end, sendExit, cpu = e.ts, -1, -1, e.cpu
			received = false
			ct.sendName = name
		case e.kind == evSysExit && cl == sysSend && start >= 0 && sendExit < 0:
			sendExit = e.ts
		case e.kind == evSysExit && cl == sysRecv && e.ret > 0 && start >= 0:
			end = e.ts
			received = true
			ct.recvName = name
		}
	}
	return ct
}

// wakeLatency is the time from the first sched_waking (or wakeup) of tid
// between from and to, to the next switch to tid, and the task switched
// from; -1 if tid was not woken then.
func wakeLatency(evs []traceEvent, tid int, from, to int64) (int64, int) {
	i, _ := slices.BinarySearchFunc(evs, from, func(e traceEvent, t int64) int { return cmp.Compare(e.ts, t) })
	woken := int64(-1)
	for ; i < len(evs) && evs[i].ts <= to; i++ {
		e := evs[i]
		switch {
		case woken < 0 && e.kind == evWakeup && e.pid == tid:
			woken = e.ts
		case woken >= 0 && e.kind == evSwitch && e.next == tid:
			return e.ts - woken, e.prev
		}
	}
	return -1, 0
}

// switchedOut says whether tid was switched out on some CPU between from
// and to, and whether the CPU it left went to one of sw.
func switchedOut(evs []traceEvent, tid int, from, to int64, sw map[int]bool) (switched, toSW bool) {
	i, _ := slices.BinarySearchFunc(evs, from, func(e traceEvent, t int64) int { return cmp.Compare(e.ts, t) })
	for ; i < len(evs) && evs[i].ts <= to; i++ {
		if e := evs[i]; e.kind == evSwitch && e.prev == tid {
			switched = true
			if sw[e.next] {
				toSW = true
			}
		}
	}
	return switched, toSW
}

// schedCounts counts the context switches and migrations of the tracked
// threads between from and to.
func schedCounts(evs []traceEvent, tracked map[int]bool, from, to int64) (switches, migrations int) {
	i, _ := slices.BinarySearchFunc(evs, from, func(e traceEvent, t int64) int { return cmp.Compare(e.ts, t) })
	for ; i < len(evs) && evs[i].ts <= to; i++ {
		switch e := evs[i]; e.kind {
		case evSwitch:
			if tracked[e.prev] || tracked[e.next] {
				switches++
			}
		case evMigrate:
			if tracked[e.pid] {
				migrations++
			}
		}
	}
	return switches, migrations
}

// WriteProfiles prints profiles for a terminal, in the style of the
// report's tables.
func WriteProfiles(w io.Writer, profiles []Profile) error {
	var b strings.Builder
	for _, p := range profiles {
		for _, side := range []struct {
			name string
			bd   *Breakdown
		}{{"bridged", p.Bridged}, {"direct", p.Direct}} {
			bd := side.bd
			if bd == nil {
				continue
			}
			fmt.Fprintf(&b, "profile, %s %s %s: %d of %d traced round trips in %.0f ms had the shape %s; traced p50 %.1f µs, p90 %.1f µs:\n",
				side.name, p.Transport, FormatSize(int64(p.Size)), bd.Matched, bd.RoundTrips, p.WindowMS,
				strings.Join(bd.Shape, " → "), bd.TotalP50US, bd.TotalP90US)
			tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "segment\tmedian trip µs\tp50 µs\tp90 µs\t")
			var sum float64
			for _, s := range bd.Segments {
				fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t\n", s.Name, s.MedianTripUS, s.P50US, s.P90US)
				sum += s.MedianTripUS
			}
			fmt.Fprintf(tw, "total (%d round trips around the median)\t%.1f\t%.1f\t%.1f\t\n", bd.Band, sum, bd.TotalP50US, bd.TotalP90US)
			tw.Flush()
			fmt.Fprintf(&b, "  the wakers' syscalls, enter → exit, overlapping the wakes: CA's %s p50 %.1f µs, %s's %s p50 %.1f µs\n",
				bd.ClientSend, bd.ClientSendUS, bd.Server, bd.Shape[len(bd.Shape)-1], bd.SendUS)
			fmt.Fprintf(&b, "  wake-up latency, sched_waking → running: %s p50 %.1f µs (slept in %.0f%% of round trips), CA p50 %.1f µs (%.0f%%)\n",
				bd.Server, bd.WakeServerUS, 100*bd.WokeServer, bd.WakeClientUS, 100*bd.WokeClient)
			fmt.Fprintf(&b, "  %s already waiting in %s when the CA sent: %.0f%%; CA switched in from", bd.Server, bd.Shape[0], 100*bd.ServerWaiting)
			for _, k := range []string{"idle", "secure world", "server", "other"} {
				if v, ok := bd.ClientFrom[k]; ok {
					fmt.Fprintf(&b, " %s %.0f%%", k, 100*v)
				}
			}
			b.WriteString("\n")
			fmt.Fprintf(&b, "  per round trip: %.1f context switches, %.2f migrations, %.1f sched_yield and %.1f futex calls of the %s; CA and %s on one CPU in %.0f%%",
				bd.Switches, bd.Migrations, bd.Yields, bd.Futexes, bd.Server, bd.Server, 100*bd.SameCPU)
			if side.name == "bridged" {
				fmt.Fprintf(&b, "; shadow switched out in %.0f%% of hand-offs (to the secure world in %.0f%%)", 100*bd.GapsSwitched, 100*bd.GapsToSecureWorld)
			}
			b.WriteString("\n\n")
		}
		for _, n := range p.Notes {
			fmt.Fprintf(&b, "note: profile %s: %s\n", p.Transport, n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
