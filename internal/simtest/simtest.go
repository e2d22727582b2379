// Package simtest runs a simulated secure world inside a test process and
// connects a teeclient.Context to it over a real socket, for the tests of
// the packages on either side of the Client API.
package simtest

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/teeclient"
	"github.com/tzmediator/tzbridge/teeclient/simtee"
)

// World is a secure world hosting some TAs, and a client of it.
type World struct {
	Context *teeclient.Context
	stop    func()
}

// Start runs a secure world hosting defs on a fresh socket, logging to log
// (nil discards), and connects a Context to it. The test's cleanup stops
// it; a secure world that ends with an error fails the test.
func Start(t testing.TB, log *slog.Logger, defs ...securesim.Definition) *World {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
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
		cancel()
		<-done
		t.Fatal(err)
	}
	w := &World{Context: teeclient.NewContext(b)}
	var once sync.Once
	w.stop = func() {
		once.Do(func() {
			w.Context.Close()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("secure world: %v", err)
			}
		})
	}
	t.Cleanup(w.stop)
	return w
}

// Stop closes the client and stops the secure world, before the test's
// end if need be; its sessions' TAs see the client go.
func (w *World) Stop() { w.stop() }
