package securesim

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/internal/seqpacket"
	"github.com/tzmediator/tzbridge/internal/simwire"
)

// slowOpenTA's OpenSession waits for release; it counts its sessions.
type slowOpenTA struct {
	nopTA
	entered chan struct{}
	release chan struct{}
	closed  chan struct{}
}

func (t *slowOpenTA) OpenSession(context.Context, *Params) (any, gp.Result) {
	t.entered <- struct{}{}
	<-t.release
	return nil, gp.Success
}

func (t *slowOpenTA) CloseSession(any) { t.closed <- struct{}{} }

// TestOpenSessionOfLostClient: a client that goes away while its
// OpenSession runs leaves no session behind. Its session would otherwise
// outlive the connection for ever, and a single-session TA would answer
// every later client TEE_ERROR_BUSY.
func TestOpenSessionOfLostClient(t *testing.T) {
	uuid := gp.MustParseUUID("9d0c4c37-2a5e-4b0e-8d2a-0c1d2e3f4a5b")
	ta := &slowOpenTA{entered: make(chan struct{}, 1), release: make(chan struct{}), closed: make(chan struct{}, 1)}
	h, err := NewHost([]Definition{{Name: "slow", UUID: uuid, Props: Properties{SingleInstance: true}, New: func() TA { return ta }}},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	client, server, err := seqpacket.Pair()
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(h, slog.New(slog.DiscardHandler))
	served := make(chan struct{})
	go func() {
		defer close(served)
		s.serveConn(context.Background(), server)
	}()

	m := simwire.Msg{Kind: simwire.KindOpen, Tag: 1, UUID: uuid, Login: gp.LoginPublic, CancelID: 7}
	if _, err := client.Write(m.Append(nil)); err != nil {
		t.Fatal(err)
	}
	<-ta.entered
	client.Close() // the client dies while its session opens
	time.Sleep(50 * time.Millisecond)
	close(ta.release)
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("connection not torn down")
	}
	select {
	case <-ta.closed:
	case <-time.After(10 * time.Second):
		t.Error("the session opened for a lost client was never closed")
	}
	h.mu.Lock()
	n := len(h.sessions)
	h.mu.Unlock()
	if n != 0 {
		t.Errorf("%d sessions left after their client went away", n)
	}
}

// sizeTA sets the size of every memref it gets to 1234.
type sizeTA struct{ nopTA }

func (sizeTA) Invoke(_ context.Context, _ any, _ uint32, p *Params) gp.Result {
	for i := range p {
		if p[i].Type.IsMemref() {
			p[i].Size = 1234
		}
	}
	return gp.Success
}

// TestInputMemrefSizeNotReported: as the Linux TEE driver does, only
// output and inout memrefs report a size back to the client; an input
// memref's size stays what the client passed, whatever the TA wrote.
func TestInputMemrefSizeNotReported(t *testing.T) {
	uuid := gp.MustParseUUID("4c1f3a9e-6b2d-4e8a-9f01-2b3c4d5e6f7a")
	h, err := NewHost([]Definition{{Name: "size", UUID: uuid, New: func() TA { return sizeTA{} }}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	client, server, err := seqpacket.Pair()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	go NewServer(h, slog.New(slog.DiscardHandler)).serveConn(context.Background(), server)
	roundTrip := func(m simwire.Msg) simwire.Msg {
		t.Helper()
		if _, err := client.Write(m.Append(nil)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, simwire.MaxSize)
		n, err := client.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		r, err := simwire.Unmarshal(buf[:n])
		if err != nil || r.Status != 0 || r.Ret != gp.Success {
			t.Fatalf("%v: %+v, %v", m.Kind, r, err)
		}
		return r
	}
	open := roundTrip(simwire.Msg{Kind: simwire.KindOpen, Tag: 1, UUID: uuid, Login: gp.LoginPublic})
	inv := simwire.Msg{Kind: simwire.KindInvoke, Tag: 2, Session: open.Session}
	for i, a := range []gp.Attr{gp.AttrMemrefInput, gp.AttrMemrefOutput, gp.AttrMemrefInout} {
		inv.Params[i] = gp.RawParam{Attr: a, B: 16, C: gp.MemrefNull}
	}
	r := roundTrip(inv)
	for i, want := range []uint64{16, 1234, 1234} {
		if got := r.Params[i].B; got != want {
			t.Errorf("%v memref: size %d reported, want %d", inv.Params[i].Attr, got, want)
		}
	}
}

// TestClientCloseQuiet: a client that closes its end (every shadow, at a
// clean stop) is no warning; one that breaks the protocol is.
func TestClientCloseQuiet(t *testing.T) {
	h, err := NewHost(nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		send []byte // before closing; nil sends nothing
		warn bool
	}{
		{"close", nil, false},
		{"malformed, then close", []byte{0xff, 0xff, 0xff}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			client, server, err := seqpacket.Pair()
			if err != nil {
				t.Fatal(err)
			}
			var logged bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn}))
			done := make(chan struct{})
			go func() {
				NewServer(h, log).serveConn(context.Background(), server)
				close(done)
			}()
			if tt.send != nil {
				if _, err := client.Write(tt.send); err != nil {
					t.Fatal(err)
				}
			}
			client.Close()
			<-done
			if got := logged.Len() > 0; got != tt.warn {
				t.Errorf("warned %v, want %v: %q", got, tt.warn, logged.String())
			}
		})
	}
}
