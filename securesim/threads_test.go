package securesim

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"testing"

	"github.com/tzmediator/tzbridge/gp"
)

// threadTA holds a thread of its own (OwnThread) from OpenSession to
// CloseSession, as a wasm TA's program does while it runs; Invoke reports
// GOMAXPROCS in parameter 0.
type threadTA struct{ nopTA }

func (threadTA) OpenSession(ctx context.Context, _ *Params) (any, gp.Result) {
	return OwnThread(ctx), gp.Success
}

func (threadTA) CloseSession(s any) { s.(func())() }

func (threadTA) Invoke(_ context.Context, _ any, _ uint32, p *Params) gp.Result {
	p[0].A = uint32(runtime.GOMAXPROCS(0))
	return gp.Success
}

// TestThreadPerProgram: with ThreadPerProgram(base), GOMAXPROCS is base
// plus one per program holding a thread, and falls back as they let go;
// without it, OwnThread changes nothing.
func TestThreadPerProgram(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	uuid := gp.UUID{1}
	for _, tc := range []struct {
		name    string
		perProg bool
		base    int
		// want is GOMAXPROCS with 0, 1, 2 and 3 sessions open.
		want [4]int
	}{
		{"thread per program", true, 1, [4]int{1, 2, 3, 4}},
		{"thread per program from 2", true, 2, [4]int{2, 3, 4, 5}},
		{"base 0 counts as 1", true, 0, [4]int{1, 2, 3, 4}},
		{"fixed", false, 3, [4]int{3, 3, 3, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHost([]Definition{{Name: "threads", UUID: uuid, New: func() TA { return threadTA{} }}},
				slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if tc.perProg {
				h.ThreadPerProgram(tc.base)
			} else {
				runtime.GOMAXPROCS(tc.base)
			}
			owner := new(int)
			procs := func(id uint32) int {
				t.Helper()
				var p Params
				p[0].Type = gp.AttrValueOutput
				if r, o := h.Invoke(context.Background(), owner, id, 0, &p); r != gp.Success {
					t.Fatalf("invoke: %v (origin %v)", r, o)
				}
				return int(p[0].A)
			}
			if got := runtime.GOMAXPROCS(0); got != tc.want[0] {
				t.Errorf("no session: GOMAXPROCS %d, want %d", got, tc.want[0])
			}
			var ids []uint32
			for n := 1; n <= 3; n++ {
				id, r, _ := h.OpenSession(context.Background(), owner, uuid, Client{}, &Params{})
				if r != gp.Success {
					t.Fatalf("open session %d: %v", n, r)
				}
				ids = append(ids, id)
				if got := procs(id); got != tc.want[n] {
					t.Errorf("%d sessions: GOMAXPROCS %d, want %d", n, got, tc.want[n])
				}
			}
			for n := 2; n >= 0; n-- {
				if !h.CloseSession(owner, ids[n]) {
					t.Fatalf("close session %d: not found", ids[n])
				}
				if got := runtime.GOMAXPROCS(0); got != tc.want[n] {
					t.Errorf("back to %d sessions: GOMAXPROCS %d, want %d", n, got, tc.want[n])
				}
			}
		})
	}
}
