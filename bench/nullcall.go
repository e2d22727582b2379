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

	"github.com/tzmediator/tzbridge/shadow"
	"github.com/tzmediator/tzbridge/ta/catalog"
	"github.com/tzmediator/tzbridge/teeclient"
	"github.com/tzmediator/tzbridge/teeclient/simtee"
	"github.com/tzmediator/tzbridge/tzrpc"
)

// BenchTAUUID is the null-call TA (ta/benchta) in the secure world the
// null call is measured against.
var benchTAUUID = teeclient.MustParseUUID("6e756c6c-6361-4c6c-8000-62656e636821")

// nullCallSecureWorld is where the null call runs: always the simulator,
// whatever the configuration's tee (the bench TA is built into it), which
// the report says.
const nullCallSecureWorld = "sim"

// nullCaller is the shadow's reverse call loop reduced to the null call:
// `exe secure-world` hosting the bench TA as a child process, as `tzbridge
// run` starts it, one session, and the shadow's own Dispatch.
type nullCaller struct {
	sw   *child
	dir  string
	tc   *teeclient.Context
	sess *teeclient.Session
	shm  *teeclient.SharedMemory
	sh   *shadow.Shadow
	op   teeclient.Operation
}

func startNullCaller(ctx context.Context, exe string) (_ *nullCaller, err error) {
	dir, err := os.MkdirTemp("", "tzbridge-bench-null.")
	if err != nil {
		return nil, err
	}
	n := &nullCaller{dir: dir}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
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
	spec := catalog.TA{Name: "bench", UUID: benchTAUUID, Kind: "builtin", Value: "bench"}.Spec()
	cmd := exec.Command(exe, "secure-world", "--listen-fd", "3", "--ta", spec, "--log-level", "warn")
	cmd.ExtraFiles = []*os.File{lf}
	if n.sw, err = startChild("tzbridge secure-world", cmd); err != nil {
		return nil, err
	}
	b, err := simtee.Dial(ctx, sock)
	if err != nil {
		return nil, err
	}
	n.tc = teeclient.NewContext(b)
	open := &teeclient.Operation{}
	open.Params[0] = teeclient.Value(teeclient.ValueInput, uint32(tzrpc.Version), uint32(tzrpc.DefaultMailbox))
	if n.sess, err = n.tc.OpenSession(ctx, benchTAUUID, teeclient.LoginPublic, 0, open); err != nil {
		return nil, fmt.Errorf("null call: open session: %w", err)
	}
	if n.shm, err = n.tc.AllocateSharedMemory(tzrpc.DefaultMailbox, teeclient.MemInput|teeclient.MemOutput); err != nil {
		return nil, fmt.Errorf("null call: mailbox: %w", err)
	}
	if n.sh, err = shadow.New(shadow.Config{Name: "bench", UUID: benchTAUUID, Root: dir}); err != nil {
		return nil, err
	}
	return n, nil
}

// call is one turn of the shadow's loop: RESUME, then perform the request.
func (n *nullCaller) call(ctx context.Context) error {
	n.op.Params[0] = teeclient.WholeMemref(n.shm)
	if err := n.sess.InvokeCommand(ctx, tzrpc.CmdResume, &n.op); err != nil {
		return fmt.Errorf("null call: resume: %w", err)
	}
	if exited, status := n.sh.Dispatch(ctx, n.shm.Buffer); exited {
		return fmt.Errorf("null call: the bench TA exited with status %d", status)
	}
	return nil
}

func (n *nullCaller) close() {
	if n.sh != nil {
		n.sh.Close()
	}
	if n.sess != nil {
		_ = n.sess.Close()
	}
	if n.shm != nil {
		_ = n.shm.Release()
	}
	if n.tc != nil {
		n.tc.Close()
	}
	if n.sw != nil {
		n.sw.stop(5 * time.Second)
	}
	os.RemoveAll(n.dir)
}

// measureNullCall times samples null calls after warmup ones, on a locked
// thread as the shadow makes them. tick is called every 1000 calls.
func measureNullCall(ctx context.Context, exe string, warmup, samples int, tick func(int)) (Summary, error) {
	n, err := startNullCaller(ctx, exe)
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
