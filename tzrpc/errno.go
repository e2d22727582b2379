package tzrpc

import (
	"errors"
	"strconv"
	"syscall"
)

// Errno is an error number on the wire. The numbers are Linux's asm-generic
// ones, but they are protocol values: a shadow or TA on another host converts
// with ErrnoFromSyscall and Errno.Syscall, never by casting.
type Errno uint32

// Errnos with a name. Any number in 1..MaxErrno is valid on the wire; these
// are the ones the calls of this protocol produce.
const (
	EPERM           Errno = 1
	ENOENT          Errno = 2
	EINTR           Errno = 4
	EIO             Errno = 5
	ENXIO           Errno = 6
	EBADF           Errno = 9
	EAGAIN          Errno = 11
	ENOMEM          Errno = 12
	EACCES          Errno = 13
	EFAULT          Errno = 14
	EBUSY           Errno = 16
	EEXIST          Errno = 17
	EXDEV           Errno = 18
	ENODEV          Errno = 19
	ENOTDIR         Errno = 20
	EISDIR          Errno = 21
	EINVAL          Errno = 22
	ENFILE          Errno = 23
	EMFILE          Errno = 24
	ENOTTY          Errno = 25
	ETXTBSY         Errno = 26
	EFBIG           Errno = 27
	ENOSPC          Errno = 28
	ESPIPE          Errno = 29
	EROFS           Errno = 30
	EMLINK          Errno = 31
	EPIPE           Errno = 32
	ERANGE          Errno = 34
	ENAMETOOLONG    Errno = 36
	ENOSYS          Errno = 38
	ENOTEMPTY       Errno = 39
	ELOOP           Errno = 40
	EPROTO          Errno = 71
	EOVERFLOW       Errno = 75
	ENOTSOCK        Errno = 88
	EDESTADDRREQ    Errno = 89
	EMSGSIZE        Errno = 90
	EPROTOTYPE      Errno = 91
	ENOPROTOOPT     Errno = 92
	EPROTONOSUPPORT Errno = 93
	EOPNOTSUPP      Errno = 95
	EAFNOSUPPORT    Errno = 97
	EADDRINUSE      Errno = 98
	EADDRNOTAVAIL   Errno = 99
	ENETDOWN        Errno = 100
	ENETUNREACH     Errno = 101
	ENETRESET       Errno = 102
	ECONNABORTED    Errno = 103
	ECONNRESET      Errno = 104
	ENOBUFS         Errno = 105
	EISCONN         Errno = 106
	ENOTCONN        Errno = 107
	ETIMEDOUT       Errno = 110
	ECONNREFUSED    Errno = 111
	EHOSTDOWN       Errno = 112
	EHOSTUNREACH    Errno = 113
	EALREADY        Errno = 114
	EINPROGRESS     Errno = 115
	EDQUOT          Errno = 122
	ECANCELED       Errno = 125

	// MaxErrno is the largest errno accepted on the wire (EHWPOISON).
	MaxErrno Errno = 133
)

type errnoInfo struct {
	name, text string
	host       syscall.Errno
}

// errnoTable is read-only. The host column is built from the syscall
// package, so the conversion stays right on hosts whose numbers differ.
var errnoTable = [...]errnoInfo{
	EPERM:           {"EPERM", "operation not permitted", syscall.EPERM},
	ENOENT:          {"ENOENT", "no such file or directory", syscall.ENOENT},
	EINTR:           {"EINTR", "interrupted system call", syscall.EINTR},
	EIO:             {"EIO", "input/output error", syscall.EIO},
	ENXIO:           {"ENXIO", "no such device or address", syscall.ENXIO},
	EBADF:           {"EBADF", "bad file descriptor", syscall.EBADF},
	EAGAIN:          {"EAGAIN", "resource temporarily unavailable", syscall.EAGAIN},
	ENOMEM:          {"ENOMEM", "cannot allocate memory", syscall.ENOMEM},
	EACCES:          {"EACCES", "permission denied", syscall.EACCES},
	EFAULT:          {"EFAULT", "bad address", syscall.EFAULT},
	EBUSY:           {"EBUSY", "device or resource busy", syscall.EBUSY},
	EEXIST:          {"EEXIST", "file exists", syscall.EEXIST},
	EXDEV:           {"EXDEV", "invalid cross-device link", syscall.EXDEV},
	ENODEV:          {"ENODEV", "no such device", syscall.ENODEV},
	ENOTDIR:         {"ENOTDIR", "not a directory", syscall.ENOTDIR},
	EISDIR:          {"EISDIR", "is a directory", syscall.EISDIR},
	EINVAL:          {"EINVAL", "invalid argument", syscall.EINVAL},
	ENFILE:          {"ENFILE", "too many open files in system", syscall.ENFILE},
	EMFILE:          {"EMFILE", "too many open files", syscall.EMFILE},
	ENOTTY:          {"ENOTTY", "inappropriate ioctl for device", syscall.ENOTTY},
	ETXTBSY:         {"ETXTBSY", "text file busy", hostETXTBSY},
	EFBIG:           {"EFBIG", "file too large", syscall.EFBIG},
	ENOSPC:          {"ENOSPC", "no space left on device", syscall.ENOSPC},
	ESPIPE:          {"ESPIPE", "illegal seek", syscall.ESPIPE},
	EROFS:           {"EROFS", "read-only file system", syscall.EROFS},
	EMLINK:          {"EMLINK", "too many links", syscall.EMLINK},
	EPIPE:           {"EPIPE", "broken pipe", syscall.EPIPE},
	ERANGE:          {"ERANGE", "numerical result out of range", syscall.ERANGE},
	ENAMETOOLONG:    {"ENAMETOOLONG", "file name too long", syscall.ENAMETOOLONG},
	ENOSYS:          {"ENOSYS", "function not implemented", syscall.ENOSYS},
	ENOTEMPTY:       {"ENOTEMPTY", "directory not empty", syscall.ENOTEMPTY},
	ELOOP:           {"ELOOP", "too many levels of symbolic links", syscall.ELOOP},
	EPROTO:          {"EPROTO", "protocol error", syscall.EPROTO},
	EOVERFLOW:       {"EOVERFLOW", "value too large for defined data type", syscall.EOVERFLOW},
	ENOTSOCK:        {"ENOTSOCK", "socket operation on non-socket", syscall.ENOTSOCK},
	EDESTADDRREQ:    {"EDESTADDRREQ", "destination address required", syscall.EDESTADDRREQ},
	EMSGSIZE:        {"EMSGSIZE", "message too long", syscall.EMSGSIZE},
	EPROTOTYPE:      {"EPROTOTYPE", "protocol wrong type for socket", syscall.EPROTOTYPE},
	ENOPROTOOPT:     {"ENOPROTOOPT", "protocol not available", syscall.ENOPROTOOPT},
	EPROTONOSUPPORT: {"EPROTONOSUPPORT", "protocol not supported", syscall.EPROTONOSUPPORT},
	EOPNOTSUPP:      {"EOPNOTSUPP", "operation not supported", syscall.EOPNOTSUPP},
	EAFNOSUPPORT:    {"EAFNOSUPPORT", "address family not supported by protocol", syscall.EAFNOSUPPORT},
	EADDRINUSE:      {"EADDRINUSE", "address already in use", syscall.EADDRINUSE},
	EADDRNOTAVAIL:   {"EADDRNOTAVAIL", "cannot assign requested address", syscall.EADDRNOTAVAIL},
	ENETDOWN:        {"ENETDOWN", "network is down", syscall.ENETDOWN},
	ENETUNREACH:     {"ENETUNREACH", "network is unreachable", syscall.ENETUNREACH},
	ENETRESET:       {"ENETRESET", "network dropped connection on reset", syscall.ENETRESET},
	ECONNABORTED:    {"ECONNABORTED", "software caused connection abort", syscall.ECONNABORTED},
	ECONNRESET:      {"ECONNRESET", "connection reset by peer", syscall.ECONNRESET},
	ENOBUFS:         {"ENOBUFS", "no buffer space available", syscall.ENOBUFS},
	EISCONN:         {"EISCONN", "transport endpoint is already connected", syscall.EISCONN},
	ENOTCONN:        {"ENOTCONN", "transport endpoint is not connected", syscall.ENOTCONN},
	ETIMEDOUT:       {"ETIMEDOUT", "connection timed out", syscall.ETIMEDOUT},
	ECONNREFUSED:    {"ECONNREFUSED", "connection refused", syscall.ECONNREFUSED},
	EHOSTDOWN:       {"EHOSTDOWN", "host is down", hostEHOSTDOWN},
	EHOSTUNREACH:    {"EHOSTUNREACH", "no route to host", syscall.EHOSTUNREACH},
	EALREADY:        {"EALREADY", "operation already in progress", syscall.EALREADY},
	EINPROGRESS:     {"EINPROGRESS", "operation now in progress", syscall.EINPROGRESS},
	EDQUOT:          {"EDQUOT", "disk quota exceeded", syscall.EDQUOT},
	ECANCELED:       {"ECANCELED", "operation canceled", syscall.ECANCELED},
	MaxErrno:        {}, // sizes the table so every valid errno indexes it
}

// Valid reports whether e may appear in a response's errno field (0, "no
// error", is not an error number and so is not Valid).
func (e Errno) Valid() bool { return e >= 1 && e <= MaxErrno }

// String returns the symbolic name, e.g. "ENOENT".
func (e Errno) String() string {
	if e.Valid() && errnoTable[e].name != "" {
		return errnoTable[e].name
	}
	return "errno(" + strconv.FormatUint(uint64(e), 10) + ")"
}

func (e Errno) Error() string {
	if e.Valid() && errnoTable[e].text != "" {
		return errnoTable[e].text + " (" + errnoTable[e].name + ")"
	}
	return e.String()
}

// Syscall converts e to the host's errno. Valid numbers without a name here
// have no portable meaning, so they become EIO rather than whatever the host
// happens to number that way.
func (e Errno) Syscall() syscall.Errno {
	if e.Valid() && errnoTable[e].name != "" {
		return errnoTable[e].host
	}
	return syscall.EIO
}

// ErrnoFromSyscall converts a host errno to the wire. Host errnos this
// protocol does not name become EIO, so a TA is never handed a number its
// library cannot interpret. 0 stays 0.
func ErrnoFromSyscall(h syscall.Errno) Errno {
	if h == 0 {
		return 0
	}
	// Fast path: on Linux the numbers coincide.
	if uint64(h) < uint64(len(errnoTable)) && errnoTable[h].name != "" && errnoTable[h].host == h {
		return Errno(h)
	}
	for i := range errnoTable {
		if errnoTable[i].name != "" && errnoTable[i].host == h {
			return Errno(i)
		}
	}
	return EIO
}

// ErrnoOf picks the errno a failed call should report: the Errno inside err,
// ENOSYS or EINVAL for a request header the shadow could not decode, and
// EIO for anything else (a host errno is converted). nil gives 0.
func ErrnoOf(err error) Errno {
	if err == nil {
		return 0
	}
	var de *DecodeError
	if errors.As(err, &de) {
		return de.Errno()
	}
	var e Errno
	if errors.As(err, &e) {
		if e.Valid() {
			return e
		}
		return EIO
	}
	var h syscall.Errno
	if errors.As(err, &h) {
		return ErrnoFromSyscall(h)
	}
	return EIO
}
