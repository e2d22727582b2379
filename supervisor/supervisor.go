// Package supervisor is `tzbridge run`: given a checked configuration, it
// starts the simulated secure world when no device is configured, mounts
// the /tz tree with each TA's directory and declared endpoints, gives each
// TA its network namespace and proxy addresses (package sockproxy), runs
// one shadow process per TA (`tzbridge shadow`, package
// internal/shadowmain) and restarts it by policy, and on cancellation
// stops everything and leaves nothing behind: no mount, no namespace, no
// process. It is not on the path of a TA's calls. It also restarts the
// simulated secure world when it dies (tee.go), and applies a changed
// configuration to the running set of TAs on request (Options.Reload:
// SIGHUP).
//
// A shadow process starts inside its TA's namespace, as the TA's user,
// with the TA's limits and without the capabilities it does not need; it
// opens its own TEE context. A control socket joins it to the supervisor
// (package internal/control): the spec at start, its counters for the
// status view, its outcome at the end, and sockets from the host
// namespace when the TA's config lets it have them.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/tzmediator/tzbridge/config"
	"github.com/tzmediator/tzbridge/fusefs"
	"github.com/tzmediator/tzbridge/internal/netaddr"
	"github.com/tzmediator/tzbridge/shadow"
	"github.com/tzmediator/tzbridge/sockproxy"
	"github.com/tzmediator/tzbridge/ta/catalog"
)

// Options configure a supervisor.
type Options struct {
	Config *config.Config
	// Executable is the tzbridge binary, re-executed for the secure world
	// and the shadows.
	Executable string
	Logger     *slog.Logger

	// Reload asks for the configuration to be read again (SIGHUP) and
	// applied: added TAs start, removed TAs stop, changed TAs restart,
	// the others are not touched. Nil: no reloads.
	Reload <-chan struct{}
	// LoadConfig reads and checks the configuration for a reload, as the
	// start did (with the same command-line overrides).
	LoadConfig func() (*config.Config, error)
	// OnReload, if set, is called when a reload has been handled: err is
	// nil when the new configuration is in force, and says why otherwise
	// (a configuration that did not load is rejected whole and the
	// running set kept; a TA that could not start is named). It runs on
	// Run's goroutine, between RELOADING=1 and READY=1 for systemd.
	OnReload func(err error)

	// Ready, if set, is called once every TA's declared endpoints and
	// proxy addresses exist — the tree is mounted, FIFOs made, proxy
	// sockets listening — and every wasm TA serves its listen addresses
	// (after its compilation) or has ended trying, so that a CA started
	// from then on finds them; and again when a reload has been handled.
	// A TA may still be starting otherwise: a CA opening a FIFO waits
	// for it, a proxy queues the connection; a declared unix endpoint
	// the TA binds itself appears when it does (a unix proxy address is
	// a link to it, made already). For sd_notify READY=1.
	Ready func()
	// Reloading, if set, is called when a reload begins, before the
	// configuration is read again; Ready follows when it has been
	// handled, whether or not it succeeded (the bridge serves either
	// way). For sd_notify RELOADING=1.
	Reloading func()
	// Status, if set, is called with a one-line summary of the TAs'
	// states ("3 TAs running") once ready and whenever it changes. For
	// sd_notify STATUS=.
	Status func(string)
}

// Run bridges the configured TAs until ctx is done, then shuts down.
func Run(ctx context.Context, opt Options) error {
	cfg, log := opt.Config, opt.Logger
	metrics, err := startMetrics(cfg.Metrics, log)
	if err != nil {
		return err
	}
	defer metrics.close()
	runDir, err := os.MkdirTemp("", "tzbridge-run.")
	if err != nil {
		return fmt.Errorf("runtime directory: %w", err)
	}
	defer os.RemoveAll(runDir)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tee, err := openTEE(ctx, opt.Executable, runDir, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		cancel() // the simulator is restarted no more
		tee.close(log)
	}()

	if log.Enabled(ctx, slog.LevelDebug) && !log.Enabled(ctx, shadow.LevelCall) {
		log.Debug("each TA call gets a line of its own with --log-level trace")
	}
	b := &bridge{opt: opt, cfg: cfg, log: log, tee: tee, level: lowestLevel(log),
		pids: &shadowPIDs{m: map[int]string{}}, tas: map[string]*runningTA{}, metrics: metrics}
	// The tree outlives ctx: it is unmounted only after the shadows have
	// stopped using it.
	b.tree, err = fusefs.Mount(context.WithoutCancel(ctx), fusefs.Options{
		Mountpoint: cfg.Mount,
		Logger:     log.With("component", "fusefs"),
		MayModify:  b.pids.mayModify,
	})
	if err != nil {
		return err
	}
	defer func() {
		start := time.Now()
		if err := b.tree.Close(); err != nil {
			log.Warn("unmount", "mount", cfg.Mount, "err", err)
		}
		log.Info("TA tree unmounted", "mount", cfg.Mount, "took", time.Since(start).Round(time.Millisecond))
	}()
	log.Info("TA tree mounted", "mount", cfg.Mount)

	// Every TA stops (its shadow, then its namespace) before the tree is
	// unmounted and the secure world stopped, also on an early return.
	defer b.stopAll()
	for _, t := range cfg.TAs {
		if err := b.startTA(ctx, t); err != nil {
			return err
		}
	}
	if !b.awaitListening(ctx) {
		log.Info("shutting down")
		return nil
	}
	b.ready()
	var statusTick <-chan time.Time // nil, never ready, without opt.Status
	if opt.Status != nil {
		t := time.NewTicker(statusInterval)
		defer t.Stop()
		statusTick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down")
			return nil
		case <-opt.Reload:
			if opt.Reloading != nil {
				opt.Reloading()
			}
			err := b.reload(ctx)
			if !b.awaitListening(ctx) {
				log.Info("shutting down")
				return nil
			}
			if opt.OnReload != nil {
				opt.OnReload(err)
			}
			b.ready()
		case <-statusTick:
			b.reportStatus()
		}
	}
}

// bridge is the running set of TAs; only Run's goroutine changes it.
type bridge struct {
	opt   Options
	cfg   *config.Config // in force
	log   *slog.Logger
	tee   *tee
	tree  *fusefs.FS
	pids  *shadowPIDs
	level slog.Level
	tas   map[string]*runningTA
	// status is the TA summary last passed to opt.Status.
	status string
	// metrics serves the TAs' figures; nil when metrics: is not set.
	metrics *metricsServer
}

// runningTA is one started TA: its runner goroutine and how to end it.
type runningTA struct {
	r      *taRunner
	cancel context.CancelFunc
	done   chan struct{} // closed when the runner has returned
}

// startTA gives t its directory, namespace and proxy addresses, makes it
// known to the secure world and starts its runner. On an error, what was
// made is undone.
func (b *bridge) startTA(ctx context.Context, t config.TA) (err error) {
	privs, err := privilegesFor(t)
	if err != nil {
		return fmt.Errorf("TA %s: %w", t.Name, err)
	}
	r := &taRunner{cfg: t, tree: b.tree, tee: b.tee, exe: b.opt.Executable, log: b.log.With("ta", t.Name), relayLog: b.log, logLevel: b.level,
		privs: privs, pids: b.pids, state: "starting", since: time.Now(), timeCalls: b.metrics != nil,
		listening: newListenWait(t.Listen)}
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
			err = fmt.Errorf("TA %s: %w", t.Name, err)
		}
	}()
	opts, err := r.treeOptions()
	if err != nil {
		return err
	}
	root, err := b.tree.AddTA(t.Name, opts)
	if err != nil {
		return err
	}
	undo = append(undo, func() { r.removeTree() })
	for _, e := range t.Endpoints {
		r.log.Info("endpoint", "path", filepath.Join(root, e.Name), "kind", e.Kind, "mode", fmt.Sprintf("%#o", e.Mode.Perm), "owner", e.Owner, "group", e.Group)
	}
	if t.NetnsEnabled() {
		ns, err := sockproxy.CreateNamespace(sockproxy.NamespaceName(t.Name), r.log)
		if err != nil {
			return err
		}
		r.netns = ns
		undo = append(undo, r.deleteNamespace)
		r.log.Info("network namespace created", "netns", ns.Name, "host_access", describeHostAccess(t.HostAccess), "publish", r.publish())
	}
	if err := r.listen(root); err != nil {
		r.closeProxies()
		return err
	}
	undo = append(undo, r.closeProxies)
	if err := b.tee.define(ctx, catalog.FromConfig(t)); err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	rt := &runningTA{r: r, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(rt.done)
		r.run(rctx, root)
	}()
	b.tas[t.Name] = rt
	b.metrics.add(r)
	return nil
}

// stopTA stops a TA for good: its shadow (SIGTERM, then SIGKILL), its
// proxy addresses, its directory, its namespace, its place in the secure
// world.
func (b *bridge) stopTA(ctx context.Context, name string) {
	rt := b.tas[name]
	if rt == nil {
		return
	}
	delete(b.tas, name)
	b.metrics.remove(name)
	rt.cancel()
	<-rt.done // the runner closed the proxies as it ended
	rt.r.removeTree()
	rt.r.deleteNamespace()
	if err := b.tee.undefine(ctx, rt.r.cfg.UUID); err != nil {
		rt.r.log.Warn("secure world still hosts the TA", "err", err)
	}
	rt.r.log.Info("TA stopped and removed")
}

// stopAll stops every TA at shutdown, all at once (each may take the
// shadow's grace period). The tree is unmounted afterwards as a whole and
// the secure world stopped, so neither is changed here.
func (b *bridge) stopAll() {
	for _, rt := range b.tas {
		rt.cancel()
	}
	for _, rt := range b.tas {
		<-rt.done
		rt.r.deleteNamespace()
	}
}

// reload reads the configuration again and applies the difference. A
// configuration that does not load changes nothing. TAs are stopped
// before any is started, so that a changed TA, or a new TA taking over a
// removed one's UUID, port or namespace name, finds them free.
func (b *bridge) reload(ctx context.Context) error {
	b.log.Info("reloading the configuration")
	if b.opt.LoadConfig == nil {
		err := errors.New("reload: no way to read the configuration again")
		b.log.Error("reload rejected", "err", err)
		return err
	}
	cfg, err := b.opt.LoadConfig()
	if err != nil {
		b.log.Error("reload rejected; the running configuration is kept", "err", err)
		return fmt.Errorf("reload rejected, running configuration kept: %w", err)
	}
	d := config.Compare(b.cfg, cfg)
	if cfg.TEE != b.cfg.TEE {
		// The TAs are described for the secure world named: on a device
		// without builtin, wasm or native, in the simulator with one of
		// them. Read against the running one, every TA would change and
		// none could start.
		err := fmt.Errorf("tee changed from %s to %s: the TAs are described for the new secure world; restart tzbridge to apply it", b.cfg.TEE, cfg.TEE)
		b.log.Error("reload rejected; the running configuration is kept", "err", err)
		return fmt.Errorf("reload rejected, running configuration kept: %w", err)
	}
	if len(d.Global) > 0 {
		b.log.Warn("reload: restart needed for these settings; their old values stay in force", "fields", d.Global)
		// What cannot change live keeps its running value, so that the
		// next reload compares against what is really in force.
		cfg.Mount, cfg.TEE, cfg.Metrics, cfg.SimThreads = b.cfg.Mount, b.cfg.TEE, b.cfg.Metrics, b.cfg.SimThreads
	}
	for _, t := range d.Removed {
		b.log.Info("reload: removing TA", "ta", t.Name)
		b.stopTA(ctx, t.Name)
	}
	for _, t := range d.Changed {
		b.log.Info("reload: restarting changed TA", "ta", t.Name)
		b.stopTA(ctx, t.Name)
	}
	var errs []error
	// A TA that failed to start is left out of the configuration in
	// force, so that the next reload tries it again.
	failed := map[string]bool{}
	for _, t := range append(append([]config.TA(nil), d.Changed...), d.Added...) {
		b.log.Info("reload: starting TA", "ta", t.Name)
		if err := b.startTA(ctx, t); err != nil {
			b.log.Error("reload: TA not started", "ta", t.Name, "err", err)
			errs = append(errs, err)
			failed[t.Name] = true
		}
	}
	inForce := *cfg
	inForce.TAs = nil
	for _, t := range cfg.TAs {
		if !failed[t.Name] {
			inForce.TAs = append(inForce.TAs, t)
		}
	}
	b.cfg = &inForce
	counts := []any{"added", len(d.Added), "removed", len(d.Removed), "changed", len(d.Changed), "unchanged", len(cfg.TAs) - len(d.Added) - len(d.Changed)}
	if err := errors.Join(errs...); err != nil {
		b.log.Error("reload done; some TAs did not start and are left out until the next reload", append(counts, "failed", len(errs))...)
		return fmt.Errorf("reload: %w", err)
	}
	b.log.Info("reload done", counts...)
	return nil
}

// listen makes the TA's proxy addresses in the host namespace.
func (r *taRunner) listen(root string) error {
	for _, p := range r.cfg.Proxies {
		la, err := netaddr.Parse(p.Listen)
		if err != nil {
			return err
		}
		to, err := netaddr.Parse(p.To)
		if err != nil {
			return err
		}
		target := ""
		if la.Network == "unix" {
			target = filepath.Join(root, to.Addr)
		}
		l, err := sockproxy.Listen(la.Network, la.Addr, target)
		if err != nil {
			return err
		}
		r.proxies = append(r.proxies, proxy{l: l, to: to.Addr, config: p.To})
		r.log.Info("proxy address", "listen", p.Listen, "to", p.To)
	}
	return nil
}

func describeHostAccess(h config.HostAccess) any {
	switch {
	case h.All:
		return "all"
	case len(h.Addrs) > 0:
		return h.Addrs
	}
	return "none"
}

// lowestLevel is the lowest level log shows.
func lowestLevel(log *slog.Logger) slog.Level {
	for _, l := range []slog.Level{shadow.LevelCall, slog.LevelDebug, slog.LevelInfo, slog.LevelWarn} {
		if log.Enabled(context.Background(), l) {
			return l
		}
	}
	return slog.LevelError
}

// shadowPIDs are the running shadow processes, by TA.
type shadowPIDs struct {
	mu sync.Mutex
	m  map[int]string
}

func (s *shadowPIDs) add(pid int, ta string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[pid] = ta
}

func (s *shadowPIDs) remove(pid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, pid)
}

// mayModify lets only tzbridge itself — a TA's shadow process acting for
// its TA, or the supervisor — create, rename and delete nodes in a TA's
// tree; a TA's ca_may_modify setting opens it to CAs. FUSE names the
// calling thread, so it is mapped to its process first.
func (s *shadowPIDs) mayModify(ta string, caller fuse.Caller) bool {
	pid, err := fusefs.ProcessID(caller.Pid)
	if err != nil {
		return false
	}
	if pid == os.Getpid() {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[pid] == ta
}
