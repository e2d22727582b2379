package supervisor

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/tzmediator/tzbridge/config"
	"github.com/tzmediator/tzbridge/fusefs"
	"github.com/tzmediator/tzbridge/internal/control"
	"github.com/tzmediator/tzbridge/internal/restart"
	"github.com/tzmediator/tzbridge/sockproxy"
	"github.com/tzmediator/tzbridge/teeclient"
)

// taRunner keeps one TA running by its restart policy and reports its
// state for the status view. Its shadow is a process of its own
// (startShadowProc), restarted when it dies.
type taRunner struct {
	cfg  config.TA
	tree *fusefs.FS
	tee  *tee
	exe  string
	log  *slog.Logger // tagged with the TA
	// relayLog is the untagged logger the shadow's records go to: they
	// name their TA themselves.
	relayLog *slog.Logger
	// logLevel is the lowest level log shows, passed on to the shadow.
	logLevel slog.Level
	privs    privileges
	// netns is the TA's network namespace, nil for the host's.
	netns *sockproxy.Namespace
	// proxies are the TA's proxy addresses, made at start and kept
	// across restarts; closed when the runner ends.
	proxies []proxy
	pids    *shadowPIDs
	// timeCalls has the shadow time every call (metrics are served).
	timeCalls bool
	// totals add up the counters of the TA's shadow processes.
	totals taTotals
	// listening is done once the TA serves its listen addresses, or its
	// first shadow has ended: what "ready" waits for.
	listening *listenWait

	mu       sync.Mutex
	state    string
	since    time.Time
	restarts int
	lastErr  string
	current  *shadowProc
}

// proxy is one proxy address and the TA address it serves.
type proxy struct {
	l      *sockproxy.Listener
	to     string // IP:PORT or the path in the TA's directory
	config string // the "to" address as configured, for the status view
}

func (r *taRunner) setState(state string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state, r.since = state, time.Now()
	if err != nil {
		r.lastErr = err.Error()
	}
}

// publish reports whether the TA's own TCP and UDP addresses are bound in
// the host namespace for it (config.TA.Proxies left out).
func (r *taRunner) publish() bool { return r.netns != nil && r.cfg.Proxies == nil }

// treeOptions describes the TA's directory for the FUSE tree.
func (r *taRunner) treeOptions() (fusefs.TAOptions, error) {
	// The TA's shadow makes its nodes, so it owns the directory.
	opts := fusefs.TAOptions{Status: r.status, StatusJSON: r.statusJSON, CAMayModify: r.cfg.CAMayModify, MaxNodes: r.cfg.Limits.Nodes, DirUID: r.privs.uid, DirGID: r.privs.gid}
	for _, e := range r.cfg.Endpoints {
		uid, err := config.LookupUser(e.Owner)
		if err != nil {
			return opts, err
		}
		gid, err := config.LookupGroup(e.Group)
		if err != nil {
			return opts, err
		}
		kind := fusefs.FIFO
		if e.Kind == "unix" {
			kind = fusefs.UnixSocket
		}
		opts.Endpoints = append(opts.Endpoints, fusefs.Endpoint{Name: e.Name, Kind: kind, Mode: os.FileMode(e.Mode.Perm), UID: uid, GID: gid})
	}
	return opts, nil
}

// run keeps the TA's shadow running by the TA's policy, backing off while
// it keeps failing, until ctx is done.
func (r *taRunner) run(ctx context.Context, root string) {
	const minBackoff, maxBackoff, healthy = 100 * time.Millisecond, 5 * time.Second, 10 * time.Second
	backoff := minBackoff
	defer r.closeProxies()
	for {
		err := r.runOnce(ctx, root)
		r.listening.giveUp()
		if ctx.Err() != nil {
			r.setState("stopped", nil)
			return
		}
		policy := r.cfg.RestartPolicy()
		switch {
		case err == nil && policy != restart.Always:
			r.log.Info("TA exited; not restarting", "restart", policy.String())
			r.setState("exited", nil)
			return
		case err != nil && policy == restart.Never:
			r.log.Error("TA failed; not restarting", "err", err, "restart", policy.String())
			r.setState("failed", err)
			return
		}
		r.mu.Lock()
		if time.Since(r.since) > healthy {
			backoff = minBackoff
		}
		r.restarts++
		n := r.restarts
		r.mu.Unlock()
		r.setState("restarting", err)
		r.log.Warn("TA stopped; restarting", "why", describe(err), "in", backoff, "restarts", n)
		select {
		case <-ctx.Done():
			r.setState("stopped", nil)
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
		if r.cfg.OnRestartTree() == restart.Clear {
			if err := r.resetTree(); err != nil {
				r.log.Error("cannot clear the TA's directory", "err", err)
			}
		}
	}
}

// shadowGrace is how long a shadow process has to stop after SIGTERM
// before it is killed.
const shadowGrace = 3 * time.Second

// runOnce runs one shadow process until it ends, or stops it when ctx is
// done.
func (r *taRunner) runOnce(ctx context.Context, root string) error {
	spec := control.Spec{
		Name:           r.cfg.Name,
		UUID:           r.cfg.UUID,
		Root:           root,
		Mailbox:        r.cfg.Mailbox,
		MaxDescriptors: r.cfg.Limits.Descriptors,
		MaxSockets:     r.cfg.Limits.Sockets,
		TEE:            r.tee.device,
		Publish:        r.publish(),
		HostNetns:      r.netns == nil,
		HostAll:        r.cfg.HostAccess.All,
		HostAddrs:      r.cfg.HostAccess.Addrs,
		Stats:          r.statsOptions(),
	}
	// A shadow started while the simulator is being restarted waits for
	// it rather than fail and back off.
	node, err := r.tee.socketNode(ctx)
	if err != nil {
		return err
	}
	if node != nil {
		defer node.Close() // the child has its own copy once started
	}
	var files []*os.File
	for _, p := range r.proxies {
		if f := p.l.File(); f != nil {
			spec.Proxies = append(spec.Proxies, control.Proxy{Network: p.l.Network, To: p.to})
			files = append(files, f)
		}
	}
	publish, hostAccess, privileged := r.publish(), r.cfg.HostAccess.Any(), r.cfg.PrivilegedPorts
	// The pid is known to the tree from before the spec is sent; it is
	// forgotten also when the start fails after that (the pid may be
	// reused by any process, which must not inherit the TA's rights).
	pid := 0
	defer func() {
		if pid != 0 {
			r.pids.remove(pid)
		}
	}()
	p, err := startShadowProc(procOptions{
		exe:      r.exe,
		spec:     spec,
		teeFile:  node,
		proxies:  files,
		netns:    r.netns,
		privs:    r.privs,
		host:     func(m *control.Msg) (int, error) { return hostSocket(m, publish, hostAccess, privileged, r.privs.uid) },
		started:  func(p int) { pid = p; r.pids.add(p, r.cfg.Name) },
		serving:  r.listening.serving,
		log:      r.log,
		relayLog: r.relayLog,
		logLevel: r.logLevel,
	})
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.current = p
	r.mu.Unlock()
	r.setState("running", nil)
	netns := "host"
	if r.netns != nil {
		netns = r.netns.Name
	}
	r.log.Info("shadow process started", "pid", p.Pid(), "netns", netns, "user", r.cfg.User, "group", r.cfg.Group, "caps", capNames(r.privs.keep))
	select {
	case <-p.Done():
	case <-ctx.Done():
		p.stop(shadowGrace, r.log)
	}
	err = p.result()
	r.totals.ended(p, err)
	return err
}

// closeProxies closes the TA's proxy addresses: CAs are refused from then
// on instead of waiting for a TA that will not come back.
func (r *taRunner) closeProxies() {
	for _, p := range r.proxies {
		if err := p.l.Close(); err != nil {
			r.log.Warn("close proxy address", "proxy", p.l.String(), "err", err)
		}
	}
}

// removeTree removes the TA's directory from the tree (the TA is gone
// from the configuration).
func (r *taRunner) removeTree() {
	if err := r.tree.RemoveTA(r.cfg.Name); err != nil {
		r.log.Warn("remove the TA's directory", "err", err)
	}
}

// deleteNamespace deletes the TA's network namespace, if it has one; its
// shadow has stopped.
func (r *taRunner) deleteNamespace() {
	if r.netns == nil {
		return
	}
	if err := r.netns.Delete(); err != nil {
		r.log.Warn("delete network namespace", "netns", r.netns.Name, "err", err)
	} else {
		r.log.Info("network namespace deleted", "netns", r.netns.Name)
	}
}

// resetTree empties the TA's directory back to its declared endpoints.
func (r *taRunner) resetTree() error {
	if r.tree == nil {
		return nil
	}
	opts, err := r.treeOptions()
	if err != nil {
		return err
	}
	if err := r.tree.RemoveTA(r.cfg.Name); err != nil {
		return err
	}
	_, err = r.tree.AddTA(r.cfg.Name, opts)
	return err
}

func describe(err error) string {
	switch {
	case err == nil:
		return "exited"
	case errors.Is(err, teeclient.ErrorTargetDead):
		return "TA died (TEEC_ERROR_TARGET_DEAD): " + err.Error()
	}
	return err.Error()
}
