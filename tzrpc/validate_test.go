package tzrpc

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestValidateAcceptsExchanges(t *testing.T) {
	for _, x := range exchanges() {
		if err := x.req.Validate(); err != nil {
			t.Errorf("%v %v: %v", x.req.Op, x.req.Args, err)
		}
	}
}

func TestValidate(t *testing.T) {
	rq := func(op Op, payload string, a ...int64) Request {
		return Request{Op: op, Args: args(a...), Payload: []byte(payload)}
	}
	in4 := string(sa4.Marshal())
	tests := []struct {
		name string
		req  Request
		want Errno // 0: valid
	}{
		{"exit status too big", rq(OpExit, "", math.MaxInt32+1), EINVAL},
		{"exit negative status", rq(OpExit, "", -1), 0},
		{"exit args[1]", rq(OpExit, "", 0, 1), EINVAL},
		{"exit payload", rq(OpExit, "x"), EINVAL},

		{"open empty path", rq(OpOpen, "", O_RDONLY), ENOENT},
		{"open NUL", rq(OpOpen, "a\x00b", O_RDONLY), EINVAL},
		{"open path 4095", rq(OpOpen, longPath, O_RDONLY), 0},
		{"open path 4096", rq(OpOpen, longPath+"p", O_RDONLY), ENAMETOOLONG},
		{"open unknown flag", rq(OpOpen, "f", O_RDONLY|0x1000), EINVAL},
		{"open negative flags", rq(OpOpen, "f", -1), EINVAL},
		{"open accmode 3", rq(OpOpen, "f", O_ACCMODE), EINVAL},
		{"open all flags", rq(OpOpen, "f", O_RDWR|O_CREAT|O_EXCL|O_TRUNC|O_APPEND|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY, 0o7777), 0},
		{"open mode file type", rq(OpOpen, "f", O_CREAT, 0o10644), EINVAL},
		{"open mode negative", rq(OpOpen, "f", O_CREAT, -1), EINVAL},
		{"open args[2]", rq(OpOpen, "f", 0, 0, 1), EINVAL},
		{"open args[5]", rq(OpOpen, "f", 0, 0, 0, 0, 0, 1), EINVAL},

		{"close fd -1", rq(OpClose, "", -1), EBADF},
		{"close fd limit", rq(OpClose, "", FDLimit), EBADF},
		{"close fd max", rq(OpClose, "", FDLimit-1), 0},
		{"close payload", rq(OpClose, "x", 1), EINVAL},
		{"close args[1]", rq(OpClose, "", 1, 1), EINVAL},

		{"read negative", rq(OpRead, "", 3, -1), EINVAL},
		{"read zero", rq(OpRead, "", 3, 0), 0},
		{"read huge", rq(OpRead, "", 3, math.MaxInt64), 0},
		{"read bad fd", rq(OpRead, "", -5, 1), EBADF},
		{"read args[2]", rq(OpRead, "", 3, 1, 1), EINVAL},
		{"read payload", rq(OpRead, "x", 3, 1), EINVAL},

		{"write empty", rq(OpWrite, "", 3), 0},
		{"write bad fd", rq(OpWrite, "x", math.MaxInt64), EBADF},
		{"write args[1]", rq(OpWrite, "x", 3, 1), EINVAL},

		{"mkfifo mode", rq(OpMkfifo, "f", 0o10000), EINVAL},
		{"mkfifo empty", rq(OpMkfifo, "", 0o600), ENOENT},
		{"mkfifo args[1]", rq(OpMkfifo, "f", 0o600, 1), EINVAL},
		{"mkdir ok", rq(OpMkdir, "d/e", 0o700), 0},
		{"mkdir long", rq(OpMkdir, longPath+"/", 0o700), ENAMETOOLONG},
		{"unlink args[0]", rq(OpUnlink, "f", 1), EINVAL},
		{"unlink NUL", rq(OpUnlink, "\x00"), EINVAL},
		{"rmdir empty", rq(OpRmdir, ""), ENOENT},

		{"rename ok", rq(OpRename, "ab", 1), 0},
		{"rename zero old", rq(OpRename, "ab", 0), EINVAL},
		{"rename empty new", rq(OpRename, "ab", 2), EINVAL},
		{"rename past payload", rq(OpRename, "ab", 3), EINVAL},
		{"rename negative", rq(OpRename, "ab", -1), EINVAL},
		{"rename old NUL", rq(OpRename, "a\x00b", 2), EINVAL},
		{"rename new NUL", rq(OpRename, "ab\x00", 2), EINVAL},
		{"rename old long", rq(OpRename, longPath+"pq", MaxPath+1), ENAMETOOLONG},
		{"rename new long", rq(OpRename, "q"+longPath+"p", 1), ENAMETOOLONG},
		{"rename args[1]", rq(OpRename, "ab", 1, 1), EINVAL},

		{"socket inet6 dgram", rq(OpSocket, "", AF_INET6, SOCK_DGRAM, SOCK_CLOEXEC), 0},
		{"socket domain", rq(OpSocket, "", 3, SOCK_STREAM), EAFNOSUPPORT},
		{"socket domain 0", rq(OpSocket, "", 0, SOCK_STREAM), EAFNOSUPPORT},
		{"socket type", rq(OpSocket, "", AF_INET, 3), EINVAL},
		{"socket flags in type", rq(OpSocket, "", AF_INET, SOCK_STREAM|SOCK_NONBLOCK), EINVAL},
		{"socket flags", rq(OpSocket, "", AF_INET, SOCK_STREAM, 1), EINVAL},
		{"socket protocol", rq(OpSocket, "", AF_INET, SOCK_STREAM, 0, 6), EINVAL},
		{"socket payload", rq(OpSocket, "x", AF_INET, SOCK_STREAM), EINVAL},

		{"bind bad fd", rq(OpBind, in4, -1), EBADF},
		{"bind no address", rq(OpBind, "", 5), EINVAL},
		{"bind family", rq(OpBind, "\x09\x00\x00\x00abcd", 5), EINVAL},
		{"bind trailing", rq(OpBind, in4+"x", 5), EINVAL},
		{"bind short", rq(OpBind, in4[:7], 5), EINVAL},
		{"bind unnamed unix", rq(OpBind, string(saAnon.Marshal()), 5), EINVAL},
		{"bind args[1]", rq(OpBind, in4, 5, 1), EINVAL},
		{"connect inet6", rq(OpConnect, string(sa6.Marshal()), 5), 0},
		{"connect unix", rq(OpConnect, string(saUnix.Marshal()), 5), 0},

		{"listen backlog 0", rq(OpListen, "", 5, 0), 0},
		{"listen backlog max", rq(OpListen, "", 5, MaxBacklog), 0},
		{"listen backlog big", rq(OpListen, "", 5, MaxBacklog+1), EINVAL},
		{"listen backlog negative", rq(OpListen, "", 5, -1), EINVAL},

		{"accept flags", rq(OpAccept, "", 5, O_APPEND), EINVAL},
		{"accept cloexec", rq(OpAccept, "", 5, SOCK_CLOEXEC|SOCK_NONBLOCK), 0},
		{"accept payload", rq(OpAccept, "x", 5), EINVAL},

		{"send peek", rq(OpSend, "x", 7, MSG_PEEK), EINVAL},
		{"send dontwait", rq(OpSend, "x", 7, MSG_DONTWAIT), 0},
		{"send args[2]", rq(OpSend, "x", 7, 0, 1), EINVAL},
		{"recv oob", rq(OpRecv, "", 7, 10, 1), EINVAL},
		{"recv all flags", rq(OpRecv, "", 7, 10, MSG_PEEK|MSG_DONTWAIT|MSG_WAITALL|MSG_NOSIGNAL), 0},
		{"recv negative", rq(OpRecv, "", 7, -1), EINVAL},
		{"recvfrom payload", rq(OpRecvfrom, "x", 7, 10), EINVAL},
		{"recvfrom args[3]", rq(OpRecvfrom, "", 7, 10, 0, 1), EINVAL},

		{"sendto no address", rq(OpSendto, "data", 7, 0, 0), 0},
		{"sendto address only", rq(OpSendto, in4, 7, 0, 8), 0},
		{"sendto addr past payload", rq(OpSendto, in4, 7, 0, 9), EINVAL},
		{"sendto negative addr", rq(OpSendto, in4, 7, 0, -1), EINVAL},
		{"sendto partial addr", rq(OpSendto, in4+"data", 7, 0, 7), EINVAL},
		{"sendto addr too long", rq(OpSendto, in4+"data", 7, 0, 9), EINVAL},
		{"sendto unnamed", rq(OpSendto, string(saAnon.Marshal())+"data", 7, 0, 6), EINVAL},
		{"sendto flags", rq(OpSendto, "data", 7, MSG_WAITALL, 0), EINVAL},
		{"sendto args[3]", rq(OpSendto, "data", 7, 0, 0, 1), EINVAL},

		{"shutdown rdwr", rq(OpShutdown, "", 7, SHUT_RDWR), 0},
		{"shutdown how 3", rq(OpShutdown, "", 7, 3), EINVAL},
		{"shutdown how -1", rq(OpShutdown, "", 7, -1), EINVAL},
		{"getsockname payload", rq(OpGetsockname, "x", 7), EINVAL},
		{"getpeername bad fd", rq(OpGetpeername, "", -1), EBADF},

		{"setsockopt SO_ERROR", rq(OpSetsockopt, "", 5, SO_ERROR, 0), ENOPROTOOPT},
		{"setsockopt SO_TYPE", rq(OpSetsockopt, "", 5, SO_TYPE, 1), ENOPROTOOPT},
		{"setsockopt 0", rq(OpSetsockopt, "", 5, 0, 1), ENOPROTOOPT},
		{"setsockopt 10", rq(OpSetsockopt, "", 5, 10, 1), ENOPROTOOPT},
		{"setsockopt bool any int", rq(OpSetsockopt, "", 5, SO_KEEPALIVE, -7), 0},
		{"setsockopt value range", rq(OpSetsockopt, "", 5, TCP_NODELAY, math.MaxInt32+1), EINVAL},
		{"setsockopt negative buffer", rq(OpSetsockopt, "", 5, SO_SNDBUF, -1), EINVAL},
		{"setsockopt args[3]", rq(OpSetsockopt, "", 5, SO_BROADCAST, 1, 1), EINVAL},
		{"getsockopt SO_REUSEPORT", rq(OpGetsockopt, "", 5, SO_REUSEPORT), 0},
		{"getsockopt 0", rq(OpGetsockopt, "", 5, 0), ENOPROTOOPT},
		{"getsockopt 10", rq(OpGetsockopt, "", 5, 10), ENOPROTOOPT},
		{"getsockopt args[2]", rq(OpGetsockopt, "", 5, SO_TYPE, 1), EINVAL},

		{"poll max", rq(OpPoll, strings.Repeat("\x01\x00\x00\x00\x01\x00\x00\x00", MaxPollFDs), MaxPollFDs, 0), 0},
		{"poll too many", rq(OpPoll, strings.Repeat("\x01\x00\x00\x00\x01\x00\x00\x00", MaxPollFDs+1), MaxPollFDs+1, 0), EINVAL},
		{"poll negative nfds", rq(OpPoll, "", -1, 0), EINVAL},
		{"poll timeout -2", rq(OpPoll, "", 0, -2), EINVAL},
		{"poll timeout big", rq(OpPoll, "", 0, math.MaxInt32+1), EINVAL},
		{"poll short payload", rq(OpPoll, "\x01\x00\x00\x00\x01\x00\x00", 1, 0), EINVAL},
		{"poll long payload", rq(OpPoll, "\x01\x00\x00\x00\x01\x00\x00\x00", 0, 0), EINVAL},
		{"poll revents set", rq(OpPoll, "\x01\x00\x00\x00\x01\x00\x01\x00", 1, 0), EINVAL},
		{"poll unknown events", rq(OpPoll, "\x01\x00\x00\x00\x40\x00\x00\x00", 1, 0), EINVAL},
		{"poll negative fd", rq(OpPoll, "\xff\xff\xff\xff\x3f\x00\x00\x00", 1, -1), 0},
		{"poll read-ahead", rq(OpPoll, "", 0, 0, 4096), 0},
		{"poll read-ahead max", rq(OpPoll, "", 0, 0, MaxReadAhead), 0},
		{"poll read-ahead negative", rq(OpPoll, "", 0, 0, -1), EINVAL},
		{"poll read-ahead too large", rq(OpPoll, "", 0, 0, MaxReadAhead+1), EINVAL},
		{"poll args[3]", rq(OpPoll, "", 0, 0, 0, 1), EINVAL},

		{"fcntl cmd 0", rq(OpFcntl, "", 5, 0), EINVAL},
		{"fcntl cmd 3", rq(OpFcntl, "", 5, 3), EINVAL},
		{"fcntl getfl args[2]", rq(OpFcntl, "", 5, F_GETFL, O_NONBLOCK), EINVAL},
		{"fcntl setfl bad bits", rq(OpFcntl, "", 5, F_SETFL, 0x1000), EINVAL},
		{"fcntl setfl args[3]", rq(OpFcntl, "", 5, F_SETFL, 0, 1), EINVAL},
		{"fcntl bad fd", rq(OpFcntl, "", FDLimit, F_GETFL), EBADF},
		{"fcntl payload", rq(OpFcntl, "x", 5, F_GETFL), EINVAL},

		{"unknown op", rq(99, ""), ENOSYS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate()
			if got := ErrnoOf(err); got != tt.want {
				t.Fatalf("Validate() = %v (errno %v), want errno %v", err, got, tt.want)
			}
			if err == nil {
				return
			}
			t.Log(err)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Op != tt.req.Op || fe.Field == "" || fe.Reason == "" {
				t.Errorf("error %#v lacks context", err)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.want)
			}
		})
	}
}
