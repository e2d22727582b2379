package wasm

import (
	"context"
	"crypto/rand"
	"errors"
	"math"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/tzmediator/tzbridge/ta/tzposix"
	"github.com/tzmediator/tzbridge/tzrpc"
)

// wasiModule is the import module name of WASI preview 1.
const wasiModule = "wasi_snapshot_preview1"

// listenBacklog is the backlog of preopened and guest-made listeners; the
// kernel clamps it to somaxconn.
const listenBacklog = 1024

// maxGather bounds the scratch buffer that gathers or scatters a
// multi-buffer read or write (single-buffer calls, which is what Go's
// runtime makes, go straight to guest memory).
const maxGather = 256 << 10

// WASI rights. The host does not enforce rights (the shadow confines what
// the TA may reach); fd_fdstat_get reports all of them.
const (
	rightFdRead  = 1 << 1
	rightFdWrite = 1 << 6
	allRights    = 1<<30 - 1
)

// path_open oflags, lookup flags, and socket flags.
const (
	oflagCreat     = 0x1
	oflagDirectory = 0x2
	oflagExcl      = 0x4
	oflagTrunc     = 0x8

	riflagPeek    = 0x1
	riflagWaitall = 0x2

	sdflagRD = 0x1
	sdflagWR = 0x2
)

// Clocks.
const (
	clockRealtime  = 0
	clockMonotonic = 1
)

// hostFunc is a host function's body: it reads its parameters from s, in
// the order export names them, and returns the WASI errno that becomes its
// result.
type hostFunc func(st *instance, mod api.Module, s []uint64) errno

// param is one parameter of a host function: its name (the WASI
// specification's; "result." marks a pointer the function writes its
// result to), which wazero shows in stack traces and logs, and its type.
type param struct {
	name string
	typ  api.ValueType
}

func i32(name string) param { return param{name, api.ValueTypeI32} }
func i64(name string) param { return param{name, api.ValueTypeI64} }

// export adds fn to b with its parameters and the errno result. Host
// functions find the instance they serve in the call's context; a call
// without one (the module was instantiated by someone else) fails with
// ENOSYS.
func export(b wazero.HostModuleBuilder, name string, fn hostFunc, params ...param) {
	types := make([]api.ValueType, len(params))
	names := make([]string, len(params))
	for i, p := range params {
		types[i], names[i] = p.typ, p.name
	}
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, s []uint64) {
		st := instanceFrom(ctx)
		if st == nil {
			s[0] = uint64(errnoNosys)
			return
		}
		s[0] = uint64(fn(st, mod, s))
	}), types, []api.ValueType{api.ValueTypeI32}).
		WithParameterNames(names...).
		WithResultNames("errno").
		Export(name)
}

// enosys is the body of functions WASI defines but the bridge cannot
// carry (the protocol has no seek, readdir, link or timestamps).
func enosys(*instance, api.Module, []uint64) errno { return errnoNosys }

// fdThen is the body of functions whose first parameter is fd and that
// have nothing to do on a stream (fd_seek, fd_sync, …): it checks that fd
// is open and returns e.
func fdThen(e errno) hostFunc {
	return func(st *instance, _ api.Module, s []uint64) errno {
		fd := uint32(s[0])
		if _, er := st.fds.get(fd); er != errnoSuccess {
			return er
		}
		return e
	}
}

// newWASI builds the wasi_snapshot_preview1 host module: every function of
// WASI preview 1, so that any toolchain's imports link; those the bridge
// cannot carry return ENOSYS (or ESPIPE: every descriptor is a stream).
func newWASI(r wazero.Runtime) wazero.HostModuleBuilder {
	b := r.NewHostModuleBuilder(wasiModule)
	export(b, "args_get", (*instance).argsGet, i32("argv"), i32("argv_buf"))
	export(b, "args_sizes_get", (*instance).argsSizesGet, i32("result.argc"), i32("result.argv_len"))
	export(b, "environ_get", (*instance).environGet, i32("environ"), i32("environ_buf"))
	export(b, "environ_sizes_get", (*instance).environSizesGet, i32("result.environc"), i32("result.environv_len"))
	export(b, "clock_res_get", (*instance).clockResGet, i32("id"), i32("result.resolution"))
	export(b, "clock_time_get", (*instance).clockTimeGet, i32("id"), i64("precision"), i32("result.timestamp"))
	export(b, "fd_advise", fdThen(errnoNosys), i32("fd"), i64("offset"), i64("len"), i32("advice"))
	export(b, "fd_allocate", fdThen(errnoNosys), i32("fd"), i64("offset"), i64("len"))
	export(b, "fd_close", (*instance).fdClose, i32("fd"))
	export(b, "fd_datasync", fdThen(errnoNosys), i32("fd"))
	export(b, "fd_fdstat_get", (*instance).fdFdstatGet, i32("fd"), i32("result.stat"))
	export(b, "fd_fdstat_set_flags", (*instance).fdFdstatSetFlags, i32("fd"), i32("flags"))
	// Rights are not enforced, so narrowing them is a no-op that succeeds.
	export(b, "fd_fdstat_set_rights", fdThen(errnoSuccess), i32("fd"), i64("fs_rights_base"), i64("fs_rights_inheriting"))
	export(b, "fd_filestat_get", (*instance).fdFilestatGet, i32("fd"), i32("result.filestat"))
	export(b, "fd_filestat_set_size", fdThen(errnoNosys), i32("fd"), i64("size"))
	export(b, "fd_filestat_set_times", fdThen(errnoNosys), i32("fd"), i64("atim"), i64("mtim"), i32("fst_flags"))
	export(b, "fd_pread", fdThen(errnoSpipe), i32("fd"), i32("iovs"), i32("iovs_len"), i64("offset"), i32("result.nread"))
	export(b, "fd_prestat_get", (*instance).fdPrestatGet, i32("fd"), i32("result.prestat"))
	export(b, "fd_prestat_dir_name", (*instance).fdPrestatDirName, i32("fd"), i32("path"), i32("path_len"))
	export(b, "fd_pwrite", fdThen(errnoSpipe), i32("fd"), i32("iovs"), i32("iovs_len"), i64("offset"), i32("result.nwritten"))
	export(b, "fd_read", (*instance).fdRead, i32("fd"), i32("iovs"), i32("iovs_len"), i32("result.nread"))
	export(b, "fd_readdir", (*instance).fdReaddir, i32("fd"), i32("buf"), i32("buf_len"), i64("cookie"), i32("result.bufused"))
	export(b, "fd_renumber", (*instance).fdRenumber, i32("fd"), i32("to"))
	export(b, "fd_seek", fdThen(errnoSpipe), i32("fd"), i64("offset"), i32("whence"), i32("result.newoffset"))
	export(b, "fd_sync", fdThen(errnoNosys), i32("fd"))
	export(b, "fd_tell", fdThen(errnoSpipe), i32("fd"), i32("result.offset"))
	export(b, "fd_write", (*instance).fdWrite, i32("fd"), i32("iovs"), i32("iovs_len"), i32("result.nwritten"))
	export(b, "path_create_directory", (*instance).pathCreateDirectory, i32("fd"), i32("path"), i32("path_len"))
	export(b, "path_filestat_get", (*instance).pathFilestatGet, i32("fd"), i32("flags"), i32("path"), i32("path_len"), i32("result.filestat"))
	export(b, "path_filestat_set_times", enosys, i32("fd"), i32("flags"), i32("path"), i32("path_len"), i64("atim"), i64("mtim"), i32("fst_flags"))
	export(b, "path_link", enosys, i32("old_fd"), i32("old_flags"), i32("old_path"), i32("old_path_len"), i32("new_fd"), i32("new_path"), i32("new_path_len"))
	export(b, "path_open", (*instance).pathOpen, i32("fd"), i32("dirflags"), i32("path"), i32("path_len"), i32("oflags"),
		i64("fs_rights_base"), i64("fs_rights_inheriting"), i32("fdflags"), i32("result.opened_fd"))
	export(b, "path_readlink", enosys, i32("fd"), i32("path"), i32("path_len"), i32("buf"), i32("buf_len"), i32("result.bufused"))
	export(b, "path_remove_directory", (*instance).pathRemoveDirectory, i32("fd"), i32("path"), i32("path_len"))
	export(b, "path_rename", (*instance).pathRename, i32("fd"), i32("old_path"), i32("old_path_len"), i32("new_fd"), i32("new_path"), i32("new_path_len"))
	export(b, "path_symlink", enosys, i32("old_path"), i32("old_path_len"), i32("fd"), i32("new_path"), i32("new_path_len"))
	export(b, "path_unlink_file", (*instance).pathUnlinkFile, i32("fd"), i32("path"), i32("path_len"))
	export(b, "poll_oneoff", (*instance).pollOneoff, i32("in"), i32("out"), i32("nsubscriptions"), i32("result.nevents"))
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(procExit), []api.ValueType{api.ValueTypeI32}, nil).
		WithParameterNames("rval").
		Export("proc_exit")
	export(b, "proc_raise", enosys, i32("sig"))
	export(b, "sched_yield", (*instance).schedYield)
	export(b, "random_get", (*instance).randomGet, i32("buf"), i32("buf_len"))
	export(b, "sock_accept", (*instance).sockAccept, i32("fd"), i32("flags"), i32("result.fd"))
	export(b, "sock_recv", (*instance).sockRecv, i32("fd"), i32("ri_data"), i32("ri_data_len"), i32("ri_flags"), i32("result.ro_datalen"), i32("result.ro_flags"))
	export(b, "sock_send", (*instance).sockSend, i32("fd"), i32("si_data"), i32("si_data_len"), i32("si_flags"), i32("result.so_datalen"))
	export(b, "sock_shutdown", (*instance).sockShutdown, i32("fd"), i32("how"))
	return b
}

// procExit is proc_exit(rval): it ends the instance with the guest's
// status rval, which becomes the TA's exit status. Nothing of the guest
// runs after it, and it returns nothing.
func procExit(ctx context.Context, mod api.Module, s []uint64) {
	code := uint32(s[0]) // rval
	if st := instanceFrom(ctx); st != nil {
		st.exited, st.status = true, code
	}
	_ = mod.CloseWithExitCode(ctx, code)
	panic(sys.NewExitError(code))
}

// Arguments and environment: argv is the TA's name alone; there is no
// environment (the working directory is then the root, "/").

// argsSizesGet is args_sizes_get(result.argc, result.argv_len): one
// argument, the TA's name with its NUL.
func (st *instance) argsSizesGet(mod api.Module, s []uint64) errno {
	argcPtr, argvLenPtr := uint32(s[0]), uint32(s[1])
	m := memOf(mod)
	if !m.put32(argcPtr, 1) || !m.put32(argvLenPtr, uint32(len(st.name)+1)) {
		return errnoFault
	}
	return errnoSuccess
}

// argsGet is args_get(argv, argv_buf): it writes the TA's name, NUL
// terminated, at argv_buf and its address at argv[0].
func (st *instance) argsGet(mod api.Module, s []uint64) errno {
	m := memOf(mod)
	argv, buf := uint32(s[0]), uint32(s[1])
	b, ok := m.bytes(buf, uint32(len(st.name)+1))
	if !ok || !m.writable(argv, 4) {
		return errnoFault
	}
	b[copy(b, st.name)] = 0
	m.put32(argv, buf)
	return errnoSuccess
}

// environSizesGet is environ_sizes_get(result.environc,
// result.environv_len): both 0.
func (st *instance) environSizesGet(mod api.Module, s []uint64) errno {
	environcPtr, environLenPtr := uint32(s[0]), uint32(s[1])
	m := memOf(mod)
	if !m.put32(environcPtr, 0) || !m.put32(environLenPtr, 0) {
		return errnoFault
	}
	return errnoSuccess
}

// environGet is environ_get(environ, environ_buf): with no variables
// there is nothing to write.
func (st *instance) environGet(api.Module, []uint64) errno { return errnoSuccess }

// Clocks and randomness are the secure world's own: they never reach the
// normal world.

// clockResGet is clock_res_get(id, result.resolution): 1 ns for the
// realtime and monotonic clocks, EINVAL for the others.
func (st *instance) clockResGet(mod api.Module, s []uint64) errno {
	id, resPtr := uint32(s[0]), uint32(s[1])
	switch id {
	case clockRealtime, clockMonotonic:
	default:
		return errnoInval
	}
	if !memOf(mod).put64(resPtr, 1) {
		return errnoFault
	}
	return errnoSuccess
}

// clockTimeGet is clock_time_get(id, precision, result.timestamp): the
// realtime clock, or the monotonic one counted from the instance's start;
// precision is ignored.
func (st *instance) clockTimeGet(mod api.Module, s []uint64) errno {
	id, tsPtr := uint32(s[0]), uint32(s[2])
	var t uint64
	switch id {
	case clockRealtime:
		t = uint64(time.Now().UnixNano())
	case clockMonotonic:
		t = uint64(time.Since(st.monoBase))
	default:
		return errnoInval
	}
	if !memOf(mod).put64(tsPtr, t) {
		return errnoFault
	}
	return errnoSuccess
}

// randomGet is random_get(buf, buf_len): buf_len bytes of crypto/rand.
func (st *instance) randomGet(mod api.Module, s []uint64) errno {
	buf, bufLen := uint32(s[0]), uint32(s[1])
	b, ok := memOf(mod).bytes(buf, bufLen)
	if !ok {
		return errnoFault
	}
	if _, err := rand.Read(b); err != nil {
		return errnoIo
	}
	return errnoSuccess
}

// schedYield is sched_yield(): it lets the secure world's other
// goroutines run.
func (st *instance) schedYield(api.Module, []uint64) errno {
	runtime.Gosched()
	return errnoSuccess
}

// Descriptors.

// fdClose is fd_close(fd): it frees fd's number and closes the TA's
// descriptor behind it, if any.
func (st *instance) fdClose(mod api.Module, s []uint64) errno {
	fd := uint32(s[0])
	e, er := st.fds.get(fd)
	if er != errnoSuccess {
		return er
	}
	st.fds.remove(fd)
	if e.host < 0 {
		return errnoSuccess
	}
	// Like close(2) on Linux, the descriptor is gone even if this fails.
	return st.result(mod, st.p.Close(e.host))
}

// fdFdstatGet is fd_fdstat_get(fd, result.stat): fd's type and flags, and
// all rights (they are not enforced).
func (st *instance) fdFdstatGet(mod api.Module, s []uint64) errno {
	fd, statPtr := uint32(s[0]), uint32(s[1])
	e, er := st.fds.get(fd)
	if er != errnoSuccess {
		return er
	}
	b, ok := memOf(mod).bytes(statPtr, 24)
	if !ok {
		return errnoFault
	}
	clear(b)
	b[0] = e.kind.filetype()
	put16(b[2:], e.flags)
	put64(b[8:], allRights)
	put64(b[16:], allRights)
	return errnoSuccess
}

// fdFdstatSetFlags is fd_fdstat_set_flags(fd, flags): only nonblocking
// mode can change (the sync flags are ENOTSUP).
func (st *instance) fdFdstatSetFlags(mod api.Module, s []uint64) errno {
	fd, flags32 := uint32(s[0]), uint32(s[1])
	e, er := st.fds.get(fd)
	if er != errnoSuccess {
		return er
	}
	flags := uint16(flags32)
	switch {
	case flags32&^(fdflagAppend|fdflagDsync|fdflagNonblock|fdflagRsync|fdflagSync) != 0:
		return errnoInval
	case flags&(fdflagDsync|fdflagRsync|fdflagSync) != 0:
		return errnoNotsup
	case e.host < 0:
		// stdio and the root: nothing blocks, nothing to change.
		e.flags = flags
		return errnoSuccess
	case (flags^e.flags)&fdflagAppend != 0:
		// The protocol can change O_APPEND, but only nonblocking mode is
		// worth a call to the shadow; say so rather than pretend.
		return errnoNotsup
	}
	if (flags^e.flags)&fdflagNonblock != 0 {
		if err := st.p.SetNonblock(e.host, flags&fdflagNonblock != 0); err != nil {
			return st.result(mod, err)
		}
	}
	e.flags = flags
	return errnoSuccess
}

// filestat writes a WASI filestat of the given type. The protocol has no
// stat: size, times and inode numbers are unknown and reported as 0.
func filestat(b []byte, filetype uint8) {
	clear(b)
	b[16] = filetype
	put64(b[24:], 1) // nlink
}

// fdFilestatGet is fd_filestat_get(fd, result.filestat): fd's type, the
// rest unknown (filestat).
func (st *instance) fdFilestatGet(mod api.Module, s []uint64) errno {
	fd, statPtr := uint32(s[0]), uint32(s[1])
	e, er := st.fds.get(fd)
	if er != errnoSuccess {
		return er
	}
	b, ok := memOf(mod).bytes(statPtr, 64)
	if !ok {
		return errnoFault
	}
	filestat(b, e.kind.filetype())
	return errnoSuccess
}

// fdPrestatGet is fd_prestat_get(fd, result.prestat): it describes the
// preopened root. Preopened sockets are not directories and get EBADF,
// like any descriptor that is no preopened directory: Go's runtime skips
// them and net.FileListener takes them.
func (st *instance) fdPrestatGet(mod api.Module, s []uint64) errno {
	fd, prestatPtr := uint32(s[0]), uint32(s[1])
	e, er := st.fds.get(fd)
	if er != errnoSuccess || !e.preopen {
		return errnoBadf
	}
	b, ok := memOf(mod).bytes(prestatPtr, 8)
	if !ok {
		return errnoFault
	}
	clear(b)
	put32(b[4:], uint32(len(e.path)))
	return errnoSuccess
}

// fdPrestatDirName is fd_prestat_dir_name(fd, path, path_len): the
// preopened directory's name, without NUL, in path_len bytes at path.
func (st *instance) fdPrestatDirName(mod api.Module, s []uint64) errno {
	fd, path, pathLen := uint32(s[0]), uint32(s[1]), uint32(s[2])
	e, er := st.fds.get(fd)
	if er != errnoSuccess || !e.preopen {
		return errnoBadf
	}
	if pathLen < uint32(len(e.path)) {
		return errnoNametoolong
	}
	b, ok := memOf(mod).bytes(path, uint32(len(e.path)))
	if !ok {
		return errnoFault
	}
	copy(b, e.path)
	return errnoSuccess
}

// fdReaddir is fd_readdir(fd, buf, buf_len, cookie, result.bufused):
// ENOSYS on a directory, since the protocol cannot list one.
func (st *instance) fdReaddir(_ api.Module, s []uint64) errno {
	fd := uint32(s[0])
	e, er := st.fds.get(fd)
	if er != errnoSuccess {
		return er
	}
	if e.kind != kindDir {
		return errnoNotdir
	}
	return errnoNosys // the protocol cannot list a directory
}

// fdRenumber is fd_renumber(fd, to): it moves descriptor fd onto to,
// closing what to was.
func (st *instance) fdRenumber(mod api.Module, s []uint64) errno {
	from, to := uint32(s[0]), uint32(s[1])
	e, er := st.fds.get(from)
	if er != errnoSuccess {
		return er
	}
	old, er := st.fds.get(to)
	if er != errnoSuccess {
		return er
	}
	if from == to {
		return errnoSuccess
	}
	st.fds.set(to, e)
	st.fds.remove(from)
	if old.host >= 0 {
		return st.result(mod, st.p.Close(old.host))
	}
	return errnoSuccess
}

// fdRead is fd_read(fd, iovs, iovs_len, result.nread) (readv).
func (st *instance) fdRead(mod api.Module, s []uint64) errno {
	fd, iovs, iovsLen, nreadPtr := uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3])
	return st.readv(mod, fd, iovs, iovsLen, 0, false, nreadPtr, 0, false)
}

// fdWrite is fd_write(fd, iovs, iovs_len, result.nwritten) (writev).
func (st *instance) fdWrite(mod api.Module, s []uint64) errno {
	fd, iovs, iovsLen, nwrittenPtr := uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3])
	return st.writev(mod, fd, iovs, iovsLen, false, nwrittenPtr)
}

// readv is fd_read and sock_recv: it reads into the iovecs at iovs and
// stores the count at nPtr (and, for sock_recv, zero flags at flagsPtr).
// Result pointers are checked before the call, so that bytes read are
// never lost to a bad pointer.
func (st *instance) readv(mod api.Module, fd, iovs, niovs uint32, msgFlags int, recv bool, nPtr, flagsPtr uint32, wantFlags bool) errno {
	e, er := st.fds.get(fd)
	if er != errnoSuccess {
		return er
	}
	m := memOf(mod)
	bufs, er := m.iovecs(iovs, niovs, nil)
	if er != errnoSuccess {
		return er
	}
	if !m.writable(nPtr, 4) || wantFlags && !m.writable(flagsPtr, 2) {
		return errnoFault
	}
	var n int
	var err error
	switch {
	case recv && !e.kind.socket():
		return errnoNotsock
	case e.kind == kindStdin:
		n = 0 // end of file
	case e.kind == kindStdout || e.kind == kindStderr:
		return errnoBadf
	case e.kind == kindDir:
		return errnoIsdir
	case len(bufs) == 0:
		n = 0
	case len(bufs) == 1:
		n, err = st.read1(fd, e, bufs[0], msgFlags, recv)
	default:
		total := 0
		for _, b := range bufs {
			total += len(b)
		}
		scratch := st.scratch(min(total, maxGather))
		n, err = st.read1(fd, e, scratch, msgFlags, recv)
		rest := scratch[:n]
		for _, b := range bufs {
			rest = rest[copy(b, rest):]
		}
	}
	if err != nil {
		return st.result(mod, err)
	}
	m.put32(nPtr, uint32(n))
	if wantFlags {
		m.m.WriteUint16Le(flagsPtr, 0)
	}
	return errnoSuccess
}

func (st *instance) read1(fd uint32, e *fdEntry, b []byte, flags int, recv bool) (int, error) {
	if e.flags&fdflagNonblock == 0 {
		call := "fd_read"
		if recv {
			call = "sock_recv"
		}
		st.watch.enter(call, int(fd), e.name)
		defer st.watch.exit()
	}
	if recv {
		return st.p.Recv(e.host, b, flags)
	}
	return st.p.Read(e.host, b)
}

func (st *instance) write1(fd uint32, e *fdEntry, b []byte, send bool) (int, error) {
	if e.flags&fdflagNonblock == 0 {
		call := "fd_write"
		if send {
			call = "sock_send"
		}
		st.watch.enter(call, int(fd), e.name)
		defer st.watch.exit()
	}
	if send {
		return st.p.Send(e.host, b, tzposix.MSG_NOSIGNAL)
	}
	return st.p.Write(e.host, b)
}

// writev is fd_write and sock_send.
func (st *instance) writev(mod api.Module, fd, iovs, niovs uint32, send bool, nPtr uint32) errno {
	e, er := st.fds.get(fd)
	if er != errnoSuccess {
		return er
	}
	m := memOf(mod)
	bufs, er := m.iovecs(iovs, niovs, nil)
	if er != errnoSuccess {
		return er
	}
	if !m.writable(nPtr, 4) {
		return errnoFault
	}
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	n := 0
	var err error
	switch {
	case send && !e.kind.socket():
		return errnoNotsock
	case e.kind == kindStdout || e.kind == kindStderr:
		stream := streamStdout
		if e.kind == kindStderr {
			stream = streamStderr
		}
		for _, b := range bufs {
			st.out.write(stream, b)
		}
		n = total
	case e.kind == kindStdin:
		return errnoBadf
	case e.kind == kindDir:
		return errnoIsdir
	case e.kind == kindDgram:
		// One datagram, however many buffers make it.
		switch len(bufs) {
		case 0:
			n, err = st.write1(fd, e, nil, send)
		case 1:
			n, err = st.write1(fd, e, bufs[0], send)
		default:
			if total > maxGather {
				return errnoMsgsize
			}
			b := st.scratch(total)[:0]
			for _, x := range bufs {
				b = append(b, x...)
			}
			n, err = st.write1(fd, e, b, send)
		}
	default:
		// A stream: buffer after buffer, stopping at a short write. Bytes
		// written before an error are reported, as writev(2) does.
		for _, b := range bufs {
			var k int
			k, err = st.write1(fd, e, b, send)
			n += k
			if err != nil || k < len(b) {
				break
			}
		}
		if n > 0 {
			err = nil
		}
	}
	if err != nil {
		return st.result(mod, err)
	}
	m.put32(nPtr, uint32(n))
	return errnoSuccess
}

// scratch returns a reusable buffer of n bytes.
func (st *instance) scratch(n int) []byte {
	if cap(st.buf) < n {
		st.buf = make([]byte, n)
	}
	return st.buf[:n]
}

// Paths. WASI paths are relative to a directory descriptor; the host joins
// them to the directory's place in the TA's root and the shadow resolves
// the result inside the root, so that no path escapes it, whatever ".."
// or symlinks it holds.

func (st *instance) path(mod api.Module, dirfd, ptr, n uint32) (string, errno) {
	e, er := st.fds.get(dirfd)
	if er != errnoSuccess {
		return "", er
	}
	if e.kind != kindDir {
		return "", errnoNotdir
	}
	p, er := memOf(mod).str(ptr, n)
	if er != errnoSuccess {
		return "", er
	}
	switch {
	case p == "":
		return "", errnoNoent
	case p[0] == '/':
		return "", errnoNotcapable // WASI paths are relative
	case strings.IndexByte(p, 0) >= 0:
		return "", errnoInval
	}
	full := e.path + "/" + p
	if e.path == "/" {
		full = "/" + p
	}
	if len(full) > tzrpc.MaxPath {
		return "", errnoNametoolong
	}
	return full, errnoSuccess
}

// pathOpen is path_open(fd, dirflags, path, path_len, oflags,
// fs_rights_base, fs_rights_inheriting, fdflags, result.opened_fd): OPEN
// of the path joined to directory fd, read and write as fs_rights_base
// asks. Symlinks are always followed (dirflags is ignored): the protocol
// has no O_NOFOLLOW, and the shadow keeps every link inside the root.
func (st *instance) pathOpen(mod api.Module, s []uint64) errno {
	dirfd, ptr, n := uint32(s[0]), uint32(s[2]), uint32(s[3])
	oflags, rights, fdflags, fdPtr := uint32(s[4]), s[5], uint32(s[7]), uint32(s[8])
	p, er := st.path(mod, dirfd, ptr, n)
	if er != errnoSuccess {
		return er
	}
	if !memOf(mod).writable(fdPtr, 4) {
		return errnoFault
	}
	if oflags&^(oflagCreat|oflagDirectory|oflagExcl|oflagTrunc) != 0 ||
		fdflags&^(fdflagAppend|fdflagDsync|fdflagNonblock|fdflagRsync|fdflagSync) != 0 {
		return errnoInval
	}
	if fdflags&(fdflagDsync|fdflagRsync|fdflagSync) != 0 {
		return errnoNotsup
	}
	var flags int
	read, write := rights&rightFdRead != 0, rights&rightFdWrite != 0
	switch {
	case read && write:
		flags = tzposix.O_RDWR
	case write:
		flags = tzposix.O_WRONLY
	default:
		flags = tzposix.O_RDONLY
	}
	for _, f := range [...]struct {
		bit  uint32
		flag int
	}{{oflagCreat, tzposix.O_CREAT}, {oflagDirectory, tzposix.O_DIRECTORY}, {oflagExcl, tzposix.O_EXCL}, {oflagTrunc, tzposix.O_TRUNC}} {
		if oflags&f.bit != 0 {
			flags |= f.flag
		}
	}
	if fdflags&fdflagAppend != 0 {
		flags |= tzposix.O_APPEND
	}
	if fdflags&fdflagNonblock != 0 {
		flags |= tzposix.O_NONBLOCK
	}
	if flags&tzposix.O_NONBLOCK == 0 {
		st.watch.enter("path_open", -1, p)
	}
	host, err := st.p.Open(p, flags, 0o666)
	if flags&tzposix.O_NONBLOCK == 0 {
		st.watch.exit()
	}
	if err != nil {
		return st.result(mod, err)
	}
	e := &fdEntry{kind: kindFile, host: host, flags: uint16(fdflags), name: p}
	if oflags&oflagDirectory != 0 {
		e.kind, e.path = kindDir, p
	}
	return st.publish(mod, e, fdPtr)
}

// publish gives e, a descriptor the TA library just opened (e.host), a
// number in the guest's table and writes it to fdPtr. With the table full
// the host descriptor is closed again: nothing is left open unnumbered.
func (st *instance) publish(mod api.Module, e *fdEntry, fdPtr uint32) errno {
	fd, er := st.fds.add(e)
	if er != errnoSuccess {
		st.p.Close(e.host)
		return er
	}
	memOf(mod).put32(fdPtr, fd)
	return errnoSuccess
}

// pathCreateDirectory is path_create_directory(fd, path, path_len): MKDIR
// with mode 0777.
func (st *instance) pathCreateDirectory(mod api.Module, s []uint64) errno {
	fd, path, pathLen := uint32(s[0]), uint32(s[1]), uint32(s[2])
	p, er := st.path(mod, fd, path, pathLen)
	if er != errnoSuccess {
		return er
	}
	return st.result(mod, st.p.Mkdir(p, 0o777))
}

// pathRemoveDirectory is path_remove_directory(fd, path, path_len): RMDIR.
func (st *instance) pathRemoveDirectory(mod api.Module, s []uint64) errno {
	fd, path, pathLen := uint32(s[0]), uint32(s[1]), uint32(s[2])
	p, er := st.path(mod, fd, path, pathLen)
	if er != errnoSuccess {
		return er
	}
	return st.result(mod, st.p.Rmdir(p))
}

// pathUnlinkFile is path_unlink_file(fd, path, path_len): UNLINK.
func (st *instance) pathUnlinkFile(mod api.Module, s []uint64) errno {
	fd, path, pathLen := uint32(s[0]), uint32(s[1]), uint32(s[2])
	p, er := st.path(mod, fd, path, pathLen)
	if er != errnoSuccess {
		return er
	}
	return st.result(mod, st.p.Unlink(p))
}

// pathRename is path_rename(fd, old_path, old_path_len, new_fd, new_path,
// new_path_len): RENAME.
func (st *instance) pathRename(mod api.Module, s []uint64) errno {
	fd, oldPath, oldLen := uint32(s[0]), uint32(s[1]), uint32(s[2])
	newFd, newPath, newLen := uint32(s[3]), uint32(s[4]), uint32(s[5])
	from, er := st.path(mod, fd, oldPath, oldLen)
	if er != errnoSuccess {
		return er
	}
	to, er := st.path(mod, newFd, newPath, newLen)
	if er != errnoSuccess {
		return er
	}
	return st.result(mod, st.p.Rename(from, to))
}

// pathFilestatGet is path_filestat_get(fd, flags, path, path_len,
// result.filestat), what os.Stat needs. The protocol has no stat, so the
// host probes: a path that opens as a directory is one; a path that is not
// a directory but whose parent is exists as something else (its type is
// reported unknown). Probes open with O_DIRECTORY, which never opens a
// FIFO or a device, so they have no side effects. Links are followed
// whatever flags says, as in path_open.
func (st *instance) pathFilestatGet(mod api.Module, s []uint64) errno {
	fd, path, pathLen, statPtr := uint32(s[0]), uint32(s[2]), uint32(s[3]), uint32(s[4])
	p, er := st.path(mod, fd, path, pathLen)
	if er != errnoSuccess {
		return er
	}
	b, ok := memOf(mod).bytes(statPtr, 64)
	if !ok {
		return errnoFault
	}
	typ, err := st.probe(p)
	if err != nil {
		return st.result(mod, err)
	}
	filestat(b, typ)
	return errnoSuccess
}

func (st *instance) probe(p string) (uint8, error) {
	const dirFlags = tzposix.O_RDONLY | tzposix.O_DIRECTORY | tzposix.O_NONBLOCK
	fd, err := st.p.Open(p, dirFlags, 0)
	if err == nil {
		st.p.Close(fd)
		return filetypeDirectory, nil
	}
	if !errors.Is(err, syscall.ENOTDIR) {
		return 0, err
	}
	// ENOTDIR: the leaf or a component before it is no directory.
	parent := strings.TrimRight(p, "/")
	if i := strings.LastIndexByte(parent, '/'); i >= 0 {
		parent = parent[:i+1]
	}
	if parent == "" {
		parent = "/"
	}
	fd, err = st.p.Open(parent, dirFlags, 0)
	if err != nil {
		return 0, err
	}
	st.p.Close(fd)
	if strings.HasSuffix(p, "/") {
		return 0, syscall.ENOTDIR // "file/" names no directory
	}
	return filetypeUnknown, nil
}

// Sockets.

// sockAccept is sock_accept(fd, flags, result.fd): ACCEPT on listening
// socket fd; flags may hold only FDFLAGS_NONBLOCK, for the new socket.
func (st *instance) sockAccept(mod api.Module, s []uint64) errno {
	fd, flags, fdPtr := uint32(s[0]), uint32(s[1]), uint32(s[2])
	e, er := st.fds.get(fd)
	if er != errnoSuccess {
		return er
	}
	switch {
	case e.kind != kindStream:
		return errnoNotsock
	case flags&^fdflagNonblock != 0:
		return errnoInval
	case !memOf(mod).writable(fdPtr, 4):
		return errnoFault
	}
	acc := 0
	if flags&fdflagNonblock != 0 {
		acc = tzposix.SOCK_NONBLOCK
	}
	if e.flags&fdflagNonblock == 0 {
		st.watch.enter("sock_accept", int(uint32(s[0])), e.name)
	}
	host, _, err := st.p.Accept4(e.host, acc)
	if e.flags&fdflagNonblock == 0 {
		st.watch.exit()
	}
	if err != nil {
		return st.result(mod, err)
	}
	return st.publish(mod, &fdEntry{kind: kindStream, host: host, flags: uint16(flags)}, fdPtr)
}

// sockRecv is sock_recv(fd, ri_data, ri_data_len, ri_flags,
// result.ro_datalen, result.ro_flags): RECV into the iovecs at ri_data,
// with MSG_PEEK and MSG_WAITALL for RECV_PEEK and RECV_WAITALL; ro_flags
// is always 0.
func (st *instance) sockRecv(mod api.Module, s []uint64) errno {
	fd, iovs, iovsLen, ri := uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3])
	nPtr, roFlagsPtr := uint32(s[4]), uint32(s[5])
	if ri&^(riflagPeek|riflagWaitall) != 0 {
		return errnoInval
	}
	flags := 0
	if ri&riflagPeek != 0 {
		flags |= tzposix.MSG_PEEK
	}
	if ri&riflagWaitall != 0 {
		flags |= tzposix.MSG_WAITALL
	}
	return st.readv(mod, fd, iovs, iovsLen, flags, true, nPtr, roFlagsPtr, true)
}

// sockSend is sock_send(fd, si_data, si_data_len, si_flags,
// result.so_datalen): SEND of the iovecs at si_data. WASI defines no send
// flags, so si_flags must be 0.
func (st *instance) sockSend(mod api.Module, s []uint64) errno {
	fd, iovs, iovsLen, siFlags, nPtr := uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3]), uint32(s[4])
	if siFlags != 0 {
		return errnoInval
	}
	return st.writev(mod, fd, iovs, iovsLen, true, nPtr)
}

// sockShutdown is sock_shutdown(fd, how): SHUTDOWN, how being SHUT_RD,
// SHUT_WR or both.
func (st *instance) sockShutdown(mod api.Module, s []uint64) errno {
	fd, sdflags := uint32(s[0]), uint32(s[1])
	e, er := st.fds.get(fd)
	if er != errnoSuccess {
		return er
	}
	if !e.kind.socket() {
		return errnoNotsock
	}
	var how int
	switch sdflags {
	case sdflagRD:
		how = tzposix.SHUT_RD
	case sdflagWR:
		how = tzposix.SHUT_WR
	case sdflagRD | sdflagWR:
		how = tzposix.SHUT_RDWR
	default:
		return errnoInval
	}
	return st.result(mod, st.p.Shutdown(e.host, how))
}

// durationNs converts a WASI nanosecond count, saturating.
func durationNs(ns uint64) time.Duration {
	if ns > math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}
