// Package supervisor is `tzbridge run`: given a checked configuration, it
// starts the simulated secure world when no device is configured, mounts
// the /tz tree with each TA's directory and declared endpoints, gives each
// TA its network namespace and proxy addresses (package sockproxy), runs
// one shadow process per TA (`tzbridge shadow`, RunShadow) and restarts
// it by policy, and on cancellation stops everything and leaves nothing
// behind: no mount, no namespace, no process. It is not on the path of a
// TA's calls.
//
// A shadow process starts inside its TA's namespace, as the TA's user,
// with the TA's limits and without the capabilities it does not need; it
// opens its own TEE context. A control socket joins it to the supervisor
// (control.go): the spec at start, its counters for the status view, its
// outcome at the end, and sockets from the host namespace when the TA's
// config lets it have them.
package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/tzmediator/tzbridge/config"
	"github.com/tzmediator/tzbridge/fusefs"
	"github.com/tzmediator/tzbridge/sockproxy"
)

// Options configure a supervisor.
type Options struct {
	Config *config.Config
	// Executable is the tzbridge binary, re-executed for the secure world
	// and the shadows.
	Executable string
	Logger     *slog.Logger
}

// Run bridges the configured TAs until ctx is done, then shuts down.
func Run(ctx context.Context, opt Options) error {
	cfg, log := opt.Config, opt.Logger
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
	defer tee.close(log)

	pids := &shadowPIDs{m: map[int]string{}}
	// The tree outlives ctx: it is unmounted only after the shadows have
	// stopped using it.
	tree, err := fusefs.Mount(context.WithoutCancel(ctx), fusefs.Options{
		Mountpoint: cfg.Mount,
		Logger:     log.With("component", "fusefs"),
		MayModify:  pids.mayModify,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := tree.Close(); err != nil {
			log.Warn("unmount", "mount", cfg.Mount, "err", err)
		}
	}()
	log.Info("TA tree mounted", "mount", cfg.Mount)

	// Namespaces go once every shadow has stopped.
	var namespaces []*sockproxy.Namespace
	defer func() {
		for _, n := range namespaces {
			if err := n.Delete(); err != nil {
				log.Warn("delete network namespace", "netns", n.Name, "err", err)
			} else {
				log.Info("network namespace deleted", "netns", n.Name)
			}
		}
	}()
	var wg sync.WaitGroup
	defer func() {
		cancel() // also on an early return: the runners end with ctx
		wg.Wait()
	}()
	level := lowestLevel(log)
	for _, t := range cfg.TAs {
		privs, err := privilegesFor(t)
		if err != nil {
			return fmt.Errorf("TA %s: %w", t.Name, err)
		}
		r := &taRunner{cfg: t, tree: tree, tee: tee, exe: opt.Executable, log: log.With("ta", t.Name), relayLog: log, logLevel: level,
			privs: privs, pids: pids, state: "starting", since: time.Now()}
		opts, err := r.treeOptions()
		if err != nil {
			return fmt.Errorf("TA %s: %w", t.Name, err)
		}
		root, err := tree.AddTA(t.Name, opts)
		if err != nil {
			return fmt.Errorf("TA %s: %w", t.Name, err)
		}
		for _, e := range t.Endpoints {
			r.log.Info("endpoint", "path", filepath.Join(root, e.Name), "kind", e.Kind, "mode", fmt.Sprintf("%#o", e.Mode.Perm), "owner", e.Owner, "group", e.Group)
		}
		if t.NetnsEnabled() {
			ns, err := sockproxy.CreateNamespace(sockproxy.NamespaceName(t.Name), r.log)
			if err != nil {
				return fmt.Errorf("TA %s: %w", t.Name, err)
			}
			namespaces = append(namespaces, ns)
			r.netns = ns
			r.log.Info("network namespace created", "netns", ns.Name, "host_access", describeHostAccess(t.HostAccess), "publish", r.publish())
		}
		if err := r.listen(root); err != nil {
			r.closeProxies()
			return fmt.Errorf("TA %s: %w", t.Name, err)
		}
		wg.Go(func() { r.run(ctx, root) })
	}
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case <-tee.exited():
		runErr = fmt.Errorf("the simulated secure world exited: %v", tee.sim.err)
		log.Error("secure world exited", "err", tee.sim.err)
	}
	return runErr
}

// listen makes the TA's proxy addresses in the host namespace.
func (r *taRunner) listen(root string) error {
	for _, p := range r.cfg.Proxies {
		network, laddr, err := config.ParseListen(p.Listen)
		if err != nil {
			return err
		}
		_, to, err := config.ParseListen(p.To)
		if err != nil {
			return err
		}
		target := ""
		if network == "unix" {
			target = filepath.Join(root, to)
		}
		l, err := sockproxy.Listen(network, laddr, target)
		if err != nil {
			return err
		}
		r.proxies = append(r.proxies, proxy{l: l, to: to, config: p.To})
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
	for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn} {
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
