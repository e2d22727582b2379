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
	export(b, "socket", (*instance).tzSocket, i32("domain"), i32("type"), i32("result.fd"))
	export(b, "bind", (*instance).tzBind, i32("fd"), i32("addr"), i32("addr_len"))
	export(b, "connect", (*instance).tzConnect, i32("fd"), i32("addr"), i32("addr_len"))
	export(b, "listen", (*instance).tzListen, i32("fd"), i32("backlog"))
	export(b, "sendto", (*instance).tzSendto, i32("fd"), i32("buf"), i32("buf_len"), i32("flags"), i32("addr"), i32("addr_len"), i32("result.nsent"))
	export(b, "recvfrom", (*instance).tzRecvfrom, i32("fd"), i32("buf"), i32("buf_len"), i32("flags"),
		i32("addr_buf"), i32("addr_buf_len"), i32("result.addr_len"), i32("result.nrecv"))
	export(b, "getsockname", (*instance).tzGetsockname, i32("fd"), i32("addr_buf"), i32("addr_buf_len"), i32("result.addr_len"))
	export(b, "getpeername", (*instance).tzGetpeername, i32("fd"), i32("addr_buf"), i32("addr_buf_len"), i32("result.addr_len"))
	export(b, "setsockopt", (*instance).tzSetsockopt, i32("fd"), i32("option"), i32("value"))
	export(b, "getsockopt", (*instance).tzGetsockopt, i32("fd"), i32("option"), i32("result.value"))
	export(b, "mkfifo", (*instance).tzMkfifo, i32("fd"), i32("path"), i32("path_len"), i32("mode"))
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

// tzSocket is socket(domain, type, result.fd): SOCKET; type is
// SOCK_STREAM or SOCK_DGRAM with SOCK_NONBLOCK and SOCK_CLOEXEC allowed.
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

// tzBind is bind(fd, addr, addr_len): BIND to the tzrpc sockaddr of
// exactly addr_len bytes at addr.
func (st *instance) tzBind(mod api.Module, s []uint64) errno {
	return st.addrCall(mod, s, st.p.Bind)
}

// tzConnect is connect(fd, addr, addr_len): CONNECT, as bind names the
// address.
func (st *instance) tzConnect(mod api.Module, s []uint64) errno {
	return st.addrCall(mod, s, st.p.Connect)
}

// addrCall is the body of bind and connect.
func (st *instance) addrCall(mod api.Module, s []uint64, call func(int, tzrpc.Sockaddr) error) errno {
	fd, addr, addrLen := uint32(s[0]), uint32(s[1]), uint32(s[2])
	e, er := st.sockEntry(fd)
	if er != errnoSuccess {
		return er
	}
	sa, er := memOf(mod).sockaddr(addr, addrLen)
	if er != errnoSuccess {
		return er
	}
	if !sa.IsValid() {
		return errnoInval
	}
	return st.result(mod, call(e.host, sa))
}

// tzListen is listen(fd, backlog): LISTEN.
func (st *instance) tzListen(mod api.Module, s []uint64) errno {
	fd, backlog := uint32(s[0]), int(int32(s[1]))
	e, er := st.sockEntry(fd)
	if er != errnoSuccess {
		return er
	}
	return st.result(mod, st.p.Listen(e.host, backlog))
}

// tzSendto is sendto(fd, buf, buf_len, flags, addr, addr_len,
// result.nsent): SENDTO, or SEND to the connected peer when addr_len is 0.
// Bytes sent before an error are reported, not the error.
func (st *instance) tzSendto(mod api.Module, s []uint64) errno {
	fd, bufPtr, bufLen, flags := uint32(s[0]), uint32(s[1]), uint32(s[2]), int(int32(s[3]))
	addr, addrLen, nPtr := uint32(s[4]), uint32(s[5]), uint32(s[6])
	e, er := st.sockEntry(fd)
	if er != errnoSuccess {
		return er
	}
	m := memOf(mod)
	buf, ok := m.bytes(bufPtr, bufLen)
	if !ok {
		return errnoFault
	}
	to, er := m.sockaddr(addr, addrLen)
	if er != errnoSuccess {
		return er
	}
	if !m.writable(nPtr, 4) {
		return errnoFault
	}
	n, err := st.p.Sendto(e.host, buf, flags, to)
	if err != nil && n == 0 {
		return st.result(mod, err)
	}
	m.put32(nPtr, uint32(n))
	return errnoSuccess
}

// tzRecvfrom is recvfrom(fd, buf, buf_len, flags, addr_buf, addr_buf_len,
// result.addr_len, result.nrecv): RECVFROM. addr_buf_len must be at least
// tzrpc.MaxSockaddrLen (113); result.addr_len is 0 when there is no source
// (a stream socket).
func (st *instance) tzRecvfrom(mod api.Module, s []uint64) errno {
	fd, bufPtr, bufLen, flags := uint32(s[0]), uint32(s[1]), uint32(s[2]), int(int32(s[3]))
	abuf, alen, lenPtr, nPtr := uint32(s[4]), uint32(s[5]), uint32(s[6]), uint32(s[7])
	e, er := st.sockEntry(fd)
	if er != errnoSuccess {
		return er
	}
	m := memOf(mod)
	buf, ok := m.bytes(bufPtr, bufLen)
	if !ok {
		return errnoFault
	}
	if alen < tzrpc.MaxSockaddrLen {
		return errnoInval
	}
	if !m.writable(abuf, tzrpc.MaxSockaddrLen) || !m.writable(lenPtr, 4) || !m.writable(nPtr, 4) {
		return errnoFault
	}
	n, from, err := st.p.Recvfrom(e.host, buf, flags)
	if err != nil {
		return st.result(mod, err)
	}
	ab, _ := m.bytes(abuf, tzrpc.MaxSockaddrLen)
	enc := from.AppendTo(ab[:0])
	m.put32(lenPtr, uint32(len(enc)))
	m.put32(nPtr, uint32(n))
	return errnoSuccess
}

// tzGetsockname is getsockname(fd, addr_buf, addr_buf_len,
// result.addr_len): GETSOCKNAME, the address as a tzrpc sockaddr.
func (st *instance) tzGetsockname(mod api.Module, s []uint64) errno {
	return st.nameCall(mod, s, st.p.Getsockname)
}

// tzGetpeername is getpeername(fd, addr_buf, addr_buf_len,
// result.addr_len): GETPEERNAME, as getsockname.
func (st *instance) tzGetpeername(mod api.Module, s []uint64) errno {
	return st.nameCall(mod, s, st.p.Getpeername)
}

// nameCall is the body of getsockname and getpeername; addr_buf_len must
// be at least tzrpc.MaxSockaddrLen.
func (st *instance) nameCall(mod api.Module, s []uint64, call func(int) (tzrpc.Sockaddr, error)) errno {
	fd, abuf, alen, lenPtr := uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3])
	e, er := st.sockEntry(fd)
	if er != errnoSuccess {
		return er
	}
	m := memOf(mod)
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

// tzSetsockopt is setsockopt(fd, option, value): SETSOCKOPT, option a
// protocol number (tzrpc.LookupSockopt) passed straight through.
func (st *instance) tzSetsockopt(mod api.Module, s []uint64) errno {
	fd, opt, value := uint32(s[0]), int64(int32(s[1])), int(int32(s[2]))
	e, er := st.sockEntry(fd)
	if er != errnoSuccess {
		return er
	}
	if _, ok := tzrpc.LookupSockopt(opt); !ok {
		return errnoNoprotoopt
	}
	return st.result(mod, st.p.SetSockopt(e.host, opt, value))
}

// tzGetsockopt is getsockopt(fd, option, result.value): GETSOCKOPT as
// setsockopt names the option. SO_ERROR reads back a WASI errno, SO_TYPE
// the protocol's SOCK_STREAM or SOCK_DGRAM.
func (st *instance) tzGetsockopt(mod api.Module, s []uint64) errno {
	fd, opt, vPtr := uint32(s[0]), int64(int32(s[1])), uint32(s[2])
	e, er := st.sockEntry(fd)
	if er != errnoSuccess {
		return er
	}
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

// tzMkfifo is mkfifo(fd, path, path_len, mode): MKFIFO of path relative
// to directory fd, as in path_open; mode keeps its permission bits.
func (st *instance) tzMkfifo(mod api.Module, s []uint64) errno {
	fd, path, pathLen, mode := uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3])
	p, er := st.path(mod, fd, path, pathLen)
	if er != errnoSuccess {
		return er
	}
	return st.result(mod, st.p.Mkfifo(p, mode&0o7777))
}
