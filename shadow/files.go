package shadow

import (
	"context"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// hostAccess converts a tzrpc access mode (validated: not O_ACCMODE).
func hostAccess(acc int64) int {
	switch acc {
	case tzrpc.O_WRONLY:
		return unix.O_WRONLY
	case tzrpc.O_RDWR:
		return unix.O_RDWR
	}
	return unix.O_RDONLY
}

func (s *Shadow) open(ctx context.Context, path string, flags int64) result {
	if e := s.admit(false); e != 0 {
		return fail(e)
	}
	opath, e := s.resolve(path)
	if e == tzrpc.ENOENT && flags&tzrpc.O_CREAT != 0 {
		// Creating a regular file is what is refused, so a missing
		// directory on the way is still ENOENT.
		dir, _, pe := s.resolveParent(path, true)
		if pe != 0 {
			return fail(pe)
		}
		unix.Close(dir)
		return fail(tzrpc.EOPNOTSUPP)
	}
	if e != 0 {
		return fail(e)
	}
	// The O_PATH descriptor pins the object we checked: the open below
	// reaches it through the descriptor, not the path, so a rename in the
	// meantime cannot swap something else in.
	defer unix.Close(opath)
	if flags&(tzrpc.O_CREAT|tzrpc.O_EXCL) == tzrpc.O_CREAT|tzrpc.O_EXCL {
		return fail(tzrpc.EEXIST)
	}
	var st unix.Stat_t
	if err := unix.Fstat(opath, &st); err != nil {
		return fail(errno(err))
	}
	typ := st.Mode & unix.S_IFMT
	if flags&tzrpc.O_DIRECTORY != 0 && typ != unix.S_IFDIR {
		return fail(tzrpc.ENOTDIR)
	}
	acc := flags & tzrpc.O_ACCMODE
	d := desc{
		access:   acc,
		nonblock: flags&tzrpc.O_NONBLOCK != 0,
		append:   flags&tzrpc.O_APPEND != 0,
	}
	switch typ {
	case unix.S_IFDIR:
		if acc != tzrpc.O_RDONLY {
			return fail(tzrpc.EISDIR)
		}
		fd, err := unix.Openat(opath, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail(errno(err))
		}
		d.fd = fd
	case unix.S_IFIFO:
		fd, e := s.openFIFO(ctx, opath, acc, d.nonblock)
		if e != 0 {
			return fail(e)
		}
		d.fd, d.fifo = fd, true
	case unix.S_IFSOCK:
		return fail(tzrpc.ENXIO) // as open(2) of a socket; connect is the way in
	default:
		return fail(tzrpc.EOPNOTSUPP) // regular files and devices are no TA endpoints
	}
	return ok(s.fds.add(d))
}

// openFIFO opens the FIFO opath refers to. A blocking TA open waits, as
// POSIX says, for the other end; ctx cancellation ends the wait.
func (s *Shadow) openFIFO(ctx context.Context, opath int, acc int64, nonblock bool) (int, tzrpc.Errno) {
	path := procPath(opath, "")
	// Linux opens O_RDWR at once (POSIX leaves it undefined), and a
	// nonblocking TA open passes through: a writer without a reader gets
	// ENXIO.
	if nonblock || acc == tzrpc.O_RDWR {
		fd, err := openRetry(path, hostAccess(acc)|unix.O_NONBLOCK|unix.O_CLOEXEC)
		if err != nil {
			return -1, errno(err)
		}
		return fd, 0
	}
	fd, e := s.openFIFOBlocking(ctx, path, hostAccess(acc))
	if e != 0 {
		return -1, e
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, errno(err)
	}
	return fd, 0
}

func openRetry(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// openFIFOBlocking performs a blocking FIFO open, which no poll(2) can
// wait for, in a helper goroutine. On cancellation it releases the helper
// by opening the other end itself, nonblocking: a writer end succeeds once
// the helper's reader is waiting, a reader end always does.
func (s *Shadow) openFIFOBlocking(ctx context.Context, path string, acc int) (int, tzrpc.Errno) {
	if ctx.Err() != nil {
		return -1, errCancelled
	}
	type opened struct {
		fd  int
		err error
	}
	done := make(chan opened, 1)
	go func() {
		fd, err := openRetry(path, acc|unix.O_CLOEXEC)
		done <- opened{fd, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return -1, errno(r.err)
		}
		return r.fd, 0
	case <-ctx.Done():
	}
	peerFlags := unix.O_WRONLY | unix.O_NONBLOCK | unix.O_CLOEXEC
	if acc == unix.O_WRONLY {
		peerFlags = unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC
	}
	peer := -1
	retry := time.NewTicker(time.Millisecond)
	defer retry.Stop()
	for {
		if peer < 0 {
			// ENXIO until the helper's reader is registered; the peer is
			// held until the helper returns, so it cannot miss it.
			peer, _ = openRetry(path, peerFlags)
		}
		select {
		case r := <-done:
			if peer >= 0 {
				unix.Close(peer)
			}
			if r.err == nil {
				unix.Close(r.fd)
			}
			return -1, errCancelled
		case <-retry.C:
		}
	}
}

func (s *Shadow) close(vfd int64) result {
	fd, e := s.fds.remove(vfd)
	if e != 0 {
		return fail(e)
	}
	// Linux frees the descriptor even when close reports EINTR.
	if err := unix.Close(fd); err != nil && err != unix.EINTR {
		return fail(errno(err))
	}
	return ok(0)
}

func (s *Shadow) read(ctx context.Context, vfd int64, n int, out []byte) result {
	d, e := s.fds.get(vfd)
	if e != 0 {
		return fail(e)
	}
	if d.socket {
		return s.recvInto(ctx, d, n, 0, out)
	}
	buf := out[:n]
	for {
		m, err := unix.Read(d.fd, buf)
		if err == nil {
			s.bytesIn.Add(uint64(m))
			return result{ret: int64(m), plen: m}
		}
		if e := s.again(ctx, err, d.fd, unix.POLLIN, d.nonblock); e != 0 {
			return fail(e)
		}
	}
}

func (s *Shadow) write(ctx context.Context, vfd int64, data []byte) result {
	d, e := s.fds.get(vfd)
	if e != 0 {
		return fail(e)
	}
	if d.socket {
		// send, not write: MSG_NOSIGNAL keeps a closed peer from raising
		// SIGPIPE.
		return s.sendAll(ctx, d, d.nonblock, nil, data)
	}
	// A FIFO without readers raises SIGPIPE too, but Go ignores it for
	// descriptors other than 1 and 2, so write returns EPIPE.
	fd := d.fd
	return s.writeAll(ctx, fd, d.nonblock, data, func(b []byte) (int, error) { return unix.Write(fd, b) })
}

// writeAll gives data to put until all of it went, as a blocking write
// does (blocking returns early only on an error or cancellation, with the
// count written so far if any), or once for a nonblocking descriptor
// (partial writes and EAGAIN pass through).
func (s *Shadow) writeAll(ctx context.Context, fd int, nonblock bool, data []byte, put func([]byte) (int, error)) result {
	total := 0
	for {
		n, err := put(data[total:])
		if n > 0 {
			total += n
		}
		if err != nil {
			if e := s.again(ctx, err, fd, unix.POLLOUT, nonblock); e != 0 {
				return s.partialWrite(total, e)
			}
			continue
		}
		// n == 0 with data left would loop forever; report it short.
		if total == len(data) || nonblock || n == 0 {
			s.bytesOut.Add(uint64(total))
			return ok(int64(total))
		}
	}
}

// partialWrite reports a write that stopped on e: the bytes already
// written, if any, as POSIX says; otherwise e.
func (s *Shadow) partialWrite(total int, e tzrpc.Errno) result {
	if total == 0 {
		return fail(e)
	}
	s.bytesOut.Add(uint64(total))
	return ok(int64(total))
}

func (s *Shadow) fcntl(vfd, cmd, flags int64) result {
	d, e := s.fds.get(vfd)
	if e != 0 {
		return fail(e)
	}
	if cmd == tzrpc.F_GETFL {
		fl := d.access
		if d.nonblock {
			fl |= tzrpc.O_NONBLOCK
		}
		if d.append {
			fl |= tzrpc.O_APPEND
		}
		return ok(fl)
	}
	// F_SETFL changes only the TA's view: the host descriptor stays
	// nonblocking, and O_APPEND means nothing to a FIFO or socket.
	d.nonblock = flags&tzrpc.O_NONBLOCK != 0
	d.append = flags&tzrpc.O_APPEND != 0
	return ok(0)
}
