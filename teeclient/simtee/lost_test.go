package simtee_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/teeclient"
	"github.com/tzmediator/tzbridge/teeclient/simtee"
)

// TestSecureWorldLost: when the simulated secure world goes away, Lost
// closes at once (for a client blocked elsewhere) and every call on the
// context, with a mailbox memref (the shadow's RESUME) or without, fails
// with TEEC_ERROR_TARGET_DEAD, as a session whose TA died does.
func TestSecureWorldLost(t *testing.T) {
	for _, memref := range []bool{true, false} {
		name := "value"
		if memref {
			name = "memref"
		}
		t.Run(name, func(t *testing.T) {
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			host, err := securesim.NewHost([]securesim.Definition{{Name: "instant", UUID: instantUUID, New: func() securesim.TA { return instantTA{} }}}, log)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "sw.sock")
			l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- securesim.NewServer(host, log).Serve(ctx, l) }()
			defer func() {
				cancel()
				<-done
			}()
			be, err := simtee.Dial(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			tc := teeclient.NewContext(be)
			defer tc.Close()
			sess, err := tc.OpenSession(context.Background(), instantUUID, teeclient.LoginPublic, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			shm, err := tc.AllocateSharedMemory(4096, teeclient.MemInput|teeclient.MemOutput)
			if err != nil {
				t.Fatal(err)
			}
			defer shm.Release()
			invoke := func() error {
				var ops teeclient.Operation
				if memref {
					ops.Params[0] = teeclient.WholeMemref(shm)
				}
				return sess.InvokeCommand(context.Background(), 1, &ops)
			}
			if err := invoke(); err != nil {
				t.Fatalf("before the secure world went: %v", err)
			}
			select {
			case <-be.Lost():
				t.Fatal("Lost closed while the secure world runs")
			default:
			}
			if be.Err() != nil {
				t.Fatalf("Err() = %v while the secure world runs", be.Err())
			}
			cancel() // the server closes every connection
			select {
			case <-be.Lost():
			case <-time.After(10 * time.Second):
				t.Fatal("Lost not closed 10s after the secure world went")
			}
			if err := be.Err(); !errors.Is(err, teeclient.ErrorTargetDead) {
				t.Errorf("Err() = %v, want TEEC_ERROR_TARGET_DEAD", err)
			}
			if err := invoke(); !errors.Is(err, teeclient.ErrorTargetDead) {
				t.Errorf("invoke after the secure world went: %v, want TEEC_ERROR_TARGET_DEAD", err)
			}
		})
	}
}
