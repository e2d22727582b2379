package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestToJournal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, env string
		want      bool
	}{
		{"this stream", fmt.Sprintf("%d:%d", st.Dev, st.Ino), true},
		{"another inode", fmt.Sprintf("%d:%d", st.Dev, st.Ino+1), false},
		{"another device", fmt.Sprintf("%d:%d", st.Dev+1, st.Ino), false},
		{"unset", "", false},
		{"garbage", "x:y", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("JOURNAL_STREAM", tt.env)
			if got := toJournal(f); got != tt.want {
				t.Errorf("toJournal with JOURNAL_STREAM=%q = %v, want %v", tt.env, got, tt.want)
			}
		})
	}
}

func TestLogHandler(t *testing.T) {
	tests := []struct {
		name, format string
		journal      bool
		want         []string // the lines, with the time attribute cut out
	}{
		{"text", "text", false, []string{
			`level=DEBUG msg=dbg component=x`,
			`level=INFO msg="TA tree mounted" component=x mount=/tz`,
			`level=WARN msg=slow component=x g.k=v`,
			`level=ERROR msg=failed component=x err=boom`,
		}},
		{"text to the journal", "text", true, []string{
			`<7>level=DEBUG msg=dbg component=x`,
			`<6>level=INFO msg="TA tree mounted" component=x mount=/tz`,
			`<4>level=WARN msg=slow component=x g.k=v`,
			`<3>level=ERROR msg=failed component=x err=boom`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			h, err := newLogHandler(tt.format, &b, &slog.HandlerOptions{Level: slog.LevelDebug}, tt.journal)
			if err != nil {
				t.Fatal(err)
			}
			log := slog.New(h).With("component", "x")
			log.Debug("dbg")
			log.Info("TA tree mounted", "mount", "/tz")
			log.WithGroup("g").Warn("slow", "k", "v")
			log.Error("failed", "err", "boom")
			lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(tt.want), b.String())
			}
			for i, l := range lines {
				hasTime := strings.Contains(l, "time=")
				if hasTime == tt.journal {
					t.Errorf("line %q: time attribute present %v, want %v", l, hasTime, !tt.journal)
				}
				if hasTime {
					// time=2026-11-26T00:00:00.000Z level=…
					_, l, _ = strings.Cut(l, " ")
				}
				if l != tt.want[i] {
					t.Errorf("line %d:\n got  %s\n want %s", i, l, tt.want[i])
				}
			}
		})
	}
	if _, err := newLogHandler("xml", &bytes.Buffer{}, &slog.HandlerOptions{}, false); err == nil {
		t.Error("--log-format xml accepted")
	}
}

// TestJournalHandlerLevel: the level still filters.
func TestJournalHandlerLevel(t *testing.T) {
	var b bytes.Buffer
	h, err := newLogHandler("text", &b, &slog.HandlerOptions{Level: slog.LevelWarn}, true)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(h)
	log.Info("hidden")
	log.Warn("shown")
	if got := b.String(); got != "<4>level=WARN msg=shown\n" {
		t.Errorf("got %q", got)
	}
}
