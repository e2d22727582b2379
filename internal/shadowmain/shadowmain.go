// Package shadowmain is the program of a shadow process, `tzbridge
// shadow`: started by the supervisor for one TA, it reads its spec from
// the control socket (package internal/control), sets its limits, opens
// its own TEE context and serves the TA's POSIX calls (package shadow).
package shadowmain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/internal/control"
	"github.com/tzmediator/tzbridge/shadow"
	"github.com/tzmediator/tzbridge/sockproxy"
	"github.com/tzmediator/tzbridge/teeclient"
	"github.com/tzmediator/tzbridge/teeclient/linuxtee"
	"github.com/tzmediator/tzbridge/teeclient/simtee"
)

// Main is `tzbridge shadow` once its flags are read: the TA's name (for
// messages), the control socket and log descriptors inherited from the
// supervisor, and the log level. It logs JSON records to logFD and runs
// until the TA ends or SIGINT/SIGTERM (how the supervisor stops a shadow).
// usage reports flags it cannot run with (nothing ran); err is Run's,
// already logged and reported to the supervisor.
func Main(ctx context.Context, ta string, controlFD, logFD int, logLevel string) (usage, err error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: %w", logLevel, err), nil
	}
	if controlFD < 3 || logFD < 3 {
		return fmt.Errorf("shadow %s: --control-fd and --log-fd are descriptors inherited from tzbridge run", ta), nil
	}
	logs := os.NewFile(uintptr(logFD), "log")
	defer logs.Close()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return nil, Run(ctx, Options{
		Control: os.NewFile(uintptr(controlFD), "control"),
		Logger:  slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level})),
	})
}

// Options configure a shadow process (`tzbridge shadow`).
type Options struct {
	// Control is the control socket the supervisor passed.
	Control *os.File
	Logger  *slog.Logger
}

// specTimeout bounds the wait for the supervisor's spec.
const specTimeout = 30 * time.Second

// Run is the shadow process: started by the supervisor (already in
// the TA's network namespace, with the TA's identity and limits), it reads
// its spec from the control socket, opens its own TEE context and serves
// the TA until the TA ends or ctx is done. Before it returns it tells the
// supervisor how the TA ended. The error is the TA's failure, as Run
// reports it (and logs it); nil when the TA exited with status 0 or ctx
// ended it.
func Run(ctx context.Context, opt Options) error {
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
	ctl := control.NewConn(uc)
	defer ctl.Close()

	buf := make([]byte, control.MaxMsg)
	uc.SetReadDeadline(time.Now().Add(specTimeout))
	m, fds, err := ctl.Recv(buf)
	uc.SetReadDeadline(time.Time{})
	control.CloseFDs(fds)
	if err == nil && (m.Type != control.MsgSpec || m.Spec == nil) {
		err = fmt.Errorf("first control message is %q, want a spec", m.Type)
	}
	if err != nil {
		log.Error("shadow: no spec from the supervisor", "err", err)
		return fmt.Errorf("shadow: read the spec: %w", err)
	}
	spec := m.Spec
	if err := applyLimits(spec.Limits, log); err != nil {
		log.Error("shadow: cannot set its limits", "ta", spec.Name, "err", err)
		_ = ctl.Send(&control.Msg{Type: control.MsgExit, Outcome: control.OutcomeOf(err)})
		return fmt.Errorf("shadow %s: %w", spec.Name, err)
	}

	var current atomic.Pointer[shadow.Shadow]
	go control.ServeShadow(ctl, buf, &current)

	runErr := serveTA(ctx, spec, ctl, &current, log)
	var st shadow.Stats
	if sh := current.Load(); sh != nil {
		st = sh.Stats()
	}
	if ctx.Err() != nil && errors.Is(runErr, ctx.Err()) {
		runErr = nil // told to stop
	}
	if err := ctl.Send(&control.Msg{Type: control.MsgExit, Outcome: control.OutcomeOf(runErr), Stats: &st}); err != nil {
		log.Debug("cannot report the outcome", "ta", spec.Name, "err", err)
	}
	return runErr
}

// serveTA opens the TEE and runs the shadow.
func serveTA(ctx context.Context, spec *control.Spec, ctl *control.Conn, current *atomic.Pointer[shadow.Shadow], log *slog.Logger) error {
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
		HostNamespace:  spec.HostNetns,
		Logger:         log,
		// For the supervisor's "ready": a lost message delays it at
		// most until the TA's shadow ends.
		OnListening: func(addr string) { _ = ctl.Send(&control.Msg{Type: control.MsgListening, Addr: addr}) },
	}
	if ho.Len() > 0 || spec.Publish {
		cfg.BindInet = func(network string, addr netip.AddrPort) (int, error) {
			fd, err := ho.Bind(network, addr)
			if err != nil || fd >= 0 || !spec.Publish || addr.Port() == 0 {
				return fd, err
			}
			// The TA's socket options stay with its socket: the host
			// socket gets the supervisor's (sockproxy.Bind).
			return control.AskHost(ctl, &control.Msg{Type: control.MsgBind, Network: network, Addr: addr.String()})
		}
	}
	if spec.HostAll || len(spec.HostAddrs) > 0 {
		ha, err := sockproxy.NewHostAccess(spec.HostAll, spec.HostAddrs, func(network string) (int, error) {
			return control.AskHost(ctl, &control.Msg{Type: control.MsgSocket, Network: network})
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
func openShadowTEE(ctx context.Context, spec *control.Spec) (*teeclient.Context, *simtee.Backend, error) {
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

// applyLimits sets limits on the calling process (soft and hard), as the
// shadow does first thing: lowering one's own limits needs no privilege,
// and setting another user's process's would need CAP_SYS_RESOURCE. A
// limit above the hard limit inherited cannot be raised without that
// capability either; it is kept at the inherited one, and log says so.
func applyLimits(limits []control.Rlimit, log *slog.Logger) error {
	for _, l := range limits {
		var old unix.Rlimit
		if err := unix.Getrlimit(l.Resource, &old); err != nil {
			return fmt.Errorf("get %s: %w", l.Name, err)
		}
		v := l.Value
		if v > old.Max {
			log.Warn("limit above the inherited hard limit; kept at that", "limit", l.Name, "want", v, "have", old.Max)
			v = old.Max
		}
		if err := unix.Setrlimit(l.Resource, &unix.Rlimit{Cur: v, Max: v}); err != nil {
			return fmt.Errorf("set %s to %d: %w", l.Name, v, err)
		}
	}
	return nil
}
