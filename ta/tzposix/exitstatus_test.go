package tzposix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/tzrpc"
)

// TestProgramExitStatus: a Program chooses its exit status with ExitStatus,
// wrapped or not; other errors are status 1.
func TestProgramExitStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int64
	}{
		{"nil", nil, 0},
		{"status", ExitStatus(3), 3},
		{"zero status", ExitStatus(0), 0},
		{"negative status", ExitStatus(-2), -2},
		{"wrapped", fmt.Errorf("wasm TA: %w", ExitStatus(42)), 42},
		{"other error", errors.New("failed"), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, tzrpc.MinMailbox, func(context.Context, *Proc) error { return tt.err })
			f.expectExit(tt.want)
		})
	}
}

// TestProgramErrorLogged: the reason a program failed reaches the secure
// world's log with the TA's name, since the exit status alone cannot say it.
func TestProgramErrorLogged(t *testing.T) {
	// The program logs before it posts EXIT, and RESUME returns after:
	// no lock is needed to read buf then.
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	uuid := gp.UUID{1}
	prog := func(context.Context, *Proc) error { return errors.New("bind 127.0.0.1:7000: address already in use") }
	host, err := securesim.NewHost([]securesim.Definition{{Name: "failing", UUID: uuid, New: func() securesim.TA { return NewTA(prog) }}}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := openParams(tzrpc.MinMailbox)
	id, r, o := host.OpenSession(ctx, t, uuid, securesim.Client{}, &p)
	if r != gp.Success {
		t.Fatalf("OpenSession: %v (%v)", r, o)
	}
	defer host.CloseSession(t, id)
	mb := make([]byte, tzrpc.MinMailbox)
	p = securesim.Params{{Type: gp.AttrMemrefInout, Mem: mb, Size: uint64(len(mb))}}
	if r, o := host.Invoke(ctx, t, id, tzrpc.CmdResume, &p); r != gp.Success {
		t.Fatalf("RESUME: %v (%v)", r, o)
	}
	req, err := tzrpc.DecodeRequest(mb)
	if err != nil || req.Op != tzrpc.OpExit {
		t.Fatalf("want EXIT, got %v (%v)", req.Op, err)
	}
	for _, want := range []string{"TA program failed", "ta=failing", "address already in use"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, buf.String())
		}
	}
}
