package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/tzmediator/tzbridge/internal/teekind"
	"github.com/tzmediator/tzbridge/ta/catalog"
	"github.com/tzmediator/tzbridge/teeclient"
	"github.com/tzmediator/tzbridge/teeclient/linuxtee"
	"github.com/tzmediator/tzbridge/teeclient/simtee"
	"github.com/tzmediator/tzbridge/tzrpc"
)

// nullCaller holds a session with the measured TA in the configured
// secure world, on which it invokes tzrpc.CmdNull: the TA library answers
// it without running TA code, so each call is one round trip to the
// secure world and back, as the shadow makes RESUMEs, without the POSIX
// call. With tee: sim the secure world is `exe secure-world` hosting that
// TA as a child process, as `tzbridge run` starts it.
type nullCaller struct {
	sw   *child
	dir  string
	tc   *teeclient.Context
	sess *teeclient.Session
	op   teeclient.Operation
}

func startNullCaller(ctx context.Context, exe string, tg target) (_ *nullCaller, err error) {
	ta := tg.TA
	n := &nullCaller{}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	var b teeclient.Backend
	kind, _ := teekind.Parse(tg.SecureWorld) // resolveTarget's configuration was checked
	switch kind {
	case teekind.Sim:
		if b, err = n.startSim(ctx, exe, catalog.FromConfig(ta)); err != nil {
			return nil, fmt.Errorf("null call: %w", err)
		}
	default:
		path := tg.SecureWorld
		if kind == teekind.Auto {
			if path, _, err = linuxtee.Discover(); err != nil {
				return nil, fmt.Errorf("null call: tee: auto: %w", err)
			}
		}
		d, err := linuxtee.Open(path)
		if err != nil {
			return nil, fmt.Errorf("null call: %w", err)
		}
		b = d
	}
	n.tc = teeclient.NewContext(b)
	open := &teeclient.Operation{}
	open.Params[0] = teeclient.Value(teeclient.ValueInput, uint32(tzrpc.Version), uint32(ta.Mailbox))
	if n.sess, err = n.tc.OpenSession(ctx, ta.UUID, teeclient.LoginPublic, 0, open); err != nil {
		return nil, fmt.Errorf("null call: open a session with TA %s: %w", ta.Name, err)
	}
	return n, nil
}

// startSim starts `exe secure-world` with ta alone and connects to it.
func (n *nullCaller) startSim(ctx context.Context, exe string, ta catalog.TA) (teeclient.Backend, error) {
	dir, err := os.MkdirTemp("", "tzbridge-bench-null.")
	if err != nil {
		return nil, err
	}
	n.dir = dir
	sock := filepath.Join(dir, "sw.sock")
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		return nil, err
	}
	l.SetUnlinkOnClose(false)
	lf, err := l.File()
	l.Close()
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	cmd := exec.Command(exe, "secure-world", "--listen-fd", "3", "--ta", ta.Spec(), "--log-level", "warn")
	cmd.ExtraFiles = []*os.File{lf}
	if n.sw, err = startChild("tzbridge secure-world", cmd); err != nil {
		return nil, err
	}
	return simtee.Dial(ctx, sock)
}

// call is one null call.
func (n *nullCaller) call(ctx context.Context) error {
	if err := n.sess.InvokeCommand(ctx, tzrpc.CmdNull, &n.op); err != nil {
		return fmt.Errorf("null call: %w", err)
	}
	return nil
}

func (n *nullCaller) close() {
	if n.sess != nil {
		_ = n.sess.Close()
	}
	if n.tc != nil {
		n.tc.Close()
	}
	if n.sw != nil {
		n.sw.stop(5 * time.Second)
	}
	if n.dir != "" {
		os.RemoveAll(n.dir)
	}
}

// measureNullCall times samples null calls after warmup ones, on a locked
// thread as the shadow makes them. tick is called every 1000 calls.
func measureNullCall(ctx context.Context, opt *Options, warmup, samples int, tick func(int)) (Summary, error) {
	n, err := startNullCaller(ctx, opt.Exe, opt.target)
	if err != nil {
		return Summary{}, err
	}
	defer n.close()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := range warmup {
		if err := n.call(ctx); err != nil {
			return Summary{}, err
		}
		if (i+1)%1000 == 0 {
			tick(1000)
		}
	}
	tick(warmup % 1000)
	d := make([]time.Duration, samples)
	for i := range d {
		t0 := time.Now()
		if err := n.call(ctx); err != nil {
			return Summary{}, err
		}
		d[i] = time.Since(t0)
		if (i+1)%1000 == 0 {
			tick(1000)
		}
	}
	tick(samples % 1000)
	return Summarize(d), nil
}
