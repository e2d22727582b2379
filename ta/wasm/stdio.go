package wasm

import (
	"bytes"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"
)

// Output limits for a TA's stdout and stderr: lines longer than
// maxLineLen are split; lines beyond the rate are dropped and counted.
const (
	maxLineLen = 4096
	// DefaultLogLinesPerSecond and DefaultLogBurst are the token bucket a
	// TA's output lines pass through on their way to the log.
	DefaultLogLinesPerSecond = 50
	DefaultLogBurst          = 200
)

// logSink carries a guest's stdout and stderr to the bridge's log, one
// record per line, tagged with the TA's name. A token bucket bounds the
// rate, so that a chatty or hostile TA cannot flood the log: lines over
// the rate are dropped, and the next line that passes is preceded by a
// record saying how many were. It is used from the instance's goroutine
// only.
type logSink struct {
	log     *slog.Logger
	rate    float64 // tokens (lines) per second
	burst   float64
	tokens  float64
	last    time.Time
	dropped int
	partial [2][]byte // stdout, stderr: the unfinished line
	now     func() time.Time
}

const (
	streamStdout = 0
	streamStderr = 1
)

func newLogSink(log *slog.Logger, perSecond float64, burst int) *logSink {
	return &logSink{log: log, rate: perSecond, burst: float64(burst), tokens: float64(burst), now: time.Now}
}

// write takes bytes the guest wrote to stream; whole lines are logged.
func (s *logSink) write(stream int, b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			room := maxLineLen - len(s.partial[stream])
			if len(b) < room {
				s.partial[stream] = append(s.partial[stream], b...)
				return
			}
			s.partial[stream] = append(s.partial[stream], b[:room]...)
			b = b[room:]
			s.flush(stream)
			continue
		}
		line := b[:i]
		b = b[i+1:]
		for len(s.partial[stream])+len(line) > maxLineLen {
			room := maxLineLen - len(s.partial[stream])
			s.partial[stream] = append(s.partial[stream], line[:room]...)
			line = line[room:]
			s.flush(stream)
		}
		s.partial[stream] = append(s.partial[stream], line...)
		s.flush(stream)
	}
}

// flush logs the pending line of stream, if the rate allows.
func (s *logSink) flush(stream int) {
	line := s.partial[stream]
	s.partial[stream] = line[:0]
	if !s.allow() {
		s.dropped++
		return
	}
	s.reportDropped()
	text := strings.TrimSuffix(string(line), "\r")
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	// Both streams log at Info: Go's log package, for one, writes
	// ordinary messages to stderr. The stream attribute tells them apart.
	name := "stdout"
	if stream == streamStderr {
		name = "stderr"
	}
	s.log.Info(text, "stream", name)
}

func (s *logSink) reportDropped() {
	if s.dropped > 0 {
		s.log.Warn("TA output over the rate limit: lines dropped", "dropped", s.dropped, "lines_per_second", s.rate)
		s.dropped = 0
	}
}

// allow takes a token from the bucket.
func (s *logSink) allow() bool {
	now := s.now()
	if !s.last.IsZero() {
		s.tokens = min(s.burst, s.tokens+now.Sub(s.last).Seconds()*s.rate)
	}
	s.last = now
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	return true
}

// close logs unfinished lines and the count of dropped ones.
func (s *logSink) close() {
	for stream := range s.partial {
		if len(s.partial[stream]) > 0 {
			s.flush(stream)
		}
	}
	s.reportDropped()
}
