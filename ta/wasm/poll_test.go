package wasm

import (
	"encoding/binary"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/tzmediator/tzbridge/ta/tzposix"
)

// sub encodes one WASI subscription.
type sub struct {
	userdata uint64
	tag      uint8
	fd       uint32 // fd_read, fd_write
	clock    uint32
	timeout  uint64
	flags    uint16
}

func (s sub) bytes() []byte {
	b := make([]byte, subscriptionSize)
	binary.LittleEndian.PutUint64(b, s.userdata)
	b[8] = s.tag
	if s.tag == eventtypeClock {
		binary.LittleEndian.PutUint32(b[16:], s.clock)
		binary.LittleEndian.PutUint64(b[24:], s.timeout)
		binary.LittleEndian.PutUint16(b[40:], s.flags)
	} else {
		binary.LittleEndian.PutUint32(b[16:], s.fd)
	}
	return b
}

func readSub(fd uint32, ud uint64) sub  { return sub{userdata: ud, tag: eventtypeFdRead, fd: fd} }
func writeSub(fd uint32, ud uint64) sub { return sub{userdata: ud, tag: eventtypeFdWrite, fd: fd} }
func clockSub(ns uint64, ud uint64) sub {
	return sub{userdata: ud, tag: eventtypeClock, clock: clockMonotonic, timeout: ns}
}

// pollIn runs poll_oneoff over subs at address 0, events at 4096, and
// returns the events.
func pollIn(t *testing.T, st *instance, mod api.Module, subs ...sub) ([]event, errno) {
	t.Helper()
	m := memOf(mod)
	var in []byte
	for _, s := range subs {
		in = append(in, s.bytes()...)
	}
	copy(must(m.bytes(0, uint32(len(in)))), in)
	er := st.pollOneoff(mod, []uint64{0, 4096, uint64(len(subs)), 8000})
	if er != errnoSuccess {
		return nil, er
	}
	n, _ := m.u32(8000)
	out := must(m.bytes(4096, n*eventSize))
	var evs []event
	for i := range n {
		o := out[i*eventSize:]
		evs = append(evs, event{userdata: le64(o), errno: errno(le16(o[8:])), typ: o[10], hangup: le16(o[24:])&eventrwflagHangup != 0})
	}
	return evs, er
}

func TestPollOneoff(t *testing.T) {
	const sock, file, other = 4, 5, 6 // guest fds → host 40, 50, 60
	tests := []struct {
		name      string
		subs      []sub
		revents   map[int32]int16
		pollErr   error
		want      []event
		wantErr   errno
		wantPolls []pollCall
	}{
		{
			name:      "read ready",
			subs:      []sub{readSub(sock, 1)},
			revents:   map[int32]int16{40: tzposix.POLLIN},
			want:      []event{{userdata: 1, typ: eventtypeFdRead}},
			wantPolls: []pollCall{{fds: []tzposix.PollFd{{Fd: 40, Events: tzposix.POLLIN}}, timeout: -1}},
		},
		{
			name:    "read and write of one descriptor are one poll entry",
			subs:    []sub{readSub(sock, 1), writeSub(sock, 2), readSub(file, 3)},
			revents: map[int32]int16{40: tzposix.POLLOUT, 50: 0},
			want:    []event{{userdata: 2, typ: eventtypeFdWrite}},
			wantPolls: []pollCall{{fds: []tzposix.PollFd{
				{Fd: 40, Events: tzposix.POLLIN | tzposix.POLLOUT},
				{Fd: 50, Events: tzposix.POLLIN}}, timeout: -1}},
		},
		{
			name:    "hang-up wakes both directions and says so",
			subs:    []sub{readSub(sock, 1), writeSub(sock, 2)},
			revents: map[int32]int16{40: tzposix.POLLHUP},
			want:    []event{{userdata: 1, typ: eventtypeFdRead, hangup: true}, {userdata: 2, typ: eventtypeFdWrite, hangup: true}},
		},
		{
			name:    "error wakes readers and writers without an errno",
			subs:    []sub{writeSub(file, 7)},
			revents: map[int32]int16{50: tzposix.POLLERR},
			want:    []event{{userdata: 7, typ: eventtypeFdWrite}},
		},
		{
			name:    "POLLNVAL is EBADF",
			subs:    []sub{readSub(file, 7)},
			revents: map[int32]int16{50: tzposix.POLLNVAL},
			want:    []event{{userdata: 7, errno: errnoBadf, typ: eventtypeFdRead}},
		},
		{
			name:      "clock bounds the wait",
			subs:      []sub{clockSub(uint64(3*time.Second+1), 9), readSub(sock, 1)},
			revents:   map[int32]int16{40: tzposix.POLLIN},
			want:      []event{{userdata: 1, typ: eventtypeFdRead}},
			wantPolls: []pollCall{{fds: []tzposix.PollFd{{Fd: 40, Events: tzposix.POLLIN}}, timeout: 3001}},
		},
		{
			name:      "clock fires after the wait",
			subs:      []sub{readSub(sock, 1), clockSub(uint64(time.Microsecond), 9)},
			want:      []event{{userdata: 9, typ: eventtypeClock}},
			wantPolls: []pollCall{{fds: []tzposix.PollFd{{Fd: 40, Events: tzposix.POLLIN}}, timeout: 1}},
		},
		{
			name: "clock alone waits locally",
			subs: []sub{clockSub(uint64(time.Millisecond), 9)},
			want: []event{{userdata: 9, typ: eventtypeClock}},
		},
		{
			name: "past absolute clock fires at once",
			subs: []sub{{userdata: 9, tag: eventtypeClock, clock: clockRealtime, timeout: 1, flags: subclockAbstime}},
			want: []event{{userdata: 9, typ: eventtypeClock}},
		},
		{
			name: "unknown clock is an event error",
			subs: []sub{{userdata: 9, tag: eventtypeClock, clock: 7, timeout: 1}},
			want: []event{{userdata: 9, errno: errnoInval, typ: eventtypeClock}},
		},
		{
			name:      "stdio and unknown descriptors answer at once, others are still polled",
			subs:      []sub{readSub(0, 1), writeSub(1, 2), readSub(99, 3), readSub(sock, 4)},
			revents:   map[int32]int16{40: tzposix.POLLIN},
			want:      []event{{userdata: 1, typ: eventtypeFdRead, hangup: true}, {userdata: 2, typ: eventtypeFdWrite}, {userdata: 3, errno: errnoBadf, typ: eventtypeFdRead}, {userdata: 4, typ: eventtypeFdRead}},
			wantPolls: []pollCall{{fds: []tzposix.PollFd{{Fd: 40, Events: tzposix.POLLIN}}, timeout: 0}},
		},
		{
			name:    "a failing poll is reported per subscription",
			subs:    []sub{readSub(sock, 1), clockSub(1e9, 9), writeSub(other, 2)},
			pollErr: syscall.ENOMEM,
			want:    []event{{userdata: 1, errno: errnoNomem, typ: eventtypeFdRead}, {userdata: 2, errno: errnoNomem, typ: eventtypeFdWrite}},
		},
		{
			name:    "interrupted poll: no events, the guest polls again",
			subs:    []sub{readSub(sock, 1)},
			pollErr: syscall.EINTR,
		},
		{
			name:    "unknown subscription tag",
			subs:    []sub{{userdata: 1, tag: 3}},
			wantErr: errnoInval,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakePosix{revents: tt.revents, err: tt.pollErr}
			st := testInstance(t, f)
			st.sleep = st.sleepUntil // really wait for local clocks
			st.fds.set(sock, &fdEntry{kind: kindStream, host: 40})
			st.fds.set(file, &fdEntry{kind: kindFile, host: 50})
			st.fds.set(other, &fdEntry{kind: kindStream, host: 60})
			evs, er := pollIn(t, st, memModule(t), tt.subs...)
			if er != tt.wantErr {
				t.Fatalf("errno %d, want %d", er, tt.wantErr)
			}
			if !slices.Equal(evs, tt.want) {
				t.Errorf("events %+v\nwant   %+v", evs, tt.want)
			}
			if tt.wantPolls != nil && !slices.EqualFunc(f.polls, tt.wantPolls, func(a, b pollCall) bool {
				return a.timeout == b.timeout && slices.Equal(a.fds, b.fds)
			}) {
				t.Errorf("polls %+v\nwant  %+v", f.polls, tt.wantPolls)
			}
		})
	}
}

// TestPollOverlap: events may be written over the subscriptions.
func TestPollOverlap(t *testing.T) {
	f := &fakePosix{revents: map[int32]int16{40: tzposix.POLLIN}}
	st := testInstance(t, f)
	st.fds.set(4, &fdEntry{kind: kindStream, host: 40})
	mod := memModule(t)
	m := memOf(mod)
	copy(must(m.bytes(0, 96)), append(readSub(4, 11).bytes(), writeSub(1, 12).bytes()...))
	if er := st.pollOneoff(mod, []uint64{0, 0, 2, 8000}); er != 0 {
		t.Fatal(er)
	}
	if n, _ := m.u32(8000); n != 2 {
		t.Fatalf("%d events", n)
	}
	b := must(m.bytes(0, 64))
	if le64(b) != 12 || b[10] != eventtypeFdWrite || le64(b[32:]) != 11 || b[42] != eventtypeFdRead {
		t.Errorf("events %x", b)
	}
}

// TestPollManyDescriptors: more descriptors than one Poll carries are
// polled in chunks, none larger than pollChunk.
func TestPollManyDescriptors(t *testing.T) {
	const n = 1300
	f := &fakePosix{revents: map[int32]int16{1000 + n - 1: tzposix.POLLIN}}
	st := testInstance(t, f)
	var subs []sub
	for i := range n {
		fd := addHost(t, st, kindStream, 1000+i)
		subs = append(subs, readSub(fd, uint64(i)))
	}
	mod := memModule(t)
	// Too many subscriptions for the first page: use a fresh layout.
	m := memOf(mod)
	if _, ok := m.m.Grow(2); !ok {
		t.Fatal("grow")
	}
	var in []byte
	for _, s := range subs {
		in = append(in, s.bytes()...)
	}
	copy(must(m.bytes(0, uint32(len(in)))), in)
	if er := st.pollOneoff(mod, []uint64{0, 70000, n, 69000}); er != 0 {
		t.Fatal(er)
	}
	if k, _ := m.u32(69000); k != 1 {
		t.Errorf("%d events, want 1", k)
	}
	if ud := le64(must(m.bytes(70000, 8))); ud != n-1 {
		t.Errorf("event for %d, want %d", ud, n-1)
	}
	for _, p := range f.polls {
		if len(p.fds) > pollChunk {
			t.Errorf("one Poll of %d descriptors", len(p.fds))
		}
	}
}

// FuzzPollOneoff feeds arbitrary subscription memory to poll_oneoff. It
// must never panic, and every event it reports must answer one of the
// subscriptions it was given.
func FuzzPollOneoff(f *testing.F) {
	seed := func(subs ...sub) []byte {
		var b []byte
		for _, s := range subs {
			b = append(b, s.bytes()...)
		}
		return b
	}
	f.Add(seed(readSub(4, 1), writeSub(5, 2), clockSub(1e6, 3)), uint16(3), uint16(0x11))
	f.Add(seed(readSub(0, 1), writeSub(1, 2), readSub(99, 3)), uint16(3), uint16(0))
	f.Add(seed(sub{userdata: 5, tag: eventtypeClock, clock: 9, timeout: ^uint64(0), flags: 0xffff}), uint16(1), uint16(0x3f))
	f.Add([]byte{1, 2, 3}, uint16(4), uint16(4))
	f.Fuzz(func(t *testing.T, data []byte, n uint16, rev uint16) {
		fp := &fakePosix{revents: map[int32]int16{40: int16(rev) & 0x3f, 50: int16(rev>>6) & 0x3f}}
		st := testInstance(t, fp)
		st.fds.set(4, &fdEntry{kind: kindStream, host: 40})
		st.fds.set(5, &fdEntry{kind: kindFile, host: 50})
		mod := memModule(t)
		m := memOf(mod)
		copy(must(m.bytes(0, 32768)), data)
		// What the subscriptions are, read before the call (events go
		// after them, at 32768, so for n ≤ 682 nothing overlaps).
		var in []byte
		if int(n)*subscriptionSize <= 32768 {
			in = append(in, must(m.bytes(0, uint32(n)*subscriptionSize))...)
		}
		er := st.pollOneoff(mod, []uint64{0, 32768, uint64(n), 65000})
		switch er {
		case errnoSuccess:
		case errnoInval, errnoFault:
			return
		default:
			t.Fatalf("errno %d", er)
		}
		k, _ := m.u32(65000)
		if k > uint32(n) {
			t.Fatalf("%d events for %d subscriptions", k, n)
		}
		if in == nil {
			return
		}
		for i := range k {
			o := must(m.bytes(32768+i*eventSize, eventSize))
			ud, typ := le64(o), o[10]
			found := false
			for j := 0; j < int(n); j++ {
				if s := in[j*subscriptionSize:]; le64(s) == ud && s[8] == typ {
					found = true
					break
				}
			}
			if !found {
				t.Fatalf("event %d (userdata %d, type %d) answers no subscription", i, ud, typ)
			}
		}
	})
}
