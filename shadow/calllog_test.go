package shadow

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// TestCallLog: at LevelCall every performed call gets one line with its
// op, path and outcome; at debug level none does.
func TestCallLog(t *testing.T) {
	for _, tt := range []struct {
		level slog.Level
		want  []string // lines, in order, as substrings
	}{
		{LevelCall, []string{
			`msg=call ta=test op=MKFIFO args="[438 0 0]" path=f ret=0`,
			`msg=call ta=test op=MKFIFO args="[438 0 0]" path=f errno=EEXIST`,
			`msg=call ta=test op=RENAME args="[1 0 0]" path="f -> g" ret=0`,
			`msg=call ta=test op=CLOSE args="[99 0 0]" errno=EBADF`,
		}},
		{slog.LevelDebug, nil},
	} {
		t.Run(tt.level.String(), func(t *testing.T) {
			var logged bytes.Buffer
			a := newTA(t, options{log: slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: tt.level}))})
			a.ok(tzrpc.OpMkfifo, args(0o666), []byte("f"))
			a.fails(tzrpc.EEXIST, tzrpc.OpMkfifo, args(0o666), []byte("f"))
			a.ok(tzrpc.OpRename, args(1), []byte("fg"))
			a.fails(tzrpc.EBADF, tzrpc.OpClose, args(99), nil)
			var lines []string
			for l := range strings.Lines(logged.String()) {
				if strings.Contains(l, "msg=call ") {
					lines = append(lines, l)
				}
			}
			if len(lines) != len(tt.want) {
				t.Fatalf("%d call lines, want %d:\n%s", len(lines), len(tt.want), logged.String())
			}
			for i, w := range tt.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("line %d: %q lacks %q", i, lines[i], w)
				}
			}
		})
	}
}
