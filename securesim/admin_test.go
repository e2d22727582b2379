package securesim

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/internal/seqpacket"
)

type nopTA struct{}

func (nopTA) Create() gp.Result { return gp.Success }
func (nopTA) Destroy()          {}
func (nopTA) OpenSession(context.Context, *Params) (any, gp.Result) {
	return nil, gp.Success
}
func (nopTA) CloseSession(any) {}
func (nopTA) Invoke(context.Context, any, uint32, *Params) gp.Result {
	return gp.Success
}

// adminPair serves h's admin socket and returns the supervisor's end.
func adminPair(t *testing.T, h *Host, resolve func(string) (Definition, error)) *net.UnixConn {
	t.Helper()
	mine, theirs, err := seqpacket.Pair()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.ServeAdmin(ctx, theirs, resolve) }()
	t.Cleanup(func() {
		cancel()
		mine.Close()
		if err := <-done; err != nil {
			t.Errorf("ServeAdmin: %v", err)
		}
	})
	return mine
}

// TestAdmin drives a running host's catalog through the admin socket and
// checks what a client opening a session sees after each step.
func TestAdmin(t *testing.T) {
	a := gp.MustParseUUID("0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60")
	b := gp.MustParseUUID("5f1e2d3c-4b5a-4697-8877-665544332211")
	defs := map[string]Definition{
		"a":  {Name: "a", UUID: a, New: func() TA { return nopTA{} }},
		"a2": {Name: "a2", UUID: a, New: func() TA { return nopTA{} }},
		"b":  {Name: "b", UUID: b, New: func() TA { return nopTA{} }},
	}
	resolve := func(spec string) (Definition, error) {
		d, ok := defs[spec]
		if !ok {
			return Definition{}, &os.PathError{Op: "resolve", Path: spec, Err: os.ErrNotExist}
		}
		return d, nil
	}
	h, err := NewHost([]Definition{defs["b"]}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	c := adminPair(t, h, resolve)
	steps := []struct {
		name    string
		req     string // raw JSON
		wantErr string // "" for success
		// open is the result of opening a session with a and b afterwards.
		openA, openB gp.Result
	}{
		{"ping", `{"op":"ping"}`, "", gp.ErrorItemNotFound, gp.Success},
		{"define a", `{"op":"define","spec":"a"}`, "", gp.Success, gp.Success},
		{"define a again", `{"op":"define","spec":"a2"}`, "share UUID", gp.Success, gp.Success},
		{"unresolvable", `{"op":"define","spec":"zz"}`, "zz", gp.Success, gp.Success},
		{"undefine b", `{"op":"undefine","uuid":"` + b.String() + `"}`, "", gp.Success, gp.ErrorItemNotFound},
		{"undefine b again", `{"op":"undefine","uuid":"` + b.String() + `"}`, "no TA", gp.Success, gp.ErrorItemNotFound},
		{"undefine a, define its successor", `{"op":"undefine","uuid":"` + a.String() + `"}`, "", gp.ErrorItemNotFound, gp.ErrorItemNotFound},
		{"define a2", `{"op":"define","spec":"a2"}`, "", gp.Success, gp.ErrorItemNotFound},
		{"unknown op", `{"op":"format"}`, "unknown admin request", gp.Success, gp.ErrorItemNotFound},
		{"not JSON", `{`, "bad request", gp.Success, gp.ErrorItemNotFound},
	}
	buf := make([]byte, maxAdminMsg)
	for _, s := range steps {
		if _, err := c.Write([]byte(s.req)); err != nil {
			t.Fatalf("%s: write: %v", s.name, err)
		}
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("%s: read: %v", s.name, err)
		}
		var rep AdminReply
		if err := json.Unmarshal(buf[:n], &rep); err != nil {
			t.Fatalf("%s: reply %q: %v", s.name, buf[:n], err)
		}
		if s.wantErr == "" && rep.Error != "" || s.wantErr != "" && !strings.Contains(rep.Error, s.wantErr) {
			t.Errorf("%s: error %q, want %q", s.name, rep.Error, s.wantErr)
		}
		for _, o := range []struct {
			uuid gp.UUID
			want gp.Result
		}{{a, s.openA}, {b, s.openB}} {
			id, r, _ := h.OpenSession(context.Background(), t, o.uuid, Client{}, &Params{})
			if r != o.want {
				t.Errorf("%s: open %v: %v, want %v", s.name, o.uuid, r, o.want)
			}
			if r == gp.Success {
				h.CloseSession(t, id)
			}
		}
	}
}
