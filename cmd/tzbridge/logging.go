package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// newLogHandler makes the handler for --log-format (text or json) writing
// to w. When w is the journal's stream, text records drop their time
// (journald stamps every line itself, more precisely) and carry a syslog
// priority prefix, so that `journalctl -p warning` filters and colours
// them.
func newLogHandler(format string, w io.Writer, opts *slog.HandlerOptions, journal bool) (slog.Handler, error) {
	switch strings.ToLower(format) {
	case "text":
		if journal {
			return newJournalHandler(w, opts), nil
		}
		return slog.NewTextHandler(w, opts), nil
	case "json":
		return slog.NewJSONHandler(w, opts), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// toJournal reports whether f is the stream journald reads. systemd puts
// the device and inode of that stream in $JOURNAL_STREAM ("DEV:INO");
// checking them against f tells a service's own stderr from one redirected
// elsewhere (a file, a pipe) that merely inherited the variable.
func toJournal(f *os.File) bool {
	dev, ino, ok := strings.Cut(os.Getenv("JOURNAL_STREAM"), ":")
	if !ok {
		return false
	}
	wantDev, err1 := strconv.ParseUint(dev, 10, 64)
	wantIno, err2 := strconv.ParseUint(ino, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == wantDev && st.Ino == wantIno
}

// journalHandler is a text handler for journald: no time attribute, and a
// "<N>" syslog priority before each line (journald's SyslogLevelPrefix,
// on by default, takes it off and sets the entry's priority).
type journalHandler struct {
	// byPriority holds one text handler per priority prefix; they share
	// options, attributes and groups, and differ only in the prefix.
	byPriority map[int]slog.Handler
}

func newJournalHandler(w io.Writer, opts *slog.HandlerOptions) *journalHandler {
	o := *opts
	replace := o.ReplaceAttr
	o.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		if replace != nil {
			return replace(groups, a)
		}
		return a
	}
	h := &journalHandler{byPriority: map[int]slog.Handler{}}
	for _, p := range []int{3, 4, 6, 7} {
		h.byPriority[p] = slog.NewTextHandler(&prefixWriter{w: w, prefix: fmt.Sprintf("<%d>", p)}, &o)
	}
	return h
}

// priority maps a level to syslog's: err 3, warning 4, info 6, debug 7.
func priority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return 3
	case l >= slog.LevelWarn:
		return 4
	case l >= slog.LevelInfo:
		return 6
	}
	return 7
}

func (h *journalHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.byPriority[priority(l)].Enabled(ctx, l)
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.byPriority[priority(r.Level)].Handle(ctx, r)
}

func (h *journalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.each(func(s slog.Handler) slog.Handler { return s.WithAttrs(attrs) })
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	return h.each(func(s slog.Handler) slog.Handler { return s.WithGroup(name) })
}

func (h *journalHandler) each(f func(slog.Handler) slog.Handler) *journalHandler {
	n := &journalHandler{byPriority: make(map[int]slog.Handler, len(h.byPriority))}
	for p, s := range h.byPriority {
		n.byPriority[p] = f(s)
	}
	return n
}

// prefixWriter writes prefix before each record. slog's text handler
// writes a record, one line, in one Write call.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	if _, err := p.w.Write(append([]byte(p.prefix), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}
