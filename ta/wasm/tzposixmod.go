package wasm

import (
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// tzposixModule is the import module for what WASI preview 1 cannot do:
// create, bind, connect sockets, datagrams with addresses, socket options
// and FIFOs. Package ta/wasm/guest wraps it for Go guests; docs/wasm.md is
// its reference.
//
// Every function returns a WASI errno. Descriptors are the guest's (the
// same table as WASI's). Numbers are the tzrpc protocol's (docs/protocol.md
// §5): AF_INET 2, SOCK_DGRAM 2, SOCK_NONBLOCK 0x800, MSG_DONTWAIT 0x40,
// SO_REUSEADDR 1, …. Addresses are tzrpc sockaddrs (§4) in guest memory.
const tzposixModule = "tzposix"

func newTzposix(r wazero.Runtime) wazero.HostModuleBuilder {
	b := r.NewHostModuleBuilder(tzposixModule)
	// socket(domain, type|flags, fd_out)
	export(b, "socket", (*instance).tzSocket, i32, i32, i32)
	// bind(fd, addr, addr_len); connect(fd, addr, addr_len)
	export(b, "bind", (*instance).tzBind, i32, i32, i32)
	export(b, "connect", (*instance).tzConnect, i32, i32, i32)
	// listen(fd, backlog)
	export(b, "listen", (*instance).tzListen, i32, i32)
	// sendto(fd, buf, len, flags, addr, addr_len, nsent_out): addr_len 0
	// sends to the connected peer.
	export(b, "sendto", (*instance).tzSendto, i32, i32, i32, i32, i32, i32, i32)
	// recvfrom(fd, buf, len, flags, addr_buf, addr_buf_len, addr_len_out,
	// nrecv_out): addr_buf_len must be at least tzrpc.MaxSockaddrLen (113);
	// addr_len_out is 0 when there is no source (a stream socket).
	export(b, "recvfrom", (*instance).tzRecvfrom, i32, i32, i32, i32, i32, i32, i32, i32)
	// getsockname/getpeername(fd, addr_buf, addr_buf_len, addr_len_out)
	export(b, "getsockname", (*instance).tzGetsockname, i32, i32, i32, i32)
	export(b, "getpeername", (*instance).tzGetpeername, i32, i32, i32, i32)
	// setsockopt(fd, option, value); getsockopt(fd, option, value_out):
	// SO_ERROR reads back a WASI errno.
	export(b, "setsockopt", (*instance).tzSetsockopt, i32, i32, i32)
	export(b, "getsockopt", (*instance).tzGetsockopt, i32, i32, i32)
	// mkfifo(dirfd, path, path_len, mode): path relative to dirfd, as in
	// path_open.
	export(b, "mkfifo", (*instance).tzMkfifo, i32, i32, i32, i32)
	return b
}

// sockEntry returns the socket descriptor fd.
func (st *instance) sockEntry(fd uint32) (*fdEntry, errno) {
	e, er := st.fds.get(fd)
	if er != errnoSuccess {
		return nil, er
	}
	if !e.kind.socket() {
		return nil, errnoNotsock
	}
	return e, errnoSuccess
}

// sockaddr reads and parses a sockaddr of exactly n bytes; n = 0 is no
// address.
func (g mem) sockaddr(ptr, n uint32) (tzrpc.Sockaddr, errno) {
	if n == 0 {
		return tzrpc.Sockaddr{}, errnoSuccess
	}
	if n > tzrpc.MaxSockaddrLen {
		return tzrpc.Sockaddr{}, errnoInval
	}
	b, ok := g.bytes(ptr, n)
	if !ok {
		return tzrpc.Sockaddr{}, errnoFault
	}
	var own [tzrpc.MaxSockaddrLen]byte
	sa, used, err := tzrpc.ParseSockaddr(own[:copy(own[:], b)])
	if err != nil || used != int(n) {
		return tzrpc.Sockaddr{}, errnoInval
	}
	return sa, errnoSuccess
}

func (st *instance) tzSocket(mod api.Module, s []uint64) errno {
	domain, typ, fdPtr := int(int32(s[0])), int(int32(s[1])), uint32(s[2])
	if !memOf(mod).writable(fdPtr, 4) {
		return errnoFault
	}
	kind := kindStream
	switch typ &^ (tzrpc.SOCK_NONBLOCK | tzrpc.SOCK_CLOEXEC) {
	case tzrpc.SOCK_STREAM:
	case tzrpc.SOCK_DGRAM:
		kind = kindDgram
	default:
		return errnoInval
	}
	host, err := st.p.Socket(domain, typ, 0)
	if err != nil {
		return st.result(mod, err)
	}
	e := &fdEntry{kind: kind, host: host}
	if typ&tzrpc.SOCK_NONBLOCK != 0 {
		e.flags = fdflagNonblock
	}
	return st.publish(mod, e, fdPtr)
}

func (st *instance) tzBind(mod api.Module, s []uint64) errno {
	return st.addrCall(mod, s, st.p.Bind)
}

func (st *instance) tzConnect(mod api.Module, s []uint64) errno {
	return st.addrCall(mod, s, st.p.Connect)
}

func (st *instance) addrCall(mod api.Module, s []uint64, call func(int, tzrpc.Sockaddr) error) errno {
	e, er := st.sockEntry(uint32(s[0]))
	if er != errnoSuccess {
		return er
	}
	sa, er := memOf(mod).sockaddr(uint32(s[1]), uint32(s[2]))
	if er != errnoSuccess {
		return er
	}
	if !sa.IsValid() {
		return errnoInval
	}
	return st.result(mod, call(e.host, sa))
}

func (st *instance) tzListen(mod api.Module, s []uint64) errno {
	e, er := st.sockEntry(uint32(s[0]))
	if er != errnoSuccess {
		return er
	}
	return st.result(mod, st.p.Listen(e.host, int(int32(s[1]))))
}

func (st *instance) tzSendto(mod api.Module, s []uint64) errno {
	e, er := st.sockEntry(uint32(s[0]))
	if er != errnoSuccess {
		return er
	}
	m := memOf(mod)
	buf, ok := m.bytes(uint32(s[1]), uint32(s[2]))
	if !ok {
		return errnoFault
	}
	to, er := m.sockaddr(uint32(s[4]), uint32(s[5]))
	if er != errnoSuccess {
		return er
	}
	nPtr := uint32(s[6])
	if !m.writable(nPtr, 4) {
		return errnoFault
	}
	n, err := st.p.Sendto(e.host, buf, int(int32(s[3])), to)
	if err != nil && n == 0 {
		return st.result(mod, err)
	}
	m.put32(nPtr, uint32(n))
	return errnoSuccess
}

func (st *instance) tzRecvfrom(mod api.Module, s []uint64) errno {
	e, er := st.sockEntry(uint32(s[0]))
	if er != errnoSuccess {
		return er
	}
	m := memOf(mod)
	buf, ok := m.bytes(uint32(s[1]), uint32(s[2]))
	if !ok {
		return errnoFault
	}
	abuf, alen, lenPtr, nPtr := uint32(s[4]), uint32(s[5]), uint32(s[6]), uint32(s[7])
	if alen < tzrpc.MaxSockaddrLen {
		return errnoInval
	}
	if !m.writable(abuf, tzrpc.MaxSockaddrLen) || !m.writable(lenPtr, 4) || !m.writable(nPtr, 4) {
		return errnoFault
	}
	n, from, err := st.p.Recvfrom(e.host, buf, int(int32(s[3])))
	if err != nil {
		return st.result(mod, err)
	}
	ab, _ := m.bytes(abuf, tzrpc.MaxSockaddrLen)
	enc := from.AppendTo(ab[:0])
	m.put32(lenPtr, uint32(len(enc)))
	m.put32(nPtr, uint32(n))
	return errnoSuccess
}

func (st *instance) tzGetsockname(mod api.Module, s []uint64) errno {
	return st.nameCall(mod, s, st.p.Getsockname)
}

func (st *instance) tzGetpeername(mod api.Module, s []uint64) errno {
	return st.nameCall(mod, s, st.p.Getpeername)
}

func (st *instance) nameCall(mod api.Module, s []uint64, call func(int) (tzrpc.Sockaddr, error)) errno {
	e, er := st.sockEntry(uint32(s[0]))
	if er != errnoSuccess {
		return er
	}
	m := memOf(mod)
	abuf, alen, lenPtr := uint32(s[1]), uint32(s[2]), uint32(s[3])
	if alen < tzrpc.MaxSockaddrLen {
		return errnoInval
	}
	ab, ok := m.bytes(abuf, tzrpc.MaxSockaddrLen)
	if !ok || !m.writable(lenPtr, 4) {
		return errnoFault
	}
	sa, err := call(e.host)
	if err != nil {
		return st.result(mod, err)
	}
	m.put32(lenPtr, uint32(len(sa.AppendTo(ab[:0]))))
	return errnoSuccess
}

func (st *instance) tzSetsockopt(mod api.Module, s []uint64) errno {
	e, er := st.sockEntry(uint32(s[0]))
	if er != errnoSuccess {
		return er
	}
	opt := int64(int32(s[1]))
	if _, ok := tzrpc.LookupSockopt(opt); !ok {
		return errnoNoprotoopt
	}
	return st.result(mod, st.p.SetSockopt(e.host, opt, int(int32(s[2]))))
}

func (st *instance) tzGetsockopt(mod api.Module, s []uint64) errno {
	e, er := st.sockEntry(uint32(s[0]))
	if er != errnoSuccess {
		return er
	}
	opt, vPtr := int64(int32(s[1])), uint32(s[2])
	o, ok := tzrpc.LookupSockopt(opt)
	if !ok {
		return errnoNoprotoopt
	}
	m := memOf(mod)
	if !m.writable(vPtr, 4) {
		return errnoFault
	}
	v, err := st.p.Sockopt(e.host, opt)
	if err != nil {
		return st.result(mod, err)
	}
	switch o.Kind {
	case tzrpc.SockoptErrno:
		if v != 0 {
			v = int64(hostErrno(tzrpc.Errno(v).Syscall()))
		}
	case tzrpc.SockoptType:
		v = tzrpc.SOCK_STREAM
		if e.kind == kindDgram {
			v = tzrpc.SOCK_DGRAM
		}
	}
	m.put32(vPtr, uint32(v))
	return errnoSuccess
}

func (st *instance) tzMkfifo(mod api.Module, s []uint64) errno {
	p, er := st.path(mod, uint32(s[0]), uint32(s[1]), uint32(s[2]))
	if er != errnoSuccess {
		return er
	}
	return st.result(mod, st.p.Mkfifo(p, uint32(s[3])&0o7777))
}
