package supervisor

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tzmediator/tzbridge/internal/seqpacket"
	"github.com/tzmediator/tzbridge/internal/syncbuf"
	"github.com/tzmediator/tzbridge/shadow"
)

// goodStats are counters a shadow could send.
func goodStats() *shadow.Stats {
	return &shadow.Stats{
		OpenDescriptors: 2, Calls: 3, Errors: 1,
		Ops:       []shadow.OpStats{{Op: "READ", Calls: 2, Errors: map[string]uint64{"EAGAIN": 1}}, {Op: "UNKNOWN", Calls: 1}},
		Endpoints: []shadow.EndpointStats{{Endpoint: shadow.Endpoint{Kind: shadow.KindFIFO, Name: "in"}, BytesIn: 5}},
	}
}

func encode(t testing.TB, m *ctlMsg) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeShadowMsg: what a shadow sends passes; anything else — other
// kinds, fields of another kind, names a shadow never makes, unbounded
// strings, trailing data — is refused as malformed.
func TestDecodeShadowMsg(t *testing.T) {
	evil := goodStats()
	evil.Ops[0].Op = "READ\"} evil_metric{x=\"1"
	badErrno := goodStats()
	badErrno.Ops[0].Errors = map[string]uint64{"EVIL": 1}
	tests := []struct {
		name string
		msg  []byte
		ok   bool
	}{
		{"stats answer", encode(t, &ctlMsg{Type: msgStats, Seq: 1, Reply: true, Stats: goodStats()}), true},
		{"exit", encode(t, &ctlMsg{Type: msgExit, Outcome: &outcome{Error: "TA panicked", Code: 0xffff3024}, Stats: goodStats()}), true},
		{"exit without counters", encode(t, &ctlMsg{Type: msgExit, Outcome: &outcome{Exited: true}}), true},
		{"bind", encode(t, &ctlMsg{Type: msgBind, Network: "tcp", Addr: "127.0.0.1:7000"}), true},
		{"socket", encode(t, &ctlMsg{Type: msgSocket, Network: "udp6"}), true},

		{"not JSON", []byte("\x00\x01garbage"), false},
		{"two values", append(encode(t, &ctlMsg{Type: msgSocket, Network: "tcp4"}), []byte(`{"type":"exit"}`)...), false},
		{"unknown field", []byte(`{"type":"socket","network":"tcp4","admin":true}`), false},
		{"unknown kind", encode(t, &ctlMsg{Type: "define"}), false},
		{"a spec", encode(t, &ctlMsg{Type: msgSpec, Spec: &shadowSpec{Name: "x"}}), false},
		{"an answer nobody asked for", encode(t, &ctlMsg{Type: msgBind, Reply: true}), false},
		{"stats answer without counters", encode(t, &ctlMsg{Type: msgStats, Reply: true}), false},
		{"unknown op name", encode(t, &ctlMsg{Type: msgStats, Reply: true, Stats: evil}), false},
		{"unknown errno name", encode(t, &ctlMsg{Type: msgExit, Outcome: &outcome{Exited: true}, Stats: badErrno}), false},
		{"exit without outcome", encode(t, &ctlMsg{Type: msgExit}), false},
		{"huge outcome", encode(t, &ctlMsg{Type: msgExit, Outcome: &outcome{Error: strings.Repeat("x", maxOutcomeError+1)}}), false},
		{"exit and failure", encode(t, &ctlMsg{Type: msgExit, Outcome: &outcome{Exited: true, Error: "x"}}), false},
		{"errno from a shadow", encode(t, &ctlMsg{Type: msgSocket, Network: "tcp4", Errno: 13}), false},
		{"bind network", encode(t, &ctlMsg{Type: msgBind, Network: "tcp4", Addr: "127.0.0.1:1"}), false},
		{"socket network", encode(t, &ctlMsg{Type: msgSocket, Network: "unix"}), false},
		{"bind without address", encode(t, &ctlMsg{Type: msgBind, Network: "tcp"}), false},
		{"socket with address", encode(t, &ctlMsg{Type: msgSocket, Network: "tcp4", Addr: "1.2.3.4:5"}), false},
		{"long address", encode(t, &ctlMsg{Type: msgBind, Network: "udp", Addr: strings.Repeat("1", maxHostAddr+1)}), false},
		{"counters in a bind", encode(t, &ctlMsg{Type: msgBind, Network: "tcp", Addr: "127.0.0.1:1", Stats: goodStats()}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeShadowMsg(tt.msg)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, errMalformed) {
				t.Errorf("err = %v, want errMalformed", err)
			}
		})
	}
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
	shadowEnd, supEnd := newCtlConn(a), newCtlConn(b)
	t.Cleanup(func() { shadowEnd.close(); supEnd.close() })
	var logs syncbuf.Buffer
	p := &shadowProc{Process: startChild(t, "sleep", "60"), ctl: supEnd, logDone: make(chan struct{})}
	go p.serveControl(procOptions{log: slog.New(slog.NewTextHandler(&logs, nil))})

	// The fake shadow answers stats questions with good counters the
	// first time, then with lies.
	answers := 0
	go func() {
		buf := make([]byte, maxCtlMsg)
		for {
			m, fds, err := shadowEnd.recv(buf)
			if err != nil {
				return
			}
			closeFDs(fds)
			st := goodStats()
			if answers++; answers > 1 {
				st.Ops[0].Op = "READ\nlevel=ERROR msg=forged"
			}
			shadowEnd.send(&ctlMsg{Type: msgStats, Seq: m.Seq, Reply: true, Stats: st})
		}
	}()
	if got := p.Stats(); got.Calls != 3 {
		t.Fatalf("first stats: %+v, want the good counters", got)
	}
	for range 50 {
		if err := sendRaw(shadowEnd, []byte(`{"type":"exit","outcome":{"error":"`+strings.Repeat("x", maxOutcomeError+1)+`"}}`)); err != nil {
			t.Fatal(err)
		}
		if err := sendRaw(shadowEnd, []byte("not json")); err != nil {
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
	if err := shadowEnd.send(&ctlMsg{Type: msgExit, Outcome: &outcome{Exited: true}}); err != nil {
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

func sendRaw(k *ctlConn, b []byte) error {
	_, _, err := k.c.WriteMsgUnix(b, nil, nil)
	return err
}

// FuzzShadowMessage: whatever a shadow sends, the decoder does not panic,
// and what it accepts has only the shapes the supervisor is ready for:
// counters that pass Check (also summed over restarts), a bounded UTF-8
// outcome, a known network.
func FuzzShadowMessage(f *testing.F) {
	for _, m := range []*ctlMsg{
		{Type: msgStats, Seq: 1, Reply: true, Stats: goodStats()},
		{Type: msgExit, Outcome: &outcome{Error: "TA panicked", Code: 0xffff3024}, Stats: goodStats()},
		{Type: msgBind, Network: "udp", Addr: "[::1]:7001"},
		{Type: msgSocket, Network: "tcp6"},
	} {
		f.Add(encode(f, m))
	}
	f.Add([]byte(`{"type":"stats","reply":true,"stats":{"Ops":[{"op":"READ","calls":1,"errors":{"EIO":1},"latency":[1,2]}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeShadowMsg(data)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v does not wrap errMalformed", err)
			}
			return
		}
		if m.Stats != nil {
			if err := m.Stats.Check(); err != nil {
				t.Fatalf("accepted counters fail Check: %v", err)
			}
			sum := m.Stats.Add(*m.Stats)
			if err := sum.Check(); err != nil {
				t.Fatalf("accepted counters summed fail Check: %v", err)
			}
		}
		if o := m.Outcome; o != nil && (len(o.Error) > maxOutcomeError || !utf8.ValidString(o.Error)) {
			t.Fatalf("accepted outcome error of %d bytes", len(o.Error))
		}
		if (m.Type == msgBind || m.Type == msgSocket) && !hostNetwork(m.Type, m.Network) {
			t.Fatalf("accepted network %q", m.Network)
		}
		if m.Spec != nil || bytes.Contains([]byte(m.Type), []byte{'\n'}) {
			t.Fatalf("accepted %+v", m)
		}
	})
}
