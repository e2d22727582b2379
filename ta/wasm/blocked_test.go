package wasm

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/internal/syncbuf"
)

// TestWatchdog: a watched call that lasts past the limit gets one line
// naming the call, the target and a remedy, once per call and target; one
// that ends first gets none.
func TestWatchdog(t *testing.T) {
	var logged syncbuf.Buffer
	w := newWatchdog(slog.New(slog.NewTextHandler(&logged, nil)))

	w.after = time.Hour // ends long before
	w.enter("fd_read", 5, "/in")
	w.exit()

	w.after = time.Millisecond
	w.enter("path_open", -1, "/in")
	for !strings.Contains(logged.String(), "path_open") {
		time.Sleep(time.Millisecond)
	}
	w.exit()
	// The same call again, blocked as long: no second line.
	w.enter("path_open", -1, "/in")
	time.Sleep(20 * time.Millisecond)
	w.exit()
	w.enter("fd_write", 6, "/out")
	for !strings.Contains(logged.String(), "fd_write") {
		time.Sleep(time.Millisecond)
	}
	w.exit()

	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), logged.String())
	}
	for i, want := range [][]string{
		{"level=WARN", "call=path_open", "target=/in", "remedy=", "O_RDWR"},
		{"call=fd_write", `target="fd 6 (/out)"`, "guest.O_NONBLOCK"},
	} {
		for _, s := range want {
			if !strings.Contains(lines[i], s) {
				t.Errorf("line %d lacks %q: %s", i, s, lines[i])
			}
		}
	}
}
