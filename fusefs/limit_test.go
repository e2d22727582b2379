package fusefs

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestNodeLimit: a TA directory holds at most MaxNodes nodes, its declared
// endpoints and their directories included; past it every kind of
// creation fails with EDQUOT, and a removal (unlink, rmdir, a rename that
// replaces) makes room again. Directories' link counts follow every
// change without a scan of the directory.
func TestNodeLimit(t *testing.T) {
	requireFUSE(t)
	var log testLog
	f := mountTest(t, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	// in, sub and sub/deep: 3 of 6.
	root := addTA(t, f, "ta", TAOptions{MaxNodes: 6, Endpoints: []Endpoint{
		{Name: "in", Kind: FIFO},
		{Name: "sub/deep", Kind: FIFO},
	}})
	p := func(rel string) string { return filepath.Join(root, rel) }
	bindUnix := func(rel string) error {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Bind(fd, &unix.SockaddrUnix{Name: p(rel)})
	}
	nlink := func(rel string, want uint64) func(t *testing.T) {
		return func(t *testing.T) {
			if st := stat(t, p(rel)); uint64(st.Nlink) != want {
				t.Errorf("%s: nlink %d, want %d", rel, st.Nlink, want)
			}
		}
	}
	steps := []struct {
		name  string
		op    func() error
		want  syscall.Errno
		check func(t *testing.T)
	}{
		{"start", func() error { return nil }, 0, nlink(".", 4)}, // ., .., .tz, sub
		{"mkdir a (4)", func() error { return unix.Mkdir(p("a"), 0o755) }, 0, nlink(".", 5)},
		{"mkfifo a/x (5)", func() error { return unix.Mkfifo(p("a/x"), 0o600) }, 0, nil},
		{"bind a/s (6)", func() error { return bindUnix("a/s") }, 0, nil},
		{"mkfifo past the limit", func() error { return unix.Mkfifo(p("z"), 0o600) }, syscall.EDQUOT, nil},
		{"mkdir past the limit", func() error { return unix.Mkdir(p("z"), 0o755) }, syscall.EDQUOT, nil},
		{"bind past the limit", func() error { return bindUnix("z") }, syscall.EDQUOT, nil},
		{"a refused name is not there", func() error { return unix.Access(p("z"), unix.F_OK) }, syscall.ENOENT, nil},
		{"rename across directories (6)", func() error { return unix.Rename(p("a/x"), p("sub/x")) }, 0, nil},
		{"still full", func() error { return unix.Mkfifo(p("z"), 0o600) }, syscall.EDQUOT, nil},
		{"rename over a node (5)", func() error { return unix.Rename(p("sub/x"), p("a/s")) }, 0, nil},
		{"room for one (6)", func() error { return unix.Mkfifo(p("z"), 0o600) }, 0, nil},
		{"unlink (5)", func() error { return unix.Unlink(p("a/s")) }, 0, nil},
		{"rmdir (4)", func() error { return unix.Rmdir(p("a")) }, 0, nlink(".", 4)},
		{"mkdir m (5)", func() error { return unix.Mkdir(p("m"), 0o755) }, 0, nil},
		{"mkdir n (6)", func() error { return unix.Mkdir(p("n"), 0o755) }, 0, nlink(".", 6)},
		{"mkdir past the limit again", func() error { return unix.Mkdir(p("o"), 0o755) }, syscall.EDQUOT, nil},
		{"move a directory down (6)", func() error { return unix.Rename(p("m"), p("sub/m")) }, 0, func(t *testing.T) {
			nlink(".", 5)(t)
			nlink("sub", 3)(t)
		}},
		{"exchange a directory and a FIFO", func() error {
			return unix.Renameat2(unix.AT_FDCWD, p("sub/m"), unix.AT_FDCWD, p("in"), unix.RENAME_EXCHANGE)
		}, 0, func(t *testing.T) {
			nlink(".", 6)(t)
			nlink("sub", 2)(t)
		}},
		{"rmdir a non-empty directory", func() error { return unix.Rmdir(p("sub")) }, syscall.ENOTEMPTY, nil},
		{"rename a directory over an empty one (5)", func() error { return unix.Rename(p("n"), p("in")) }, 0, nlink(".", 5)},
		{"room again (6)", func() error { return unix.Mkdir(p("o"), 0o755) }, 0, nil},
	}
	for _, s := range steps {
		err := s.op()
		if errnoOf(err) != s.want {
			t.Fatalf("%s: %v, want %v", s.name, err, s.want)
		}
		if s.check != nil {
			t.Run(s.name, s.check)
		}
	}
	// Refusals in a loop make a log line per limitLogInterval at most.
	start := time.Now()
	for i := range 50 {
		if err := unix.Mkfifo(p(fmt.Sprintf("loop%d", i)), 0o600); errnoOf(err) != syscall.EDQUOT {
			t.Fatalf("mkfifo in a full directory: %v, want EDQUOT", err)
		}
	}
	most := 1 + int(time.Since(start)/limitLogInterval) + 1 // the steps' refusals may have logged one more
	if n := strings.Count(log.String(), "TA reached its node limit"); n < 1 || n > most {
		t.Errorf("%d log lines about the limit for 55 refusals, want 1 to %d:\n%s", n, most, log.String())
	}
	if !strings.Contains(log.String(), "ta=ta max=6") {
		t.Errorf("the log line does not name the TA and its limit:\n%s", log.String())
	}
	// Another TA's directory has a count of its own.
	other := addTA(t, f, "tb", TAOptions{MaxNodes: 1})
	if err := unix.Mkdir(filepath.Join(other, "d"), 0o755); err != nil {
		t.Fatalf("first node of another TA: %v", err)
	}
	if err := unix.Mkfifo(filepath.Join(other, "f"), 0o600); errnoOf(err) != syscall.EDQUOT {
		t.Fatalf("second node of a TA with room for one: %v, want EDQUOT", err)
	}
}
