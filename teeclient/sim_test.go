package teeclient_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/teeclient"
	"github.com/tzmediator/tzbridge/teeclient/simtee"
)

// startSim runs a simulated secure world hosting defs on a fresh socket
// and returns a Context connected to it.
func startSim(t *testing.T, defs ...securesim.Definition) *teeclient.Context {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	host, err := securesim.NewHost(defs, log)
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
	b, err := simtee.Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	tc := teeclient.NewContext(b)
	t.Cleanup(func() {
		tc.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("secure world: %v", err)
		}
	})
	return tc
}
