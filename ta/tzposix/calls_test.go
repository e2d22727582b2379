package tzposix

import (
	"bytes"
	"errors"
	"reflect"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// exchange is one request the call must post and the answer to give it.
type exchange struct {
	op      tzrpc.Op
	args    [6]int64
	payload []byte

	ret   int64
	errno tzrpc.Errno
	aux   [4]int64
	resp  []byte
}

var (
	loopback = tzrpc.Inet4Sockaddr([4]byte{127, 0, 0, 1}, 7000)
	peer4    = tzrpc.Inet4Sockaddr([4]byte{10, 1, 2, 3}, 40000)
	peer6    = tzrpc.Inet6Sockaddr([16]byte{15: 1}, 443, 2)
	sockPath = mustUnix("/echo.sock")
	unnamed  = mustUnix("")
)

func mustUnix(p string) tzrpc.Sockaddr {
	s, err := tzrpc.UnixSockaddr(p)
	if err != nil {
		panic(err)
	}
	return s
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func seqBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}

var (
	file    = fdInfo{kind: kindFile}
	nbFile  = fdInfo{kind: kindFile, status: tzrpc.O_NONBLOCK}
	stream  = fdInfo{kind: kindStream}
	nbSock  = fdInfo{kind: kindStream, status: tzrpc.O_NONBLOCK}
	dgram   = fdInfo{kind: kindDgram}
	testCap = tzrpc.MinMailbox - tzrpc.HeaderSize
)

type readResult struct {
	n    int
	data []byte
	from tzrpc.Sockaddr
}

type fdAddr struct {
	fd   int
	addr tzrpc.Sockaddr
}

func TestCalls(t *testing.T) {
	big := seqBytes(2*testCap + 100)
	tests := []struct {
		name    string
		fds     map[int32]fdInfo
		call    func(p *Proc) (any, error)
		ex      []exchange
		want    any
		wantErr error
		wantFDs map[int32]fdInfo // nil: unchanged
	}{
		{
			name: "open",
			call: func(p *Proc) (any, error) { return p.Open("/in", O_RDONLY|O_NONBLOCK, 0) },
			ex: []exchange{{op: tzrpc.OpOpen, args: [6]int64{O_RDONLY | O_NONBLOCK, 0}, payload: []byte("/in"),
				ret: 3}},
			want:    3,
			wantFDs: map[int32]fdInfo{3: nbFile},
		},
		{
			name: "open append creat",
			call: func(p *Proc) (any, error) { return p.Open("log", O_WRONLY|O_CREAT|O_APPEND, 0o600) },
			ex: []exchange{{op: tzrpc.OpOpen, args: [6]int64{O_WRONLY | O_CREAT | O_APPEND, 0o600}, payload: []byte("log"),
				ret: 0}},
			want:    0,
			wantFDs: map[int32]fdInfo{0: {kind: kindFile, status: O_APPEND}},
		},
		{
			name:    "open errno",
			call:    func(p *Proc) (any, error) { return p.Open("/nope", O_RDONLY, 0) },
			ex:      []exchange{{op: tzrpc.OpOpen, payload: []byte("/nope"), errno: tzrpc.ENOENT}},
			want:    -1,
			wantErr: syscall.ENOENT,
		},
		{
			name:    "open empty path fails locally",
			call:    func(p *Proc) (any, error) { return p.Open("", O_RDONLY, 0) },
			want:    -1,
			wantErr: syscall.ENOENT,
		},
		{
			name:    "open bad mode fails locally",
			call:    func(p *Proc) (any, error) { return p.Open("x", O_RDONLY, 0o17777) },
			want:    -1,
			wantErr: syscall.EINVAL,
		},
		{
			name:    "close",
			fds:     map[int32]fdInfo{4: file, 5: file},
			call:    func(p *Proc) (any, error) { return nil, p.Close(4) },
			ex:      []exchange{{op: tzrpc.OpClose, args: [6]int64{4}}},
			wantFDs: map[int32]fdInfo{5: file},
		},
		{
			name:    "close forgets fd even on error",
			fds:     map[int32]fdInfo{4: file},
			call:    func(p *Proc) (any, error) { return nil, p.Close(4) },
			ex:      []exchange{{op: tzrpc.OpClose, args: [6]int64{4}, errno: tzrpc.EIO}},
			wantErr: syscall.EIO,
			wantFDs: map[int32]fdInfo{},
		},
		{
			name:    "close unknown fd: EBADF, no round trip",
			call:    func(p *Proc) (any, error) { return nil, p.Close(9) },
			wantErr: syscall.EBADF,
		},
		{
			name: "read",
			fds:  map[int32]fdInfo{3: file},
			call: func(p *Proc) (any, error) {
				b := make([]byte, 10)
				n, err := p.Read(3, b)
				return readResult{n: n, data: b}, err
			},
			ex:   []exchange{{op: tzrpc.OpRead, args: [6]int64{3, 10}, ret: 5, resp: []byte("hello")}},
			want: readResult{n: 5, data: []byte("hello\x00\x00\x00\x00\x00")},
		},
		{
			name: "read asks at most the mailbox",
			fds:  map[int32]fdInfo{3: file},
			call: func(p *Proc) (any, error) {
				b := make([]byte, 3*testCap)
				n, err := p.Read(3, b)
				return n, err
			},
			ex:   []exchange{{op: tzrpc.OpRead, args: [6]int64{3, int64(testCap)}, ret: 2, resp: []byte("ab")}},
			want: 2,
		},
		{
			name: "read EOF",
			fds:  map[int32]fdInfo{3: file},
			call: func(p *Proc) (any, error) { return p.Read(3, make([]byte, 8)) },
			ex:   []exchange{{op: tzrpc.OpRead, args: [6]int64{3, 8}}},
			want: 0,
		},
		{
			name:    "read EAGAIN",
			fds:     map[int32]fdInfo{3: nbFile},
			call:    func(p *Proc) (any, error) { return p.Read(3, make([]byte, 8)) },
			ex:      []exchange{{op: tzrpc.OpRead, args: [6]int64{3, 8}, errno: tzrpc.EAGAIN}},
			want:    0,
			wantErr: syscall.EAGAIN,
		},
		{
			name:    "read unknown fd",
			call:    func(p *Proc) (any, error) { return p.Read(3, make([]byte, 8)) },
			want:    0,
			wantErr: syscall.EBADF,
		},
		{
			name: "recv with flags",
			fds:  map[int32]fdInfo{6: stream},
			call: func(p *Proc) (any, error) {
				b := make([]byte, 4)
				n, err := p.Recv(6, b, MSG_PEEK|MSG_DONTWAIT)
				return readResult{n: n, data: b}, err
			},
			ex:   []exchange{{op: tzrpc.OpRecv, args: [6]int64{6, 4, MSG_PEEK | MSG_DONTWAIT}, ret: 4, resp: []byte("abcd")}},
			want: readResult{n: 4, data: []byte("abcd")},
		},
		{
			name:    "recv bad flags fail locally",
			fds:     map[int32]fdInfo{6: stream},
			call:    func(p *Proc) (any, error) { return p.Recv(6, make([]byte, 4), 0x1) },
			want:    0,
			wantErr: syscall.EINVAL,
		},
		{
			name: "recvfrom",
			fds:  map[int32]fdInfo{7: dgram},
			call: func(p *Proc) (any, error) {
				b := make([]byte, 16)
				n, from, err := p.Recvfrom(7, b, 0)
				return readResult{n: n, data: b[:n], from: from}, err
			},
			ex: []exchange{{op: tzrpc.OpRecvfrom, args: [6]int64{7, 16}, ret: 3, aux: [4]int64{int64(peer4.Len())},
				resp: cat(peer4.Marshal(), []byte("udp"))}},
			want: readResult{n: 3, data: []byte("udp"), from: peer4},
		},
		{
			name: "recvfrom ipv6 and no address",
			fds:  map[int32]fdInfo{7: dgram},
			call: func(p *Proc) (any, error) {
				b := make([]byte, 16)
				n, from, err := p.Recvfrom(7, b, MSG_DONTWAIT)
				if err != nil {
					return nil, err
				}
				n2, from2, err := p.Recvfrom(7, b[n:], 0)
				return []any{readResult{n: n, data: b[:n], from: from}, readResult{n: n2, data: b[n : n+n2], from: from2}}, err
			},
			ex: []exchange{
				{op: tzrpc.OpRecvfrom, args: [6]int64{7, 16, MSG_DONTWAIT}, ret: 2, aux: [4]int64{int64(peer6.Len())},
					resp: cat(peer6.Marshal(), []byte("v6"))},
				{op: tzrpc.OpRecvfrom, args: [6]int64{7, 14}, ret: 1, resp: []byte("s")},
			},
			want: []any{readResult{n: 2, data: []byte("v6"), from: peer6}, readResult{n: 1, data: []byte("s")}},
		},
		{
			name: "recvfrom asks room for the address",
			fds:  map[int32]fdInfo{7: dgram},
			call: func(p *Proc) (any, error) {
				n, _, err := p.Recvfrom(7, make([]byte, 65536), 0)
				return n, err
			},
			ex:   []exchange{{op: tzrpc.OpRecvfrom, args: [6]int64{7, int64(testCap - tzrpc.MaxSockaddrLen)}}},
			want: 0,
		},
		{
			name: "write",
			fds:  map[int32]fdInfo{3: file},
			call: func(p *Proc) (any, error) { return p.Write(3, []byte("hello")) },
			ex:   []exchange{{op: tzrpc.OpWrite, args: [6]int64{3}, payload: []byte("hello"), ret: 5}},
			want: 5,
		},
		{
			name: "write blocking loops over chunks and short writes",
			fds:  map[int32]fdInfo{3: file},
			call: func(p *Proc) (any, error) { return p.Write(3, big) },
			ex: []exchange{
				{op: tzrpc.OpWrite, args: [6]int64{3}, payload: big[:testCap], ret: int64(testCap)},
				{op: tzrpc.OpWrite, args: [6]int64{3}, payload: big[testCap : 2*testCap], ret: 10},
				{op: tzrpc.OpWrite, args: [6]int64{3}, payload: big[testCap+10 : 2*testCap+10], ret: int64(testCap)},
				{op: tzrpc.OpWrite, args: [6]int64{3}, payload: big[2*testCap+10:], ret: 90},
			},
			want: len(big),
		},
		{
			name: "write blocking error after progress",
			fds:  map[int32]fdInfo{3: file},
			call: func(p *Proc) (any, error) { return p.Write(3, big) },
			ex: []exchange{
				{op: tzrpc.OpWrite, args: [6]int64{3}, payload: big[:testCap], ret: int64(testCap)},
				{op: tzrpc.OpWrite, args: [6]int64{3}, payload: big[testCap : 2*testCap], errno: tzrpc.EPIPE},
			},
			want:    testCap,
			wantErr: syscall.EPIPE,
		},
		{
			name: "write nonblocking returns the partial count",
			fds:  map[int32]fdInfo{3: nbFile},
			call: func(p *Proc) (any, error) { return p.Write(3, big) },
			ex:   []exchange{{op: tzrpc.OpWrite, args: [6]int64{3}, payload: big[:testCap], ret: 100}},
			want: 100,
		},
		{
			name: "write empty still calls",
			fds:  map[int32]fdInfo{3: file},
			call: func(p *Proc) (any, error) { return p.Write(3, nil) },
			ex:   []exchange{{op: tzrpc.OpWrite, args: [6]int64{3}}},
			want: 0,
		},
		{
			name: "send MSG_DONTWAIT on blocking socket is one call",
			fds:  map[int32]fdInfo{6: stream},
			call: func(p *Proc) (any, error) { return p.Send(6, big, MSG_DONTWAIT) },
			ex: []exchange{{op: tzrpc.OpSend, args: [6]int64{6, MSG_DONTWAIT}, payload: big[:testCap],
				ret: int64(testCap)}},
			want: testCap,
		},
		{
			name: "send blocking",
			fds:  map[int32]fdInfo{6: stream},
			call: func(p *Proc) (any, error) { return p.Send(6, big[:testCap+1], MSG_NOSIGNAL) },
			ex: []exchange{
				{op: tzrpc.OpSend, args: [6]int64{6, MSG_NOSIGNAL}, payload: big[:testCap], ret: int64(testCap)},
				{op: tzrpc.OpSend, args: [6]int64{6, MSG_NOSIGNAL}, payload: big[testCap : testCap+1], ret: 1},
			},
			want: testCap + 1,
		},
		{
			name: "send on datagram socket is never split",
			fds:  map[int32]fdInfo{7: dgram},
			call: func(p *Proc) (any, error) { return p.Send(7, big[:testCap+1], 0) },
			want: 0, wantErr: syscall.EMSGSIZE,
		},
		{
			name: "sendto",
			fds:  map[int32]fdInfo{7: dgram},
			call: func(p *Proc) (any, error) { return p.Sendto(7, []byte("dgram"), 0, peer4) },
			ex: []exchange{{op: tzrpc.OpSendto, args: [6]int64{7, 0, int64(peer4.Len())},
				payload: cat(peer4.Marshal(), []byte("dgram")), ret: 5}},
			want: 5,
		},
		{
			name: "sendto datagram fits mailbox minus address",
			fds:  map[int32]fdInfo{7: dgram},
			call: func(p *Proc) (any, error) { return p.Sendto(7, big[:testCap-peer4.Len()+1], 0, peer4) },
			want: 0, wantErr: syscall.EMSGSIZE,
		},
		{
			name: "sendto no address",
			fds:  map[int32]fdInfo{7: dgram},
			call: func(p *Proc) (any, error) { return p.Sendto(7, []byte("x"), MSG_DONTWAIT, tzrpc.Sockaddr{}) },
			ex:   []exchange{{op: tzrpc.OpSendto, args: [6]int64{7, MSG_DONTWAIT, 0}, payload: []byte("x"), ret: 1}},
			want: 1,
		},
		{
			name: "mkfifo",
			call: func(p *Proc) (any, error) { return nil, p.Mkfifo("/in", 0o666) },
			ex:   []exchange{{op: tzrpc.OpMkfifo, args: [6]int64{0o666}, payload: []byte("/in")}},
		},
		{
			name:    "mkfifo EEXIST",
			call:    func(p *Proc) (any, error) { return nil, p.Mkfifo("/in", 0o666) },
			ex:      []exchange{{op: tzrpc.OpMkfifo, args: [6]int64{0o666}, payload: []byte("/in"), errno: tzrpc.EEXIST}},
			wantErr: syscall.EEXIST,
		},
		{
			name: "mkdir",
			call: func(p *Proc) (any, error) { return nil, p.Mkdir("d", 0o755) },
			ex:   []exchange{{op: tzrpc.OpMkdir, args: [6]int64{0o755}, payload: []byte("d")}},
		},
		{
			name: "unlink",
			call: func(p *Proc) (any, error) { return nil, p.Unlink("/echo.sock") },
			ex:   []exchange{{op: tzrpc.OpUnlink, payload: []byte("/echo.sock")}},
		},
		{
			name: "rmdir",
			call: func(p *Proc) (any, error) { return nil, p.Rmdir("d") },
			ex:   []exchange{{op: tzrpc.OpRmdir, payload: []byte("d")}},
		},
		{
			name: "rename",
			call: func(p *Proc) (any, error) { return nil, p.Rename("a", "bcd") },
			ex:   []exchange{{op: tzrpc.OpRename, args: [6]int64{1}, payload: []byte("abcd")}},
		},
		{
			name:    "rename empty",
			call:    func(p *Proc) (any, error) { return nil, p.Rename("a", "") },
			wantErr: syscall.ENOENT,
		},
		{
			name:    "path longer than PATH_MAX",
			call:    func(p *Proc) (any, error) { return nil, p.Unlink(string(bytes.Repeat([]byte("a"), tzrpc.MaxPath+1))) },
			wantErr: syscall.ENAMETOOLONG,
		},
		{
			name: "socket tcp nonblocking",
			call: func(p *Proc) (any, error) { return p.Socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0) },
			ex: []exchange{{op: tzrpc.OpSocket, args: [6]int64{AF_INET, SOCK_STREAM, SOCK_NONBLOCK | SOCK_CLOEXEC},
				ret: 8}},
			want:    8,
			wantFDs: map[int32]fdInfo{8: nbSock},
		},
		{
			name:    "socket udp",
			call:    func(p *Proc) (any, error) { return p.Socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP) },
			ex:      []exchange{{op: tzrpc.OpSocket, args: [6]int64{AF_INET6, SOCK_DGRAM}, ret: 2}},
			want:    2,
			wantFDs: map[int32]fdInfo{2: dgram},
		},
		{
			name:    "socket wrong protocol",
			call:    func(p *Proc) (any, error) { return p.Socket(AF_UNIX, SOCK_STREAM, IPPROTO_TCP) },
			want:    -1,
			wantErr: syscall.EPROTONOSUPPORT,
		},
		{
			name:    "socket unknown domain",
			call:    func(p *Proc) (any, error) { return p.Socket(99, SOCK_STREAM, 0) },
			want:    -1,
			wantErr: syscall.EAFNOSUPPORT,
		},
		{
			name: "bind unix",
			fds:  map[int32]fdInfo{5: stream},
			call: func(p *Proc) (any, error) { return nil, p.Bind(5, sockPath) },
			ex:   []exchange{{op: tzrpc.OpBind, args: [6]int64{5}, payload: sockPath.Marshal()}},
		},
		{
			name:    "bind no address",
			fds:     map[int32]fdInfo{5: stream},
			call:    func(p *Proc) (any, error) { return nil, p.Bind(5, tzrpc.Sockaddr{}) },
			wantErr: syscall.EINVAL,
		},
		{
			name:    "connect EINPROGRESS",
			fds:     map[int32]fdInfo{5: nbSock},
			call:    func(p *Proc) (any, error) { return nil, p.Connect(5, loopback) },
			ex:      []exchange{{op: tzrpc.OpConnect, args: [6]int64{5}, payload: loopback.Marshal(), errno: tzrpc.EINPROGRESS}},
			wantErr: syscall.EINPROGRESS,
		},
		{
			name: "listen",
			fds:  map[int32]fdInfo{5: stream},
			call: func(p *Proc) (any, error) { return nil, p.Listen(5, 128) },
			ex:   []exchange{{op: tzrpc.OpListen, args: [6]int64{5, 128}}},
		},
		{
			name: "listen clamps backlog",
			fds:  map[int32]fdInfo{5: stream},
			call: func(p *Proc) (any, error) { return nil, p.Listen(5, -1) },
			ex:   []exchange{{op: tzrpc.OpListen, args: [6]int64{5, tzrpc.MaxBacklog}}},
		},
		{
			name: "accept",
			fds:  map[int32]fdInfo{5: nbSock},
			call: func(p *Proc) (any, error) {
				fd, sa, err := p.Accept(5)
				return fdAddr{fd, sa}, err
			},
			ex:      []exchange{{op: tzrpc.OpAccept, args: [6]int64{5}, ret: 6, resp: peer4.Marshal()}},
			want:    fdAddr{6, peer4},
			wantFDs: map[int32]fdInfo{5: nbSock, 6: stream},
		},
		{
			name: "accept4 nonblocking, unnamed unix peer",
			fds:  map[int32]fdInfo{5: stream},
			call: func(p *Proc) (any, error) {
				fd, sa, err := p.Accept4(5, SOCK_NONBLOCK)
				return fdAddr{fd, sa}, err
			},
			ex:      []exchange{{op: tzrpc.OpAccept, args: [6]int64{5, SOCK_NONBLOCK}, ret: 9, resp: unnamed.Marshal()}},
			want:    fdAddr{9, unnamed},
			wantFDs: map[int32]fdInfo{5: stream, 9: nbSock},
		},
		{
			name: "accept EAGAIN",
			fds:  map[int32]fdInfo{5: nbSock},
			call: func(p *Proc) (any, error) {
				fd, sa, err := p.Accept(5)
				return fdAddr{fd, sa}, err
			},
			ex:      []exchange{{op: tzrpc.OpAccept, args: [6]int64{5}, errno: tzrpc.EAGAIN}},
			want:    fdAddr{fd: -1},
			wantErr: syscall.EAGAIN,
		},
		{
			name: "shutdown",
			fds:  map[int32]fdInfo{5: stream},
			call: func(p *Proc) (any, error) { return nil, p.Shutdown(5, SHUT_WR) },
			ex:   []exchange{{op: tzrpc.OpShutdown, args: [6]int64{5, SHUT_WR}}},
		},
		{
			name:    "shutdown bad how",
			fds:     map[int32]fdInfo{5: stream},
			call:    func(p *Proc) (any, error) { return nil, p.Shutdown(5, 7) },
			wantErr: syscall.EINVAL,
		},
		{
			name: "getsockname",
			fds:  map[int32]fdInfo{5: stream},
			call: func(p *Proc) (any, error) { return p.Getsockname(5) },
			ex:   []exchange{{op: tzrpc.OpGetsockname, args: [6]int64{5}, resp: loopback.Marshal()}},
			want: loopback,
		},
		{
			name: "getpeername",
			fds:  map[int32]fdInfo{5: stream},
			call: func(p *Proc) (any, error) { return p.Getpeername(5) },
			ex:   []exchange{{op: tzrpc.OpGetpeername, args: [6]int64{5}, resp: peer6.Marshal()}},
			want: peer6,
		},
		{
			name:    "getpeername ENOTCONN",
			fds:     map[int32]fdInfo{5: stream},
			call:    func(p *Proc) (any, error) { return p.Getpeername(5) },
			ex:      []exchange{{op: tzrpc.OpGetpeername, args: [6]int64{5}, errno: tzrpc.ENOTCONN}},
			want:    tzrpc.Sockaddr{},
			wantErr: syscall.ENOTCONN,
		},
		{
			name: "setsockopt reuseaddr",
			fds:  map[int32]fdInfo{5: stream},
			call: func(p *Proc) (any, error) {
				return nil, p.SetsockoptInt(5, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			},
			ex: []exchange{{op: tzrpc.OpSetsockopt, args: [6]int64{5, tzrpc.SO_REUSEADDR, 1}}},
		},
		{
			name: "setsockopt nodelay",
			fds:  map[int32]fdInfo{5: stream},
			call: func(p *Proc) (any, error) {
				return nil, p.SetsockoptInt(5, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
			},
			ex: []exchange{{op: tzrpc.OpSetsockopt, args: [6]int64{5, tzrpc.TCP_NODELAY, 1}}},
		},
		{
			name: "setsockopt rcvbuf, reuseport",
			fds:  map[int32]fdInfo{5: stream},
			call: func(p *Proc) (any, error) {
				if err := p.SetsockoptInt(5, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20); err != nil {
					return nil, err
				}
				return nil, p.SetsockoptInt(5, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			},
			ex: []exchange{
				{op: tzrpc.OpSetsockopt, args: [6]int64{5, tzrpc.SO_RCVBUF, 1 << 20}},
				{op: tzrpc.OpSetsockopt, args: [6]int64{5, tzrpc.SO_REUSEPORT, 1}},
			},
		},
		{
			name:    "setsockopt unknown option: no round trip",
			fds:     map[int32]fdInfo{5: stream},
			call:    func(p *Proc) (any, error) { return nil, p.SetsockoptInt(5, syscall.SOL_SOCKET, syscall.SO_LINGER, 1) },
			wantErr: syscall.ENOPROTOOPT,
		},
		{
			name:    "setsockopt read-only option",
			fds:     map[int32]fdInfo{5: stream},
			call:    func(p *Proc) (any, error) { return nil, p.SetsockoptInt(5, syscall.SOL_SOCKET, syscall.SO_ERROR, 1) },
			wantErr: syscall.ENOPROTOOPT,
		},
		{
			name:    "setsockopt unknown level",
			fds:     map[int32]fdInfo{5: stream},
			call:    func(p *Proc) (any, error) { return nil, p.SetsockoptInt(5, syscall.IPPROTO_IP, syscall.TCP_NODELAY, 1) },
			wantErr: syscall.ENOPROTOOPT,
		},
		{
			name:    "setsockopt unknown fd first",
			call:    func(p *Proc) (any, error) { return nil, p.SetsockoptInt(5, syscall.SOL_SOCKET, syscall.SO_LINGER, 1) },
			wantErr: syscall.EBADF,
		},
		{
			name: "getsockopt SO_ERROR converts errno",
			fds:  map[int32]fdInfo{5: stream},
			call: func(p *Proc) (any, error) { return p.GetsockoptInt(5, syscall.SOL_SOCKET, syscall.SO_ERROR) },
			ex:   []exchange{{op: tzrpc.OpGetsockopt, args: [6]int64{5, tzrpc.SO_ERROR}, ret: int64(tzrpc.ECONNREFUSED)}},
			want: int(syscall.ECONNREFUSED),
		},
		{
			name: "getsockopt SO_TYPE",
			fds:  map[int32]fdInfo{5: dgram},
			call: func(p *Proc) (any, error) { return p.GetsockoptInt(5, syscall.SOL_SOCKET, syscall.SO_TYPE) },
			ex:   []exchange{{op: tzrpc.OpGetsockopt, args: [6]int64{5, tzrpc.SO_TYPE}, ret: tzrpc.SOCK_DGRAM}},
			want: syscall.SOCK_DGRAM,
		},
		{
			name: "getsockopt sndbuf",
			fds:  map[int32]fdInfo{5: stream},
			call: func(p *Proc) (any, error) { return p.GetsockoptInt(5, syscall.SOL_SOCKET, syscall.SO_SNDBUF) },
			ex:   []exchange{{op: tzrpc.OpGetsockopt, args: [6]int64{5, tzrpc.SO_SNDBUF}, ret: 212992}},
			want: 212992,
		},
		{
			name: "protocol-numbered options pass straight through",
			fds:  map[int32]fdInfo{5: stream},
			call: func(p *Proc) (any, error) {
				if err := p.SetSockopt(5, tzrpc.SO_KEEPALIVE, 1); err != nil {
					return nil, err
				}
				return p.Sockopt(5, tzrpc.SO_ERROR)
			},
			ex: []exchange{
				{op: tzrpc.OpSetsockopt, args: [6]int64{5, tzrpc.SO_KEEPALIVE, 1}},
				{op: tzrpc.OpGetsockopt, args: [6]int64{5, tzrpc.SO_ERROR}, ret: int64(tzrpc.ECONNREFUSED)},
			},
			want: int64(tzrpc.ECONNREFUSED),
		},
		{
			name:    "protocol-numbered unknown option: no round trip",
			fds:     map[int32]fdInfo{5: stream},
			call:    func(p *Proc) (any, error) { return p.Sockopt(5, tzrpc.SO_REUSEPORT+1) },
			want:    int64(0),
			wantErr: syscall.ENOPROTOOPT,
		},
		{
			name:    "set nonblock",
			fds:     map[int32]fdInfo{3: {kind: kindFile, status: O_APPEND}},
			call:    func(p *Proc) (any, error) { return nil, p.SetNonblock(3, true) },
			ex:      []exchange{{op: tzrpc.OpFcntl, args: [6]int64{3, tzrpc.F_SETFL, O_APPEND | O_NONBLOCK}}},
			wantFDs: map[int32]fdInfo{3: {kind: kindFile, status: O_APPEND | O_NONBLOCK}},
		},
		{
			name:    "clear nonblock",
			fds:     map[int32]fdInfo{3: nbSock},
			call:    func(p *Proc) (any, error) { return nil, p.SetNonblock(3, false) },
			ex:      []exchange{{op: tzrpc.OpFcntl, args: [6]int64{3, tzrpc.F_SETFL, 0}}},
			wantFDs: map[int32]fdInfo{3: stream},
		},
		{
			name:    "set nonblock failure keeps mode",
			fds:     map[int32]fdInfo{3: stream},
			call:    func(p *Proc) (any, error) { return nil, p.SetNonblock(3, true) },
			ex:      []exchange{{op: tzrpc.OpFcntl, args: [6]int64{3, tzrpc.F_SETFL, O_NONBLOCK}, errno: tzrpc.EBADF}},
			wantErr: syscall.EBADF,
		},
		{
			name: "poll",
			fds:  map[int32]fdInfo{3: file, 5: stream},
			call: func(p *Proc) (any, error) {
				fds := []PollFd{{Fd: 3, Events: POLLIN}, {Fd: -1, Events: POLLIN}, {Fd: 5, Events: POLLIN | POLLOUT, Revents: 77}}
				n, err := p.Poll(fds, 50)
				return []any{n, fds}, err
			},
			ex: []exchange{{op: tzrpc.OpPoll, args: [6]int64{3, 50, 4036},
				payload: pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN}, tzrpc.PollFd{Fd: -1, Events: POLLIN}, tzrpc.PollFd{Fd: 5, Events: POLLIN | POLLOUT}),
				ret:     2,
				resp:    pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN, Revents: POLLIN | POLLHUP}, tzrpc.PollFd{Fd: -1, Events: POLLIN}, tzrpc.PollFd{Fd: 5, Events: POLLIN | POLLOUT, Revents: POLLOUT})}},
			want: []any{2, []PollFd{{Fd: 3, Events: POLLIN, Revents: POLLIN | POLLHUP}, {Fd: -1, Events: POLLIN}, {Fd: 5, Events: POLLIN | POLLOUT, Revents: POLLOUT}}},
		},
		{
			name: "poll unknown fd: POLLNVAL locally, no wait",
			fds:  map[int32]fdInfo{3: file},
			call: func(p *Proc) (any, error) {
				fds := []PollFd{{Fd: 3, Events: POLLIN}, {Fd: 42, Events: POLLIN}}
				n, err := p.Poll(fds, -1)
				return []any{n, fds}, err
			},
			ex: []exchange{{op: tzrpc.OpPoll, args: [6]int64{2, 0},
				payload: pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN}, tzrpc.PollFd{Fd: -1, Events: POLLIN}),
				resp:    pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN}, tzrpc.PollFd{Fd: -1, Events: POLLIN})}},
			want: []any{1, []PollFd{{Fd: 3, Events: POLLIN}, {Fd: 42, Events: POLLIN, Revents: POLLNVAL}}},
		},
		{
			name: "poll infinite, no fds (a sleep)",
			call: func(p *Proc) (any, error) { return p.Poll(nil, -5) },
			ex:   []exchange{{op: tzrpc.OpPoll, args: [6]int64{0, -1}}},
			want: 0,
		},
		{
			name:    "poll too many",
			call:    func(p *Proc) (any, error) { return p.Poll(make([]PollFd, tzrpc.MaxPollFDs+1), 0) },
			want:    0,
			wantErr: syscall.EINVAL,
		},
		{
			name: "poll EINTR",
			fds:  map[int32]fdInfo{3: file},
			call: func(p *Proc) (any, error) { return p.Poll([]PollFd{{Fd: 3, Events: POLLIN}}, 10) },
			ex: []exchange{{op: tzrpc.OpPoll, args: [6]int64{1, 10, 4076},
				payload: pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN}), errno: tzrpc.EINTR}},
			want:    0,
			wantErr: syscall.EINTR,
		},
		{
			name: "poll reads ahead; reads are served from it",
			fds:  map[int32]fdInfo{3: file, 5: stream, 6: stream},
			call: func(p *Proc) (any, error) {
				fds := []PollFd{{Fd: 3, Events: POLLIN}, {Fd: 5, Events: POLLIN}, {Fd: 6, Events: POLLIN}}
				n, err := p.Poll(fds, -1)
				if err != nil {
					return nil, err
				}
				b := make([]byte, 3)
				r1, e1 := p.Read(3, b)
				s1 := string(b[:r1])
				r2, e2 := p.Recv(5, make([]byte, 10), 0)
				r3, e3 := p.Read(3, make([]byte, 10))
				r4, e4 := p.Read(3, make([]byte, 10)) // drained: a call
				return []any{n, fds, s1, e1, r2, e2, r3, e3, r4, e4}, nil
			},
			ex: []exchange{
				{op: tzrpc.OpPoll, args: [6]int64{3, -1, int64(testCap - 3*8 - 3*12)},
					payload: pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN}, tzrpc.PollFd{Fd: 5, Events: POLLIN}, tzrpc.PollFd{Fd: 6, Events: POLLIN}),
					ret:     3, aux: [4]int64{2},
					resp: cat(pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN, Revents: POLLIN}, tzrpc.PollFd{Fd: 5, Events: POLLIN, Revents: POLLIN},
						tzrpc.PollFd{Fd: 6, Events: POLLIN, Revents: POLLIN}),
						readAheadRecord(0, 0, "hello"), readAheadRecord(1, tzrpc.ECONNRESET, ""))},
				{op: tzrpc.OpRead, args: [6]int64{3, 10}, errno: tzrpc.EAGAIN},
			},
			want: []any{3, []PollFd{{Fd: 3, Events: POLLIN, Revents: POLLIN}, {Fd: 5, Events: POLLIN, Revents: POLLIN}, {Fd: 6, Events: POLLIN, Revents: POLLIN}},
				"hel", nil, 0, syscall.ECONNRESET, 2, nil, 0, syscall.EAGAIN},
		},
		{
			name: "poll with bytes read ahead answers at once and reads no more ahead",
			fds:  map[int32]fdInfo{3: file, 5: stream},
			call: func(p *Proc) (any, error) {
				if _, err := p.Poll([]PollFd{{Fd: 3, Events: POLLIN}}, -1); err != nil {
					return nil, err
				}
				fds := []PollFd{{Fd: 3, Events: POLLIN}, {Fd: 5, Events: POLLIN | POLLOUT}}
				n, err := p.Poll(fds, -1)
				return []any{n, fds}, err
			},
			ex: []exchange{
				{op: tzrpc.OpPoll, args: [6]int64{1, -1, int64(testCap - 8 - 12)}, payload: pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN}),
					ret: 1, aux: [4]int64{1}, resp: cat(pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN, Revents: POLLIN}), readAheadRecord(0, 0, "x"))},
				{op: tzrpc.OpPoll, args: [6]int64{2, 0, 0}, payload: pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN}, tzrpc.PollFd{Fd: 5, Events: POLLIN | POLLOUT}),
					ret: 1, resp: pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN}, tzrpc.PollFd{Fd: 5, Events: POLLIN | POLLOUT, Revents: POLLOUT})},
			},
			want: []any{2, []PollFd{{Fd: 3, Events: POLLIN, Revents: POLLIN}, {Fd: 5, Events: POLLIN | POLLOUT, Revents: POLLOUT}}},
		},
		{
			name: "read-ahead: MSG_PEEK keeps, MSG_WAITALL asks for the rest, recvfrom reports no sender",
			fds:  map[int32]fdInfo{5: stream},
			call: func(p *Proc) (any, error) {
				if _, err := p.Poll([]PollFd{{Fd: 5, Events: POLLIN}}, -1); err != nil {
					return nil, err
				}
				b := make([]byte, 2)
				n1, _ := p.Recv(5, b, MSG_PEEK)
				peek := string(b[:n1])
				n2, from, _ := p.Recvfrom(5, b, 0)
				got := string(b[:n2])
				all := make([]byte, 6)
				n3, e3 := p.Recv(5, all, MSG_WAITALL)
				return []any{peek, got, from.IsValid(), string(all[:n3]), e3}, nil
			},
			ex: []exchange{
				{op: tzrpc.OpPoll, args: [6]int64{1, -1, int64(testCap - 8 - 12)}, payload: pollBytes(tzrpc.PollFd{Fd: 5, Events: POLLIN}),
					ret: 1, aux: [4]int64{1}, resp: cat(pollBytes(tzrpc.PollFd{Fd: 5, Events: POLLIN, Revents: POLLIN}), readAheadRecord(0, 0, "abcd"))},
				{op: tzrpc.OpRecv, args: [6]int64{5, 4, MSG_WAITALL}, ret: 4, resp: []byte("efgh")},
			},
			want: []any{"ab", "ab", false, "cdefgh", nil},
		},
		{
			name: "close forgets what was read ahead",
			fds:  map[int32]fdInfo{3: file},
			call: func(p *Proc) (any, error) {
				if _, err := p.Poll([]PollFd{{Fd: 3, Events: POLLIN}}, -1); err != nil {
					return nil, err
				}
				if err := p.Close(3); err != nil {
					return nil, err
				}
				fd, err := p.Open("/again", O_RDONLY, 0)
				if err != nil {
					return nil, err
				}
				return p.Read(fd, make([]byte, 8))
			},
			ex: []exchange{
				{op: tzrpc.OpPoll, args: [6]int64{1, -1, int64(testCap - 8 - 12)}, payload: pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN}),
					ret: 1, aux: [4]int64{1}, resp: cat(pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN, Revents: POLLIN}), readAheadRecord(0, 0, "stale"))},
				{op: tzrpc.OpClose, args: [6]int64{3}},
				{op: tzrpc.OpOpen, args: [6]int64{O_RDONLY}, payload: []byte("/again"), ret: 3},
				{op: tzrpc.OpRead, args: [6]int64{3, 8}, ret: 5, resp: []byte("fresh")},
			},
			want:    5,
			wantFDs: map[int32]fdInfo{3: file},
		},
		{
			name: "read-ahead datagrams: one per receive, truncated to the buffer, with the sender",
			fds:  map[int32]fdInfo{7: dgram},
			call: func(p *Proc) (any, error) {
				fds := []PollFd{{Fd: 7, Events: POLLIN}, {Fd: 7, Events: POLLIN}}
				if _, err := p.Poll(fds, -1); err != nil {
					return nil, err
				}
				b := make([]byte, 4)
				n1, f1, _ := p.Recvfrom(7, b, MSG_PEEK)
				s1 := string(b[:n1])
				n2, f2, _ := p.Recvfrom(7, b, 0) // truncated: the rest is gone
				s2 := string(b[:n2])
				n3, _ := p.Read(7, b) // the second datagram, sender dropped
				s3 := string(b[:n3])
				return []any{s1, f1 == peer4, s2, f2 == peer4, s3, p.ready(7)}, nil
			},
			ex: []exchange{
				{op: tzrpc.OpPoll, args: [6]int64{2, -1, int64(testCap - 2*8 - 2*12)},
					payload: pollBytes(tzrpc.PollFd{Fd: 7, Events: POLLIN}, tzrpc.PollFd{Fd: 7, Events: POLLIN}),
					ret:     2, aux: [4]int64{2},
					resp: cat(pollBytes(tzrpc.PollFd{Fd: 7, Events: POLLIN, Revents: POLLIN}, tzrpc.PollFd{Fd: 7, Events: POLLIN, Revents: POLLIN}),
						datagramRecord(0, peer4, "first datagram"), datagramRecord(1, peer6, "2nd"))},
			},
			want: []any{"firs", true, "firs", true, "2nd", false},
		},
		{
			name: "a shadow that refuses read-ahead is polled without it from then on",
			fds:  map[int32]fdInfo{3: file},
			call: func(p *Proc) (any, error) {
				for range 2 {
					if _, err := p.Poll([]PollFd{{Fd: 3, Events: POLLIN}}, 0); err != nil {
						return nil, err
					}
				}
				return nil, nil
			},
			ex: []exchange{
				{op: tzrpc.OpPoll, args: [6]int64{1, 0, int64(testCap - 8 - 12)}, payload: pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN}), errno: tzrpc.EINVAL},
				{op: tzrpc.OpPoll, args: [6]int64{1, 0}, payload: pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN}), resp: pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN})},
				{op: tzrpc.OpPoll, args: [6]int64{1, 0}, payload: pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN}), resp: pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN})},
			},
		},
		{
			name: "poll without POLLIN asks no read-ahead",
			fds:  map[int32]fdInfo{5: stream},
			call: func(p *Proc) (any, error) { return p.Poll([]PollFd{{Fd: 5, Events: POLLOUT}}, 0) },
			ex: []exchange{{op: tzrpc.OpPoll, args: [6]int64{1, 0}, payload: pollBytes(tzrpc.PollFd{Fd: 5, Events: POLLOUT}),
				resp: pollBytes(tzrpc.PollFd{Fd: 5, Events: POLLOUT})}},
			want: 0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, wait := runCall(t, tzrpc.MinMailbox, tc.fds, tc.call)
			for i, ex := range tc.ex {
				req := f.next()
				if req.Op != ex.op || req.Args != ex.args || !bytes.Equal(req.Payload, ex.payload) {
					t.Fatalf("request %d: got %v %v payload %q, want %v %v payload %q", i, req.Op, req.Args, short(req.Payload), ex.op, ex.args, short(ex.payload))
				}
				f.reply(req, ex.ret, ex.errno, ex.aux, ex.resp)
			}
			o := wait()
			if !errors.Is(o.err, tc.wantErr) || (tc.wantErr == nil) != (o.err == nil) {
				t.Errorf("error = %v, want %v", o.err, tc.wantErr)
			}
			if o.err != nil {
				if _, ok := o.err.(syscall.Errno); !ok {
					t.Errorf("error %T is not a syscall.Errno", o.err)
				}
			}
			if !reflect.DeepEqual(o.val, tc.want) {
				t.Errorf("result = %#v, want %#v", o.val, tc.want)
			}
			wantFDs := tc.wantFDs
			if wantFDs == nil {
				wantFDs = tc.fds
			}
			if len(o.fds) != len(wantFDs) || (len(wantFDs) > 0 && !reflect.DeepEqual(o.fds, wantFDs)) {
				t.Errorf("descriptors = %v, want %v", o.fds, wantFDs)
			}
			if o.violations != 0 {
				t.Errorf("%d violations counted for an honest shadow", o.violations)
			}
		})
	}
}

func readAheadRecord(index uint32, errno tzrpc.Errno, data string) []byte {
	b := make([]byte, tzrpc.ReadAheadHeaderSize, tzrpc.ReadAheadHeaderSize+len(data))
	tzrpc.PutReadAhead(b, tzrpc.ReadAhead{Index: index, Errno: errno, Len: uint32(len(data))})
	return append(b, data...)
}

func datagramRecord(index uint32, from tzrpc.Sockaddr, data string) []byte {
	addr := from.Marshal()
	b := make([]byte, tzrpc.ReadAheadHeaderSize)
	tzrpc.PutReadAhead(b, tzrpc.ReadAhead{Index: index, AddrLen: uint16(len(addr)), Len: uint32(len(data))})
	return append(append(b, addr...), data...)
}

func pollBytes(es ...tzrpc.PollFd) []byte {
	var b []byte
	for _, e := range es {
		b = tzrpc.AppendPollFd(b, e)
	}
	return b
}

func short(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}
