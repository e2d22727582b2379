package wasm

// fdKind is what a guest descriptor is.
type fdKind uint8

const (
	kindStdin  fdKind = iota + 1 // reads nothing (end of file)
	kindStdout                   // the bridge's log
	kindStderr                   // the bridge's log
	kindDir                      // a directory: a base for relative paths
	kindFile                     // opened by path: a file or a FIFO
	kindStream                   // SOCK_STREAM socket
	kindDgram                    // SOCK_DGRAM socket
)

// WASI filetypes (fd_fdstat_get, fd_filestat_get).
const (
	filetypeUnknown      = 0
	filetypeCharDevice   = 2
	filetypeDirectory    = 3
	filetypeSocketDgram  = 5
	filetypeSocketStream = 6
)

// WASI fdflags.
const (
	fdflagAppend   = 0x1
	fdflagDsync    = 0x2
	fdflagNonblock = 0x4
	fdflagRsync    = 0x8
	fdflagSync     = 0x10
)

func (k fdKind) filetype() uint8 {
	switch k {
	case kindStdin, kindStdout, kindStderr:
		return filetypeCharDevice
	case kindDir:
		return filetypeDirectory
	case kindStream:
		return filetypeSocketStream
	case kindDgram:
		return filetypeSocketDgram
	}
	// A file opened by path may be a regular file or a FIFO: the protocol
	// has no stat, and WASI has no FIFO type. Say so rather than guess.
	return filetypeUnknown
}

func (k fdKind) socket() bool { return k == kindStream || k == kindDgram }

// fdEntry is one guest descriptor.
type fdEntry struct {
	kind fdKind
	// host is the tzposix descriptor behind it, -1 for stdio and the root.
	host int
	// path is, for directories, where they are in the TA's root ("/" for
	// the root), for resolving paths relative to them.
	path string
	// preopen marks the preopened root: fd_prestat_get reports it.
	preopen bool
	// flags are the WASI fdflags in force (APPEND, NONBLOCK).
	flags uint16
	// name is the path a file was opened at, for log lines.
	name string
}

// maxFDs bounds the guest's table. The shadow enforces the TA's real
// limit on host descriptors; this only keeps a runaway guest from growing
// the table without end.
const maxFDs = 1 << 17

// fdTable maps guest descriptors (indexes) to entries; nil is a free slot.
// Numbers are allocated lowest-free first, as POSIX does.
type fdTable struct {
	fds []*fdEntry
}

func (t *fdTable) get(fd uint32) (*fdEntry, errno) {
	if uint64(fd) >= uint64(len(t.fds)) || t.fds[fd] == nil {
		return nil, errnoBadf
	}
	return t.fds[fd], errnoSuccess
}

// add stores e under the lowest free number.
func (t *fdTable) add(e *fdEntry) (uint32, errno) {
	for i, x := range t.fds {
		if x == nil {
			t.fds[i] = e
			return uint32(i), errnoSuccess
		}
	}
	if len(t.fds) >= maxFDs {
		return 0, errnoMfile
	}
	t.fds = append(t.fds, e)
	return uint32(len(t.fds) - 1), errnoSuccess
}

func (t *fdTable) remove(fd uint32) {
	if uint64(fd) < uint64(len(t.fds)) {
		t.fds[fd] = nil
	}
	for len(t.fds) > 0 && t.fds[len(t.fds)-1] == nil {
		t.fds = t.fds[:len(t.fds)-1]
	}
}

// set puts e at fd, which must be within the table or just past it.
func (t *fdTable) set(fd uint32, e *fdEntry) {
	for uint64(len(t.fds)) <= uint64(fd) {
		t.fds = append(t.fds, nil)
	}
	t.fds[fd] = e
}
