package simtee_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/shadow"
	"github.com/tzmediator/tzbridge/ta/tzposix"
	"github.com/tzmediator/tzbridge/teeclient"
	"github.com/tzmediator/tzbridge/teeclient/simtee"
	"github.com/tzmediator/tzbridge/tzrpc"
)

var (
	instantUUID = teeclient.MustParseUUID("11111111-2222-4333-8444-555555555555")
	nullUUID    = teeclient.MustParseUUID("11111111-2222-4333-8444-666666666666")
)

// instantTA answers every invoke at once.
type instantTA struct{}

func (instantTA) Create() teeclient.Result { return teeclient.Success }
func (instantTA) Destroy()                 {}
func (instantTA) OpenSession(context.Context, *securesim.Params) (any, teeclient.Result) {
	return nil, teeclient.Success
}
func (instantTA) CloseSession(any) {}
func (instantTA) Invoke(context.Context, any, uint32, *securesim.Params) teeclient.Result {
	return teeclient.Success
}

// startSim serves a Host on a real SOCK_SEQPACKET socket in this process
// and connects a Context to it.
func startSim(b *testing.B, defs ...securesim.Definition) *teeclient.Context {
	b.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	host, err := securesim.NewHost(defs, log)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "sw.sock")
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- securesim.NewServer(host, log).Serve(ctx, l) }()
	be, err := simtee.Dial(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	tc := teeclient.NewContext(be)
	b.Cleanup(func() {
		tc.Close()
		cancel()
		<-done
	})
	return tc
}

// BenchmarkInvokeInstant is the transport alone: InvokeCommand with a
// mailbox memref to a TA that returns at once.
func BenchmarkInvokeInstant(b *testing.B) {
	tc := startSim(b, securesim.Definition{Name: "instant", UUID: instantUUID, New: func() securesim.TA { return instantTA{} }})
	ctx := context.Background()
	sess, err := tc.OpenSession(ctx, instantUUID, teeclient.LoginPublic, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	shm, err := tc.AllocateSharedMemory(tzrpc.DefaultMailbox, teeclient.MemInput|teeclient.MemOutput)
	if err != nil {
		b.Fatal(err)
	}
	defer shm.Release()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	op := &teeclient.Operation{}
	b.ReportAllocs()
	for b.Loop() {
		op.Params[0] = teeclient.WholeMemref(shm)
		if err := sess.InvokeCommand(ctx, 0, op); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResumeNullCall is the full null call as the shadow makes it:
// RESUME through the Client API and the simulator's transport (socket,
// memfd mailbox, doorbell) to a tzposix TA whose next POSIX call costs
// nothing (F_SETFL), then the shadow's Dispatch of it.
func BenchmarkResumeNullCall(b *testing.B) {
	prog := func(ctx context.Context, p *tzposix.Proc) error {
		fd, err := p.Socket(tzposix.AF_UNIX, tzposix.SOCK_DGRAM, 0)
		if err != nil {
			return err
		}
		for ctx.Err() == nil {
			if err := p.SetNonblock(fd, true); err != nil {
				return nil
			}
		}
		return nil
	}
	tc := startSim(b, tzposix.Definition("null", nullUUID, securesim.Properties{}, prog))
	ctx := context.Background()
	open := &teeclient.Operation{}
	open.Params[0] = teeclient.Value(teeclient.ValueInput, uint32(tzrpc.Version), uint32(tzrpc.DefaultMailbox))
	sess, err := tc.OpenSession(ctx, nullUUID, teeclient.LoginPublic, 0, open)
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	shm, err := tc.AllocateSharedMemory(tzrpc.DefaultMailbox, teeclient.MemInput|teeclient.MemOutput)
	if err != nil {
		b.Fatal(err)
	}
	defer shm.Release()
	sh, err := shadow.New(shadow.Config{Name: "null", UUID: nullUUID, Root: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer sh.Close()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	op := &teeclient.Operation{}
	call := func() {
		op.Params[0] = teeclient.WholeMemref(shm)
		if err := sess.InvokeCommand(ctx, tzrpc.CmdResume, op); err != nil {
			b.Fatal(err)
		}
		if exited, _ := sh.Dispatch(ctx, shm.Buffer); exited {
			b.Fatal("the TA exited")
		}
	}
	call() // SOCKET
	b.ReportAllocs()
	for b.Loop() {
		call()
	}
}
