package tzrpc

import "strconv"

// Op identifies the POSIX call a request carries.
type Op uint16

// Ops. The numbers are the wire values and never change meaning.
const (
	OpExit        Op = 1
	OpOpen        Op = 2
	OpClose       Op = 3
	OpRead        Op = 4
	OpWrite       Op = 5
	OpMkfifo      Op = 6
	OpUnlink      Op = 7
	OpMkdir       Op = 8
	OpRmdir       Op = 9
	OpRename      Op = 10
	OpSocket      Op = 11
	OpBind        Op = 12
	OpListen      Op = 13
	OpAccept      Op = 14
	OpConnect     Op = 15
	OpSend        Op = 16
	OpRecv        Op = 17
	OpSendto      Op = 18
	OpRecvfrom    Op = 19
	OpShutdown    Op = 20
	OpGetsockname Op = 21
	OpGetpeername Op = 22
	OpSetsockopt  Op = 23
	OpGetsockopt  Op = 24
	OpPoll        Op = 25
	OpFcntl       Op = 26

	opLast = OpFcntl
)

var opNames = [...]string{
	OpExit:        "EXIT",
	OpOpen:        "OPEN",
	OpClose:       "CLOSE",
	OpRead:        "READ",
	OpWrite:       "WRITE",
	OpMkfifo:      "MKFIFO",
	OpUnlink:      "UNLINK",
	OpMkdir:       "MKDIR",
	OpRmdir:       "RMDIR",
	OpRename:      "RENAME",
	OpSocket:      "SOCKET",
	OpBind:        "BIND",
	OpListen:      "LISTEN",
	OpAccept:      "ACCEPT",
	OpConnect:     "CONNECT",
	OpSend:        "SEND",
	OpRecv:        "RECV",
	OpSendto:      "SENDTO",
	OpRecvfrom:    "RECVFROM",
	OpShutdown:    "SHUTDOWN",
	OpGetsockname: "GETSOCKNAME",
	OpGetpeername: "GETPEERNAME",
	OpSetsockopt:  "SETSOCKOPT",
	OpGetsockopt:  "GETSOCKOPT",
	OpPoll:        "POLL",
	OpFcntl:       "FCNTL",
}

// Valid reports whether o is an op this version of the protocol defines.
func (o Op) Valid() bool { return o >= OpExit && o <= opLast }

func (o Op) String() string {
	if o.Valid() {
		return opNames[o]
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}
