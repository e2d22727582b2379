package wasm

import (
	"errors"
	"syscall"
)

// errno is a WASI preview 1 error number. The numbering is WASI's own
// (alphabetical), not Linux's: EBADF is 8, not 9.
type errno uint16

// The WASI preview 1 errnos.
const (
	errnoSuccess errno = iota
	errno2big
	errnoAcces
	errnoAddrinuse
	errnoAddrnotavail
	errnoAfnosupport
	errnoAgain
	errnoAlready
	errnoBadf
	errnoBadmsg
	errnoBusy
	errnoCanceled
	errnoChild
	errnoConnaborted
	errnoConnrefused
	errnoConnreset
	errnoDeadlk
	errnoDestaddrreq
	errnoDom
	errnoDquot
	errnoExist
	errnoFault
	errnoFbig
	errnoHostunreach
	errnoIdrm
	errnoIlseq
	errnoInprogress
	errnoIntr
	errnoInval
	errnoIo
	errnoIsconn
	errnoIsdir
	errnoLoop
	errnoMfile
	errnoMlink
	errnoMsgsize
	errnoMultihop
	errnoNametoolong
	errnoNetdown
	errnoNetreset
	errnoNetunreach
	errnoNfile
	errnoNobufs
	errnoNodev
	errnoNoent
	errnoNoexec
	errnoNolck
	errnoNolink
	errnoNomem
	errnoNomsg
	errnoNoprotoopt
	errnoNospc
	errnoNosys
	errnoNotconn
	errnoNotdir
	errnoNotempty
	errnoNotrecoverable
	errnoNotsock
	errnoNotsup
	errnoNotty
	errnoNxio
	errnoOverflow
	errnoOwnerdead
	errnoPerm
	errnoPipe
	errnoProto
	errnoProtonosupport
	errnoPrototype
	errnoRange
	errnoRofs
	errnoSpipe
	errnoSrch
	errnoStale
	errnoTimedout
	errnoTxtbsy
	errnoXdev
	errnoNotcapable
)

// errnoOf maps the result of a tzposix call (a host syscall.Errno, or nil)
// onto WASI. An errno WASI cannot name, or an error that is not an errno,
// is EIO: the guest learns that the call failed, never a wrong reason.
func errnoOf(err error) errno {
	if err == nil {
		return errnoSuccess
	}
	var e syscall.Errno
	if !errors.As(err, &e) {
		return errnoIo
	}
	return hostErrno(e)
}

// hostErrno maps one host errno. A switch rather than a table: no mutable
// package state, and the compiler checks the cases are distinct.
func hostErrno(e syscall.Errno) errno {
	switch e {
	case 0:
		return errnoSuccess
	case syscall.E2BIG:
		return errno2big
	case syscall.EACCES:
		return errnoAcces
	case syscall.EADDRINUSE:
		return errnoAddrinuse
	case syscall.EADDRNOTAVAIL:
		return errnoAddrnotavail
	case syscall.EAFNOSUPPORT:
		return errnoAfnosupport
	case syscall.EAGAIN:
		return errnoAgain
	case syscall.EALREADY:
		return errnoAlready
	case syscall.EBADF:
		return errnoBadf
	case syscall.EBADMSG:
		return errnoBadmsg
	case syscall.EBUSY:
		return errnoBusy
	case syscall.ECANCELED:
		return errnoCanceled
	case syscall.ECHILD:
		return errnoChild
	case syscall.ECONNABORTED:
		return errnoConnaborted
	case syscall.ECONNREFUSED:
		return errnoConnrefused
	case syscall.ECONNRESET:
		return errnoConnreset
	case syscall.EDEADLK:
		return errnoDeadlk
	case syscall.EDESTADDRREQ:
		return errnoDestaddrreq
	case syscall.EDOM:
		return errnoDom
	case syscall.EDQUOT:
		return errnoDquot
	case syscall.EEXIST:
		return errnoExist
	case syscall.EFAULT:
		return errnoFault
	case syscall.EFBIG:
		return errnoFbig
	case syscall.EHOSTUNREACH, syscall.EHOSTDOWN:
		return errnoHostunreach
	case syscall.EIDRM:
		return errnoIdrm
	case syscall.EILSEQ:
		return errnoIlseq
	case syscall.EINPROGRESS:
		return errnoInprogress
	case syscall.EINTR:
		return errnoIntr
	case syscall.EINVAL:
		return errnoInval
	case syscall.EIO:
		return errnoIo
	case syscall.EISCONN:
		return errnoIsconn
	case syscall.EISDIR:
		return errnoIsdir
	case syscall.ELOOP:
		return errnoLoop
	case syscall.EMFILE:
		return errnoMfile
	case syscall.EMLINK:
		return errnoMlink
	case syscall.EMSGSIZE:
		return errnoMsgsize
	case syscall.EMULTIHOP:
		return errnoMultihop
	case syscall.ENAMETOOLONG:
		return errnoNametoolong
	case syscall.ENETDOWN:
		return errnoNetdown
	case syscall.ENETRESET:
		return errnoNetreset
	case syscall.ENETUNREACH:
		return errnoNetunreach
	case syscall.ENFILE:
		return errnoNfile
	case syscall.ENOBUFS:
		return errnoNobufs
	case syscall.ENODEV:
		return errnoNodev
	case syscall.ENOENT:
		return errnoNoent
	case syscall.ENOEXEC:
		return errnoNoexec
	case syscall.ENOLCK:
		return errnoNolck
	case syscall.ENOLINK:
		return errnoNolink
	case syscall.ENOMEM:
		return errnoNomem
	case syscall.ENOMSG:
		return errnoNomsg
	case syscall.ENOPROTOOPT:
		return errnoNoprotoopt
	case syscall.ENOSPC:
		return errnoNospc
	case syscall.ENOSYS:
		return errnoNosys
	case syscall.ENOTCONN:
		return errnoNotconn
	case syscall.ENOTDIR:
		return errnoNotdir
	case syscall.ENOTEMPTY:
		return errnoNotempty
	case syscall.ENOTRECOVERABLE:
		return errnoNotrecoverable
	case syscall.ENOTSOCK:
		return errnoNotsock
	case syscall.EOPNOTSUPP: // == ENOTSUP on Linux
		return errnoNotsup
	case syscall.ENOTTY:
		return errnoNotty
	case syscall.ENXIO:
		return errnoNxio
	case syscall.EOVERFLOW:
		return errnoOverflow
	case syscall.EOWNERDEAD:
		return errnoOwnerdead
	case syscall.EPERM:
		return errnoPerm
	case syscall.EPIPE:
		return errnoPipe
	case syscall.EPROTO:
		return errnoProto
	case syscall.EPROTONOSUPPORT:
		return errnoProtonosupport
	case syscall.EPROTOTYPE:
		return errnoPrototype
	case syscall.ERANGE:
		return errnoRange
	case syscall.EROFS:
		return errnoRofs
	case syscall.ESPIPE:
		return errnoSpipe
	case syscall.ESRCH:
		return errnoSrch
	case syscall.ESTALE:
		return errnoStale
	case syscall.ETIMEDOUT:
		return errnoTimedout
	case syscall.ETXTBSY:
		return errnoTxtbsy
	case syscall.EXDEV:
		return errnoXdev
	}
	return errnoIo
}
