//go:build cgo

package wasitest

import (
	"encoding/binary"
	"syscall"
	"testing"
)

type sub struct {
	userdata uint64
	tag      byte
	fd       uint32 // fd_read, fd_write
	clock    uint32
	timeout  uint64
	abs      bool
}

func putSubs(l *layer, at uint32, subs []sub) {
	for i, s := range subs {
		b := l.mem[at+uint32(48*i):][:48]
		clear(b)
		binary.LittleEndian.PutUint64(b, s.userdata)
		b[8] = s.tag
		if s.tag == 0 {
			binary.LittleEndian.PutUint32(b[16:], s.clock)
			binary.LittleEndian.PutUint64(b[24:], s.timeout)
			if s.abs {
				binary.LittleEndian.PutUint16(b[40:], 1)
			}
		} else {
			binary.LittleEndian.PutUint32(b[16:], s.fd)
		}
	}
}

type ev struct {
	userdata uint64
	errno    uint16
	typ      byte
	hangup   bool
}

func events(l *layer, at uint32, n int) []ev {
	var out []ev
	for i := range n {
		b := l.mem[at+uint32(32*i):][:32]
		out = append(out, ev{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint16(b[8:]), b[10], binary.LittleEndian.Uint16(b[24:]) == 1})
	}
	return out
}

// TestPollOneoff: the semantics of docs/wasm.md, "poll_oneoff".
func TestPollOneoff(t *testing.T) {
	const (
		pollIn, pollOut, pollErr, pollHup, pollNval = 1, 4, 8, 0x10, 0x20
	)
	tests := []struct {
		name    string
		subs    func(s, f uint32) []sub
		ret     int64
		errno   int
		revents []int16
		// whether tzposix poll is called, with what entries and timeout
		polls   bool
		pollFds []int
		pollEv  []int16
		timeout int
		want    []ev
		werr    int
	}{
		{
			name:    "read and write on one socket merge",
			subs:    func(s, _ uint32) []sub { return []sub{{userdata: 1, tag: 1, fd: s}, {userdata: 2, tag: 2, fd: s}} },
			ret:     1,
			revents: []int16{pollOut},
			polls:   true, pollFds: []int{40}, pollEv: []int16{pollIn | pollOut}, timeout: -1,
			want: []ev{{2, 0, 2, false}},
		},
		{
			name:  "stdout at once, then timeout 0",
			subs:  func(s, _ uint32) []sub { return []sub{{userdata: 1, tag: 2, fd: 1}, {userdata: 2, tag: 1, fd: s}} },
			polls: true, pollFds: []int{40}, pollEv: []int16{pollIn}, timeout: 0,
			want: []ev{{1, 0, 2, false}},
		},
		{
			name: "stdin hangs up, no poll",
			subs: func(_, _ uint32) []sub { return []sub{{userdata: 7, tag: 1, fd: 0}} },
			want: []ev{{7, 0, 1, true}},
		},
		{
			name: "bad fd is an event",
			subs: func(_, _ uint32) []sub {
				return []sub{{userdata: 3, tag: 1, fd: 55}, {userdata: 4, tag: 0, clock: 1, timeout: 1e9}}
			},
			want: []ev{{3, eBadf, 1, false}},
		},
		{
			name: "bad clock is an event",
			subs: func(_, _ uint32) []sub { return []sub{{userdata: 5, tag: 0, clock: 9}} },
			want: []ev{{5, eInval, 0, false}},
		},
		{
			name:  "clock alone goes to the shadow as a poll of nothing, rounded up",
			subs:  func(_, _ uint32) []sub { return []sub{{userdata: 6, tag: 0, clock: 1, timeout: 1500000}} },
			polls: true, timeout: 2,
			want: nil,
		},
		{
			name:    "hang-up and NVAL",
			subs:    func(s, f uint32) []sub { return []sub{{userdata: 1, tag: 1, fd: s}, {userdata: 2, tag: 2, fd: f}} },
			ret:     2,
			revents: []int16{pollHup, pollNval},
			polls:   true, pollFds: []int{40, 41}, pollEv: []int16{pollIn, pollOut}, timeout: -1,
			want: []ev{{1, 0, 1, true}, {2, eBadf, 2, false}},
		},
		{
			name:    "error shows in both directions",
			subs:    func(s, _ uint32) []sub { return []sub{{userdata: 1, tag: 2, fd: s}} },
			ret:     1,
			revents: []int16{pollErr},
			polls:   true, pollFds: []int{40}, pollEv: []int16{pollOut}, timeout: -1,
			want: []ev{{1, 0, 2, false}},
		},
		{
			name: "interrupted: no events",
			subs: func(s, _ uint32) []sub { return []sub{{userdata: 1, tag: 1, fd: s}} },
			ret:  -1, errno: int(syscall.EINTR),
			polls: true, pollFds: []int{40}, pollEv: []int16{pollIn}, timeout: -1,
			want: nil,
		},
		{
			name: "failed: an event per descriptor subscription",
			subs: func(s, _ uint32) []sub { return []sub{{userdata: 1, tag: 1, fd: s}} },
			ret:  -1, errno: int(syscall.EIO),
			polls: true, pollFds: []int{40}, pollEv: []int16{pollIn}, timeout: -1,
			want: []ev{{1, eIo, 1, false}},
		},
		{
			name: "unknown tag fails the call",
			subs: func(_, _ uint32) []sub { return []sub{{userdata: 1, tag: 3}} },
			werr: eInval,
		},
		{
			name:  "a clock that has passed fires",
			subs:  func(_, _ uint32) []sub { return []sub{{userdata: 9, tag: 0, clock: 1, timeout: 0}} },
			polls: true, timeout: 0,
			want: []ev{{9, 0, 0, false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := withLayer(t)
			s := openSock(t, l, 1, 40)
			f := openFile(t, l, "out", 41)
			subs := tt.subs(s, f)
			putSubs(l, 1000, subs)
			for i, r := range tt.revents {
				setRevents(i, r)
			}
			setRet(tt.ret, tt.errno)
			before := calls()
			e := l.call(fPoll, 1000, 5000, uint64(len(subs)), 100)
			if e != tt.werr {
				t.Fatalf("errno %d, want %d", e, tt.werr)
			}
			if tt.werr != 0 {
				return
			}
			polled := calls() != before
			if polled != tt.polls {
				t.Fatalf("polled %v, want %v", polled, tt.polls)
			}
			if polled {
				fds, evs := pollEntries()
				if len(fds) != len(tt.pollFds) || pollTimeout() != tt.timeout {
					t.Fatalf("poll(%v %v, %d), want (%v %v, %d)", fds, evs, pollTimeout(), tt.pollFds, tt.pollEv, tt.timeout)
				}
				for i := range fds {
					if fds[i] != tt.pollFds[i] || evs[i] != tt.pollEv[i] {
						t.Fatalf("poll(%v %v), want (%v %v)", fds, evs, tt.pollFds, tt.pollEv)
					}
				}
			}
			n := int(le32(l.mem[100:]))
			got := events(l, 5000, n)
			if len(got) != len(tt.want) {
				t.Fatalf("events %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("events %+v, want %+v", got, tt.want)
				}
			}
		})
	}
	t.Run("no subscriptions", func(t *testing.T) {
		l := withLayer(t)
		if e := l.call(fPoll, 1000, 5000, 0, 100); e != eInval {
			t.Fatalf("errno %d", e)
		}
	})
	t.Run("events may overwrite subscriptions", func(t *testing.T) {
		l := withLayer(t)
		s := openSock(t, l, 1, 40)
		putSubs(l, 1000, []sub{{userdata: 1, tag: 1, fd: s}, {userdata: 2, tag: 2, fd: 1}})
		setRevents(0, pollIn)
		setRet(1, 0)
		if e := l.call(fPoll, 1000, 1000, 2, 100); e != eSuccess {
			t.Fatalf("errno %d", e)
		}
		got := events(l, 1000, int(le32(l.mem[100:])))
		if len(got) != 2 || got[0].userdata != 2 || got[1].userdata != 1 {
			t.Fatalf("events %+v", got)
		}
	})
}
