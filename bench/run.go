// Package bench measures what tzbridge costs, the way the TZmediator paper
// did: the round trip of an N-byte message between a client (CA) and the
// echo TA through the bridge, against the same client and a plain echo
// peer in another normal-world process (CA↔CA), over named pipes, UNIX,
// TCP and UDP sockets; bulk throughput both ways; and the null call, one
// mailbox hand-off with no work.
//
// The comparison is kept fair: one client implementation (blocking
// syscalls on one locked thread) talks to both; the direct peer is the
// fastest plain echo server (blocking syscalls, a thread per endpoint) in
// a process of its own; the bridge is `tzbridge run` with the demo
// configuration, as a user runs it. Direct and bridged samples are taken
// in alternating rounds of the same run, so that drift on a noisy machine
// falls on both, and every ratio compares numbers of one run.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/internal/echotest"
	"github.com/tzmediator/tzbridge/internal/syncbuf"
)

// Options configure a run. Zero values take the defaults.
type Options struct {
	// Exe is the tzbridge binary, re-executed for the peer, the bridge and
	// the secure world.
	Exe string
	// Transports to measure, from Transports; nil means all the TA serves,
	// empty none.
	Transports []string
	// Sizes are the message sizes in bytes; default 4096. UDP sizes are
	// capped at MaxUDP.
	Sizes []int
	// Samples is the number of round trips timed each way per transport
	// and size (fewer for large messages, to keep within CellBudget).
	Samples int
	// Warmup round trips each way come first and are not timed.
	Warmup int
	// Rounds is the number of alternations between direct and bridged.
	Rounds int
	// Runs repeats the round trips and bulk transfers this many times,
	// each against a freshly started bridge and peer, and reports the
	// medians; default 1. Where the kernel places the client, the shadow
	// and the secure world on a small machine is decided at start and
	// holds for a run, and moves a run's figures by 2× either way.
	Runs int
	// CellBudget bounds the time one transport and size may take.
	CellBudget time.Duration
	// BulkBytes is the size of each bulk transfer; negative skips them.
	BulkBytes int64
	// BulkTransports are the stream transports given a bulk transfer.
	BulkTransports []string
	// NullCalls is the number of null calls timed; negative skips them.
	NullCalls int
	// Config is the bridge's configuration; default DefaultConfig.
	Config string
	// TA names the configuration's TA to measure; empty: its only TA.
	// Transports defaults to what that TA serves.
	TA string
	// Profile, if set, also traces a short window of bridged round trips
	// and one of direct round trips per transport with tracefs, and breaks
	// the median round trip down into its steps (Report.Profiles). It
	// needs tracefs (Tracefs) and root.
	Profile bool
	// ProfileWindow is how long each traced window lasts; default
	// DefaultProfileWindow.
	ProfileWindow time.Duration
	// ProfileTraces, if set, is a directory where the raw traces are kept
	// (<transport>-bridged.trace, <transport>-direct.trace).
	ProfileTraces string
	// Tracefs is where tracefs is mounted; default DefaultTracefs.
	Tracefs string
	// Progress, if set, is told the total amount of work once and then
	// each piece done, with what is being measured.
	Progress Progress

	// target is the TA measured, read from Config by setDefaults.
	target target
}

// Progress follows a run.
type Progress interface {
	Start(total int64)
	Add(n int64, what string)
}

type noProgress struct{}

func (noProgress) Start(int64)       {}
func (noProgress) Add(int64, string) {}

// Defaults.
const (
	DefaultSamples   = 5000
	DefaultWarmup    = 500
	DefaultRounds    = 10
	DefaultBulkBytes = 64 << 20
	DefaultNullCalls = 20000
	minSamples       = 20
	maxRuns          = 100
)

// DefaultBulkTransports are the stream transports bulk runs use.
var DefaultBulkTransports = []string{FIFO, Unix, TCP}

func (o *Options) setDefaults() error {
	if o.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the tzbridge binary: %w", err)
		}
		o.Exe = exe
	}
	if o.Config == "" {
		o.Config = DefaultConfig
	}
	var err error
	if o.target, err = resolveTarget(o.Config, o.TA); err != nil {
		return err
	}
	if o.Transports, err = o.target.transports(o.Transports); err != nil {
		return err
	}
	if len(o.Sizes) == 0 {
		o.Sizes = []int{4096}
	}
	for _, s := range o.Sizes {
		if s < 1 || s > maxSize {
			return fmt.Errorf("message size %d: want 1 byte to 64 MiB", s)
		}
	}
	if o.Samples <= 0 {
		o.Samples = DefaultSamples
	}
	if o.Warmup <= 0 {
		o.Warmup = DefaultWarmup
	}
	if o.Rounds <= 0 {
		o.Rounds = DefaultRounds
	}
	if o.Runs <= 0 {
		o.Runs = 1
	}
	if o.Runs > maxRuns {
		return fmt.Errorf("%d runs: want 1 to %d", o.Runs, maxRuns)
	}
	if o.CellBudget <= 0 {
		o.CellBudget = 8 * time.Second
	}
	if o.BulkBytes == 0 {
		o.BulkBytes = DefaultBulkBytes
	}
	if o.BulkTransports == nil {
		o.BulkTransports = DefaultBulkTransports
	}
	for _, t := range o.BulkTransports {
		if t == UDP || !slices.Contains(Transports, t) {
			return fmt.Errorf("bulk transfer over %q: want one of fifo, unix, tcp", t)
		}
	}
	if o.NullCalls == 0 {
		o.NullCalls = DefaultNullCalls
	}
	if o.Progress == nil {
		o.Progress = noProgress{}
	}
	if o.ProfileWindow <= 0 {
		o.ProfileWindow = DefaultProfileWindow
	}
	if o.Tracefs == "" {
		o.Tracefs = DefaultTracefs
	}
	return nil
}

// cells are the (transport, size) pairs to measure, UDP sizes capped.
func (o *Options) cells() []cell {
	var cs []cell
	for _, t := range Transports {
		if !slices.Contains(o.Transports, t) {
			continue
		}
		var done []int
		for _, s := range o.Sizes {
			c := cell{transport: t, size: s}
			if t == UDP && s > MaxUDP {
				c.size = MaxUDP
				c.note = fmt.Sprintf("UDP capped at %d bytes (asked %d)", MaxUDP, s)
			}
			if slices.Contains(done, c.size) {
				continue
			}
			done = append(done, c.size)
			cs = append(cs, c)
		}
	}
	return cs
}

type cell struct {
	transport string
	size      int
	note      string
}

// Run measures everything opt asks for. It needs root: the bridge mounts
// its tree with FUSE.
func Run(ctx context.Context, opt Options) (_ *Report, retErr error) {
	if err := opt.setDefaults(); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("bench runs tzbridge run, which mounts a FUSE tree: run it as root")
	}
	rep := &Report{
		Machine:     ThisMachine(),
		TA:          opt.target.Name,
		SecureWorld: opt.target.SecureWorld,
		Settings:    Settings{Samples: opt.Samples, Warmup: opt.Warmup, Rounds: opt.Rounds, Runs: opt.Runs, BulkBytes: max(opt.BulkBytes, 0)},
	}
	var prof *profiler
	if opt.Profile {
		tr, err := openTracer(opt.Tracefs)
		if err != nil {
			return nil, fmt.Errorf("--profile: %w", err)
		}
		defer func() {
			if err := tr.close(); err != nil && retErr == nil {
				retErr = fmt.Errorf("--profile: %w", err)
			}
		}()
		prof = &profiler{tr: tr, window: opt.ProfileWindow, proc: "/proc", traces: opt.ProfileTraces}
	}
	cells := opt.cells()
	var bulk []string
	if opt.BulkBytes > 0 {
		for _, t := range opt.BulkTransports {
			if slices.Contains(opt.Transports, t) {
				bulk = append(bulk, t)
			}
		}
	}
	// Progress units: a round trip, a MiB of bulk transfer, a null call.
	bulkUnits := max(opt.BulkBytes>>20, 1)
	total := int64(len(cells)) * 2 * int64(opt.Warmup+opt.Samples)
	total += int64(len(bulk)) * 4 * bulkUnits
	total *= int64(opt.Runs)
	if opt.NullCalls > 0 {
		total += int64(opt.NullCalls + opt.NullCalls/10)
	}
	opt.Progress.Start(total)

	if len(cells) > 0 || len(bulk) > 0 {
		for i := range opt.Runs {
			run := &Report{}
			if i > 0 {
				prof = nil // one profile is enough, and each takes a while
			}
			if err := runBridged(ctx, &opt, run, cells, bulk, bulkUnits, prof); err != nil {
				return nil, err
			}
			if i == 0 {
				rep.Notes, rep.Profiles = run.Notes, run.Profiles
			}
			rep.Runs = append(rep.Runs, RunFigures{Results: run.Results, Throughput: run.Throughput})
		}
		rep.Results, rep.Throughput = medianOfRuns(rep.Runs)
		if opt.Runs == 1 {
			rep.Runs = nil
		}
	}
	if opt.NullCalls > 0 {
		opt.Progress.Add(0, "null call")
		s, err := measureNullCall(ctx, &opt, opt.NullCalls/10, opt.NullCalls, func(n int) { opt.Progress.Add(int64(n), "null call") })
		if err != nil {
			return nil, err
		}
		rep.SetNullCall(s, opt.target.SecureWorld)
	}
	return rep, nil
}

// runBridged starts the peer and the bridge and measures the cells and
// bulk transfers against both.
func runBridged(ctx context.Context, opt *Options, rep *Report, cells []cell, bulk []string, bulkUnits int64, prof *profiler) error {
	stopPeer, ep, peerPid, err := startPeer(opt.Exe)
	if err != nil {
		return err
	}
	defer stopPeer()
	br, err := startBridge(opt.Exe, opt.Config, opt.target, opt.Transports, 30*time.Second)
	if err != nil {
		return err
	}
	defer br.stop()

	// The client's thread: every round trip of the run is made from it.
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if prof != nil {
			prof.client, prof.bridgePid, prof.peerPid = unix.Gettid(), br.Pid(), peerPid
		}
		errc <- measureAll(ctx, opt, rep, cells, bulk, bulkUnits, ep, br, prof)
	}()
	return <-errc
}

func measureAll(ctx context.Context, opt *Options, rep *Report, cells []cell, bulk []string, bulkUnits int64, ep Endpoints, br *bridge, prof *profiler) error {
	for _, t := range Transports {
		var mine []cell
		for _, c := range cells {
			if c.transport == t {
				mine = append(mine, c)
			}
		}
		doBulk := slices.Contains(bulk, t)
		if len(mine) == 0 && !doBulk {
			continue
		}
		direct, err := dial(t, ep)
		if err != nil {
			return fmt.Errorf("direct peer: %w", err)
		}
		bridged, err := dial(t, br.endpoints())
		if err != nil {
			direct.close()
			return fmt.Errorf("bridge: %w\n%s", err, br.output())
		}
		err = func() error {
			for _, c := range mine {
				if err := ctx.Err(); err != nil {
					return err
				}
				r, err := measureCell(opt, c, direct, bridged)
				if err != nil {
					return err
				}
				rep.Results = append(rep.Results, r)
				if c.note != "" {
					rep.Notes = append(rep.Notes, c.note)
				}
			}
			if doBulk {
				th, err := measureBulk(opt, t, direct, bridged, bulkUnits)
				if err != nil {
					return err
				}
				rep.Throughput = append(rep.Throughput, th)
			}
			if prof != nil && len(mine) > 0 {
				opt.Progress.Add(0, "profile "+t)
				p, err := prof.profile(ctx, t, profileSize(mine, t), direct, bridged)
				if err != nil {
					return err
				}
				rep.Profiles = append(rep.Profiles, p)
			}
			return nil
		}()
		if err != nil && br.exited() {
			err = fmt.Errorf("%w; tzbridge run exited: %v\n%s", err, br.Err(), br.output())
		}
		direct.close()
		bridged.close()
		if err != nil {
			return err
		}
	}
	return nil
}

// measureCell times one transport and size: warm-up, then rounds that
// alternate direct and bridged (ABBA…), so that drift falls on both.
func measureCell(opt *Options, c cell, direct, bridged *conn) (Result, error) {
	label := fmt.Sprintf("%s %s", c.transport, FormatSize(int64(c.size)))
	msg := echotest.Payload(c.size)
	buf := make([]byte, c.size)
	pair := [2]*conn{direct, bridged}
	names := [2]string{"direct", "bridged"}
	planned := int64(2 * (opt.Warmup + opt.Samples))
	var done int64

	// Warm up, checking the echo; at most a quarter of the budget.
	warmStart := time.Now()
	warm := 0
	for warm < opt.Warmup {
		for i, cn := range pair {
			if err := cn.roundTrip(msg, buf); err != nil {
				return Result{}, fmt.Errorf("%s %s: %w", names[i], label, err)
			}
			if !bytes.Equal(buf, msg) {
				return Result{}, fmt.Errorf("%s %s: the echo differs from what was sent", names[i], label)
			}
		}
		warm++
		if warm%50 == 0 {
			opt.Progress.Add(100, label)
			done += 100
		}
		if warm >= 3 && time.Since(warmStart) > opt.CellBudget/4 {
			break
		}
	}
	perPair := time.Since(warmStart) / time.Duration(warm)
	n := opt.Samples
	if perPair > 0 {
		if fit := int((opt.CellBudget * 3 / 4) / perPair); fit < n {
			n = max(fit, minSamples)
		}
	}
	rounds := min(opt.Rounds, n)
	per := (n + rounds - 1) / rounds
	samples := [2][]time.Duration{make([]time.Duration, 0, per*rounds), make([]time.Duration, 0, per*rounds)}
	for r := range rounds {
		order := [2]int{0, 1}
		if r%2 == 1 {
			order = [2]int{1, 0}
		}
		for _, i := range order {
			cn := pair[i]
			for range per {
				t0 := time.Now()
				if err := cn.roundTrip(msg, buf); err != nil {
					return Result{}, fmt.Errorf("%s %s: %w", names[i], label, err)
				}
				samples[i] = append(samples[i], time.Since(t0))
			}
			opt.Progress.Add(int64(per), label)
			done += int64(per)
		}
	}
	opt.Progress.Add(max(planned-done, 0), label)
	res := NewResult(c.transport, c.size, Summarize(samples[0]), Summarize(samples[1]))
	res.Note = c.note
	return res, nil
}

// measureBulk transfers opt.BulkBytes each way, twice in ABBA order, and
// keeps each side's faster run.
func measureBulk(opt *Options, t string, direct, bridged *conn, units int64) (Throughput, error) {
	label := fmt.Sprintf("%s bulk %s", t, FormatSize(opt.BulkBytes))
	best := [2]time.Duration{}
	pair := [2]*conn{direct, bridged}
	for _, i := range []int{0, 1, 1, 0} {
		d, err := pair[i].bulk(opt.BulkBytes)
		if err != nil {
			return Throughput{}, fmt.Errorf("%s: %w", label, err)
		}
		if best[i] == 0 || d < best[i] {
			best[i] = d
		}
		opt.Progress.Add(units, label)
	}
	return NewThroughput(t, opt.BulkBytes, best[0], best[1]), nil
}

// startPeer runs `exe bench --peer DIR` and reads its endpoints; stop ends
// it and removes DIR.
func startPeer(exe string) (stop func(), _ Endpoints, pid int, _ error) {
	var ep Endpoints
	dir, err := os.MkdirTemp("", "tzbridge-bench-peer.")
	if err != nil {
		return nil, ep, 0, err
	}
	cmd := exec.Command(exe, "bench", "--peer", dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, ep, 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, ep, 0, err
	}
	log := &syncbuf.Buffer{}
	cmd.Stderr = log
	c, err := startChild("direct peer", cmd)
	if err != nil {
		os.RemoveAll(dir)
		return nil, ep, 0, err
	}
	c.log = log
	cleanup := func() {
		stdin.Close()
		c.stop(5 * time.Second)
		os.RemoveAll(dir)
	}
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		cleanup()
		return nil, ep, 0, fmt.Errorf("direct peer: %v\n%s", err, log.String())
	}
	if err := json.Unmarshal(line, &ep); err != nil {
		cleanup()
		return nil, ep, 0, fmt.Errorf("direct peer: %w", err)
	}
	go io.Copy(io.Discard, stdout)
	return cleanup, ep, c.Pid(), nil
}
