package supervisor

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/internal/control"
	"github.com/tzmediator/tzbridge/internal/seqpacket"
	"github.com/tzmediator/tzbridge/internal/syncbuf"
	"github.com/tzmediator/tzbridge/shadow"
)

// goodStats are counters a shadow could send.
func goodStats() *shadow.Stats {
	return &shadow.Stats{Calls: 3, Ops: []shadow.OpStats{{Op: "READ", Calls: 3}}}
}

// TestLyingShadow: the supervisor's end of a control connection drops a
// shadow's malformed messages with a bounded number of log lines and keeps
// serving: a stats question answered with bad counters returns at once
// with the last good ones, and good messages after the bad still count.
func TestLyingShadow(t *testing.T) {
	a, b, err := seqpacket.Pair()
	if err != nil {
		t.Fatal(err)
	}
	shadowEnd, supEnd := control.NewConn(a), control.NewConn(b)
	t.Cleanup(func() { shadowEnd.Close(); supEnd.Close() })
	var logs syncbuf.Buffer
	p := &shadowProc{Process: startChild(t, "sleep", "60"), ctl: supEnd, logDone: make(chan struct{})}
	go p.serveControl(procOptions{log: slog.New(slog.NewTextHandler(&logs, nil))})

	// The fake shadow answers stats questions with good counters the
	// first time, then with lies.
	answers := 0
	go func() {
		buf := make([]byte, control.MaxMsg)
		for {
			m, fds, err := shadowEnd.Recv(buf)
			if err != nil {
				return
			}
			control.CloseFDs(fds)
			st := goodStats()
			if answers++; answers > 1 {
				st.Ops[0].Op = "READ\nlevel=ERROR msg=forged"
			}
			shadowEnd.Send(&control.Msg{Type: control.MsgStats, Seq: m.Seq, Reply: true, Stats: st})
		}
	}()
	if got := p.Stats(); got.Calls != 3 {
		t.Fatalf("first stats: %+v, want the good counters", got)
	}
	for range 50 {
		if err := sendRaw(a, []byte(`{"type":"exit","outcome":{"error":"`+strings.Repeat("x", control.MaxOutcomeError+1)+`"}}`)); err != nil {
			t.Fatal(err)
		}
		if err := sendRaw(a, []byte("not json")); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	got := p.Stats()
	if got.Calls != 3 || got.Ops[0].Op != "READ" {
		t.Errorf("after a lying answer: %+v, want the last good counters", got)
	}
	if waited := time.Since(start); waited >= statsTimeout {
		t.Errorf("a lying answer left the question waiting for its timeout (%v)", waited)
	}
	// A good exit report after all that is still heard.
	if err := shadowEnd.Send(&control.Msg{Type: control.MsgExit, Outcome: &control.Outcome{Exited: true}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		o := p.outcome
		p.mu.Unlock()
		if o != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the exit report after the malformed messages was not taken")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := strings.Count(logs.String(), `msg="shadow sent a malformed control message; dropped"`); n != maxMalformedLogged {
		t.Errorf("%d log lines about malformed messages, want %d:\n%s", n, maxMalformedLogged, logs.String())
	}
	if strings.Contains(logs.String(), "\nlevel=ERROR msg=forged") {
		t.Errorf("a forged log line got through:\n%s", logs.String())
	}
}

// sendRaw sends b as it is on c, the shadow's end of a control socket.
func sendRaw(c *net.UnixConn, b []byte) error {
	_, _, err := c.WriteMsgUnix(b, nil, nil)
	return err
}
