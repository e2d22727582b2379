package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/shadow"
	"github.com/tzmediator/tzbridge/sockproxy"
	"github.com/tzmediator/tzbridge/teeclient"
	"github.com/tzmediator/tzbridge/teeclient/linuxtee"
	"github.com/tzmediator/tzbridge/teeclient/simtee"
)

// ShadowOptions configure a shadow process (`tzbridge shadow`).
type ShadowOptions struct {
	// Control is the control socket the supervisor passed.
	Control *os.File
	Logger  *slog.Logger
}

// specTimeout bounds the wait for the supervisor's spec.
const specTimeout = 30 * time.Second

// hostCallTimeout bounds a question to the supervisor for a host socket.
const hostCallTimeout = 5 * time.Second

// RunShadow is the shadow process: started by the supervisor (already in
// the TA's network namespace, with the TA's identity and limits), it reads
// its spec from the control socket, opens its own TEE context and serves
// the TA until the TA ends or ctx is done. Before it returns it tells the
// supervisor how the TA ended. The error is the TA's failure, as Run
// reports it (and logs it); nil when the TA exited with status 0 or ctx
// ended it.
func RunShadow(ctx context.Context, opt ShadowOptions) error {
	log := opt.Logger
	fc, err := net.FileConn(opt.Control)
	opt.Control.Close()
	if err != nil {
		return fmt.Errorf("shadow: control socket: %w", err)
	}
	uc, ok := fc.(*net.UnixConn)
	if !ok {
		fc.Close()
		return errors.New("shadow: the control descriptor is not a UNIX socket")
	}
	ctl := newCtlConn(uc)
	defer ctl.close()

	buf := make([]byte, maxCtlMsg)
	uc.SetReadDeadline(time.Now().Add(specTimeout))
	m, fds, err := ctl.recv(buf)
	uc.SetReadDeadline(time.Time{})
	closeFDs(fds)
	if err == nil && (m.Type != msgSpec || m.Spec == nil) {
		err = fmt.Errorf("first control message is %q, want a spec", m.Type)
	}
	if err != nil {
		log.Error("shadow: no spec from the supervisor", "err", err)
		return fmt.Errorf("shadow: read the spec: %w", err)
	}
	spec := m.Spec
	if err := applyLimits(spec.Limits, log); err != nil {
		log.Error("shadow: cannot set its limits", "ta", spec.Name, "err", err)
		_ = ctl.send(&ctlMsg{Type: msgExit, Outcome: outcomeOf(err)})
		return fmt.Errorf("shadow %s: %w", spec.Name, err)
	}

	var current atomic.Pointer[shadow.Shadow]
	go serveControl(ctl, buf, &current)

	runErr := serveTA(ctx, spec, ctl, &current, log)
	var st shadow.Stats
	if sh := current.Load(); sh != nil {
		st = sh.Stats()
	}
	if ctx.Err() != nil && errors.Is(runErr, ctx.Err()) {
		runErr = nil // told to stop
	}
	if err := ctl.send(&ctlMsg{Type: msgExit, Outcome: outcomeOf(runErr), Stats: &st}); err != nil {
		log.Debug("cannot report the outcome", "ta", spec.Name, "err", err)
	}
	return runErr
}

// serveTA opens the TEE and runs the shadow.
func serveTA(ctx context.Context, spec *shadowSpec, ctl *ctlConn, current *atomic.Pointer[shadow.Shadow], log *slog.Logger) error {
	tc, sim, err := openShadowTEE(ctx, spec)
	if err != nil {
		return err
	}
	defer tc.Close()
	// When the simulator dies, the TA is gone while the shadow may be
	// blocked in one of its calls (accept, read): that call is cancelled
	// as on a stop, and the TA's end is reported as TARGET_DEAD, for the
	// supervisor's restart policy.
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if sim != nil {
		go func() {
			select {
			case <-sim.Lost():
				cancel(sim.Err())
			case <-runCtx.Done():
			}
		}()
	}

	var ho sockproxy.Handover
	for _, p := range spec.Proxies {
		ap, err := netip.ParseAddrPort(p.To)
		if err != nil {
			return fmt.Errorf("shadow %s: proxy to %q: %w", spec.Name, p.To, err)
		}
		ho.Add(p.Network, ap, p.FD)
	}
	cfg := shadow.Config{
		Name:           spec.Name,
		UUID:           spec.UUID,
		Root:           spec.Root,
		Mailbox:        spec.Mailbox,
		MaxDescriptors: spec.MaxDescriptors,
		MaxSockets:     spec.MaxSockets,
		Logger:         log,
		// For the supervisor's "ready": a lost message delays it at
		// most until the TA's shadow ends.
		OnListening: func(addr string) { _ = ctl.send(&ctlMsg{Type: msgListening, Addr: addr}) },
	}
	if ho.Len() > 0 || spec.Publish {
		cfg.BindInet = func(network string, addr netip.AddrPort, taFD int) (int, error) {
			fd, err := ho.Bind(network, addr)
			if err != nil || fd >= 0 || !spec.Publish || addr.Port() == 0 {
				return fd, err
			}
			return askHost(ctl, &ctlMsg{Type: msgBind, Network: network, Addr: addr.String(),
				ReuseAddr: sockoptOn(taFD, unix.SO_REUSEADDR), ReusePort: sockoptOn(taFD, unix.SO_REUSEPORT)})
		}
	}
	if spec.HostAll || len(spec.HostAddrs) > 0 {
		ha, err := sockproxy.NewHostAccess(spec.HostAll, spec.HostAddrs, func(network string) (int, error) {
			return askHost(ctl, &ctlMsg{Type: msgSocket, Network: network})
		})
		if err != nil {
			return fmt.Errorf("shadow %s: %w", spec.Name, err)
		}
		cfg.ConnectInet = ha.Connect
	}
	sh, err := shadow.New(cfg)
	if err != nil {
		return err
	}
	if err := sh.SetStatsOptions(spec.Stats); err != nil {
		sh.Close()
		return err
	}
	current.Store(sh)
	err = sh.Run(runCtx, tc)
	if cause := context.Cause(runCtx); ctx.Err() == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		return fmt.Errorf("shadow %s: %w", spec.Name, cause)
	}
	return err
}

// openShadowTEE opens the shadow's own TEE context; for the simulator it
// also returns the connection, to learn when the simulator dies.
func openShadowTEE(ctx context.Context, spec *shadowSpec) (*teeclient.Context, *simtee.Backend, error) {
	if spec.TEE == "sim" {
		b, err := simtee.Dial(ctx, fmt.Sprintf("/proc/self/fd/%d", spec.TEEFD))
		unix.Close(spec.TEEFD) // connected or not, the path is done with
		if err != nil {
			return nil, nil, fmt.Errorf("shadow %s: %w", spec.Name, err)
		}
		return teeclient.NewContext(b), b, nil
	}
	d, err := linuxtee.Open(spec.TEE)
	if err != nil {
		return nil, nil, fmt.Errorf("shadow %s: %w", spec.Name, err)
	}
	return teeclient.NewContext(d), nil, nil
}

// askHost asks the supervisor for a host-namespace socket.
func askHost(ctl *ctlConn, m *ctlMsg) (int, error) {
	a, err := ctl.call(m, hostCallTimeout)
	if err != nil {
		return -1, err
	}
	if a.m.Errno != 0 || len(a.fds) != 1 {
		closeFDs(a.fds)
		if a.m.Errno != 0 {
			return -1, fmt.Errorf("%s: %w", a.m.Error, unix.Errno(a.m.Errno))
		}
		return -1, fmt.Errorf("supervisor answered %s with %d descriptors", m.Type, len(a.fds))
	}
	return a.fds[0], nil
}

func sockoptOn(fd, opt int) bool {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, opt)
	return err == nil && v != 0
}

// serveControl answers the supervisor's questions and hands answers to
// the shadow's, until the control socket closes.
func serveControl(ctl *ctlConn, buf []byte, current *atomic.Pointer[shadow.Shadow]) {
	for {
		m, fds, err := ctl.recv(buf)
		if err != nil {
			ctl.close()
			return
		}
		switch {
		case m.Reply:
			ctl.answered(m, fds)
		case m.Type == msgStats:
			closeFDs(fds)
			var st shadow.Stats
			if sh := current.Load(); sh != nil {
				st = sh.Stats()
			}
			_ = ctl.send(&ctlMsg{Type: msgStats, Seq: m.Seq, Reply: true, Stats: &st})
		default:
			closeFDs(fds)
		}
	}
}
