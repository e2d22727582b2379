package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tzmediator/tzbridge/shadow"
	"github.com/tzmediator/tzbridge/teeclient"
)

// goodStats are counters a shadow could send.
func goodStats() *shadow.Stats {
	return &shadow.Stats{
		OpenDescriptors: 2, Calls: 3, Errors: 1,
		Ops:       []shadow.OpStats{{Op: "READ", Calls: 2, Errors: map[string]uint64{"EAGAIN": 1}}, {Op: "UNKNOWN", Calls: 1}},
		Endpoints: []shadow.EndpointStats{{Endpoint: shadow.Endpoint{Kind: shadow.KindFIFO, Name: "in"}, BytesIn: 5}},
	}
}

func encode(t testing.TB, m *Msg) []byte {
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
		{"stats answer", encode(t, &Msg{Type: MsgStats, Seq: 1, Reply: true, Stats: goodStats()}), true},
		{"exit", encode(t, &Msg{Type: MsgExit, Outcome: &Outcome{Error: "TA panicked", Code: 0xffff3024}, Stats: goodStats()}), true},
		{"exit without counters", encode(t, &Msg{Type: MsgExit, Outcome: &Outcome{Exited: true}}), true},
		{"bind", encode(t, &Msg{Type: MsgBind, Network: "tcp", Addr: "127.0.0.1:7000"}), true},
		{"socket", encode(t, &Msg{Type: MsgSocket, Network: "udp6"}), true},
		{"listening tcp", encode(t, &Msg{Type: MsgListening, Addr: "tcp://127.0.0.1:7000"}), true},
		{"listening udp6", encode(t, &Msg{Type: MsgListening, Addr: "udp://[::1]:7001"}), true},
		{"listening unix", encode(t, &Msg{Type: MsgListening, Addr: "unix:/echo.sock"}), true},

		{"not JSON", []byte("\x00\x01garbage"), false},
		{"two values", append(encode(t, &Msg{Type: MsgSocket, Network: "tcp4"}), []byte(`{"type":"exit"}`)...), false},
		{"unknown field", []byte(`{"type":"socket","network":"tcp4","admin":true}`), false},
		{"unknown kind", encode(t, &Msg{Type: "define"}), false},
		{"a spec", encode(t, &Msg{Type: MsgSpec, Spec: &Spec{Name: "x"}}), false},
		{"an answer nobody asked for", encode(t, &Msg{Type: MsgBind, Reply: true}), false},
		{"stats answer without counters", encode(t, &Msg{Type: MsgStats, Reply: true}), false},
		{"unknown op name", encode(t, &Msg{Type: MsgStats, Reply: true, Stats: evil}), false},
		{"unknown errno name", encode(t, &Msg{Type: MsgExit, Outcome: &Outcome{Exited: true}, Stats: badErrno}), false},
		{"exit without outcome", encode(t, &Msg{Type: MsgExit}), false},
		{"huge outcome", encode(t, &Msg{Type: MsgExit, Outcome: &Outcome{Error: strings.Repeat("x", MaxOutcomeError+1)}}), false},
		{"exit and failure", encode(t, &Msg{Type: MsgExit, Outcome: &Outcome{Exited: true, Error: "x"}}), false},
		{"errno from a shadow", encode(t, &Msg{Type: MsgSocket, Network: "tcp4", Errno: 13}), false},
		{"bind network", encode(t, &Msg{Type: MsgBind, Network: "tcp4", Addr: "127.0.0.1:1"}), false},
		{"socket network", encode(t, &Msg{Type: MsgSocket, Network: "unix"}), false},
		{"bind without address", encode(t, &Msg{Type: MsgBind, Network: "tcp"}), false},
		{"socket with address", encode(t, &Msg{Type: MsgSocket, Network: "tcp4", Addr: "1.2.3.4:5"}), false},
		{"long address", encode(t, &Msg{Type: MsgBind, Network: "udp", Addr: strings.Repeat("1", maxHostAddr+1)}), false},
		{"listening without address", encode(t, &Msg{Type: MsgListening}), false},
		{"listening unknown network", encode(t, &Msg{Type: MsgListening, Addr: "sctp://127.0.0.1:1"}), false},
		{"listening bare address", encode(t, &Msg{Type: MsgListening, Addr: "127.0.0.1:1"}), false},
		{"listening with network", encode(t, &Msg{Type: MsgListening, Network: "tcp", Addr: "tcp://127.0.0.1:1"}), false},
		{"listening long address", encode(t, &Msg{Type: MsgListening, Addr: "unix:/" + strings.Repeat("a", maxHostAddr)}), false},
		{"counters in listening", encode(t, &Msg{Type: MsgListening, Addr: "tcp://127.0.0.1:1", Stats: goodStats()}), false},
		{"an answer to listening", encode(t, &Msg{Type: MsgListening, Reply: true, Addr: "tcp://127.0.0.1:1"}), false},
		{"counters in a bind", encode(t, &Msg{Type: MsgBind, Network: "tcp", Addr: "127.0.0.1:1", Stats: goodStats()}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeShadowMsg(tt.msg)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// TestOutcome: a shadow's outcome crosses the control socket as JSON and
// still says what the restart policy and the log need.
func TestOutcome(t *testing.T) {
	dead := fmt.Errorf("shadow echo: resume TA: %w", &teeclient.Error{Op: "InvokeCommand", Code: teeclient.ErrorTargetDead, Origin: teeclient.OriginTEE})
	tests := []struct {
		name       string
		err        error
		exited     bool
		targetDead bool
	}{
		{"exit 0", nil, true, false},
		{"TA panic", dead, false, true},
		{"exit 1", &shadow.ExitError{TA: "echo", Status: 1}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(&Msg{Type: MsgExit, Outcome: OutcomeOf(tt.err)})
			if err != nil {
				t.Fatal(err)
			}
			var m Msg
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			got := m.Outcome.Err()
			if (got == nil) != tt.exited {
				t.Fatalf("err %v, want exited %v", got, tt.exited)
			}
			if errors.Is(got, teeclient.ErrorTargetDead) != tt.targetDead {
				t.Errorf("errors.Is(%v, TargetDead) = %v", got, !tt.targetDead)
			}
			if got != nil && got.Error() != tt.err.Error() {
				t.Errorf("message %q, want %q", got, tt.err)
			}
		})
	}
}

// FuzzShadowMessage: whatever a shadow sends, the decoder does not panic,
// and what it accepts has only the shapes the supervisor is ready for:
// counters that pass Check (also summed over restarts), a bounded UTF-8
// outcome, a known network.
func FuzzShadowMessage(f *testing.F) {
	for _, m := range []*Msg{
		{Type: MsgStats, Seq: 1, Reply: true, Stats: goodStats()},
		{Type: MsgExit, Outcome: &Outcome{Error: "TA panicked", Code: 0xffff3024}, Stats: goodStats()},
		{Type: MsgBind, Network: "udp", Addr: "[::1]:7001"},
		{Type: MsgSocket, Network: "tcp6"},
		{Type: MsgListening, Addr: "tcp://127.0.0.1:7000"},
	} {
		f.Add(encode(f, m))
	}
	f.Add([]byte(`{"type":"stats","reply":true,"stats":{"Ops":[{"op":"READ","calls":1,"errors":{"EIO":1},"latency":[1,2]}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeShadowMsg(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
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
		if o := m.Outcome; o != nil && (len(o.Error) > MaxOutcomeError || !utf8.ValidString(o.Error)) {
			t.Fatalf("accepted outcome error of %d bytes", len(o.Error))
		}
		if (m.Type == MsgBind || m.Type == MsgSocket) && !hostNetwork(m.Type, m.Network) {
			t.Fatalf("accepted network %q", m.Network)
		}
		if m.Type == MsgListening && !listenAddr(m.Addr) {
			t.Fatalf("accepted listening address %q", m.Addr)
		}
		if m.Spec != nil || bytes.Contains([]byte(m.Type), []byte{'\n'}) {
			t.Fatalf("accepted %+v", m)
		}
	})
}
