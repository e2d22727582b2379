//go:build linux

package linuxtee

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/teeclient"
)

// DefaultDir is where Discover looks for TEE devices.
const DefaultDir = "/dev"

// Device is an open /dev/teeN: a teeclient.Backend. Its methods are safe
// for concurrent use; a blocked OpenSession or Invoke does not hold up
// other calls.
type Device struct {
	path    string
	file    *os.File // owns the descriptor: no reuse while an ioctl runs
	conn    syscall.RawConn
	k       kernel
	version teeclient.Version
}

var _ teeclient.Backend = (*Device)(nil)

// openError is a device that could not be opened: a message that tells
// people what to do, and the cause for errors.Is.
type openError struct {
	msg string
	err error
}

func (e *openError) Error() string { return e.msg }
func (e *openError) Unwrap() error { return e.err }

const simHint = "Use `tee: sim` to run on the built-in simulator"

// Open opens the TEE device at path (e.g. /dev/tee0) and checks that it
// is a GlobalPlatform TEE. A missing device gives an error that wraps
// fs.ErrNotExist; a refused one wraps fs.ErrPermission.
func Open(path string) (*Device, error) { return openWith(path, sysKernel{}) }

func openWith(path string, k kernel) (*Device, error) {
	if strings.HasPrefix(filepath.Base(path), "teepriv") {
		// Opening the supplicant's device while tee-supplicant is not
		// running would make this process the supplicant.
		return nil, fmt.Errorf("linuxtee: %s is tee-supplicant's device; clients use /dev/teeN", path)
	}
	f, err := k.open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &openError{
			msg: fmt.Sprintf("no TEE device at %s: is the OP-TEE driver loaded (optee module)? %s", path, simHint),
			err: err,
		}
	case errors.Is(err, fs.ErrPermission):
		return nil, &openError{
			msg: fmt.Sprintf("permission denied opening TEE device %s: run as root or as a member of the group that owns it (OP-TEE's udev rules use teeclnt)", path),
			err: err,
		}
	case err != nil:
		return nil, fmt.Errorf("linuxtee: open TEE device: %w", err)
	}
	d, err := newDevice(path, f, k)
	if err != nil {
		f.Close()
		return nil, err
	}
	return d, nil
}

func newDevice(path string, f *os.File, k kernel) (*Device, error) {
	conn, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("linuxtee: %s: %w", path, err)
	}
	d := &Device{path: path, file: f, conn: conn, k: k}
	b := make([]byte, versionSize)
	if _, err := d.ioctl(iocVersion, b); err != nil {
		return nil, fmt.Errorf("linuxtee: %s is not a TEE device: TEE_IOC_VERSION: %w", path, err)
	}
	d.version = decodeVersion(b)
	if d.version.GenCaps&teeclient.CapGP == 0 {
		return nil, fmt.Errorf("linuxtee: %s is not a GlobalPlatform TEE: %s reports gen caps %s without GP",
			path, implLabel(d.version.ImplID), FormatGenCaps(d.version.GenCaps))
	}
	return d, nil
}

func implLabel(id uint32) string { return fmt.Sprintf("%s (impl id %d)", ImplName(id), id) }

// Discover returns the first GP-capable TEE device in /dev and what it
// reports. See DiscoverIn.
func Discover() (path string, v teeclient.Version, err error) {
	return DiscoverIn(DefaultDir)
}

// DiscoverIn returns the first of dir/tee0, dir/tee1, … (in numeric order)
// that opens and reports the GP capability, and what it reports; the
// device is closed again. The supplicant's teepriv devices are never
// opened. When there is no teeN at all the error wraps fs.ErrNotExist.
func DiscoverIn(dir string) (path string, v teeclient.Version, err error) {
	return discoverWith(dir, sysKernel{})
}

func discoverWith(dir string, k kernel) (string, teeclient.Version, error) {
	paths, err := candidates(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", teeclient.Version{}, fmt.Errorf("linuxtee: look for TEE devices: %w", err)
	}
	if len(paths) == 0 {
		return "", teeclient.Version{}, &openError{
			msg: fmt.Sprintf("no TEE device in %s (looked for tee[0-9]*): is the OP-TEE driver loaded (optee module)? %s", dir, simHint),
			err: fs.ErrNotExist,
		}
	}
	var errs []error
	for _, p := range paths {
		d, err := openWith(p, k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		v := d.Version()
		if err := d.Close(); err != nil {
			return "", teeclient.Version{}, err
		}
		return p, v, nil
	}
	return "", teeclient.Version{}, fmt.Errorf("linuxtee: no usable TEE device in %s: %w", dir, errors.Join(errs...))
}

// candidates lists dir/teeN in numeric order (tee2 before tee10).
func candidates(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	type cand struct {
		n    uint64
		path string
	}
	var cs []cand
	for _, e := range entries {
		digits, ok := strings.CutPrefix(e.Name(), "tee")
		if !ok || digits == "" {
			continue
		}
		n, perr := strconv.ParseUint(digits, 10, 32)
		if perr != nil || strconv.FormatUint(n, 10) != digits {
			continue // teepriv0, tee0x, tee01
		}
		cs = append(cs, cand{n, filepath.Join(dir, e.Name())})
	}
	slices.SortFunc(cs, func(a, b cand) int { return cmp.Compare(a.n, b.n) })
	paths := make([]string, len(cs))
	for i, c := range cs {
		paths[i] = c.path
	}
	return paths, err
}

// Path is the device's file name.
func (d *Device) Path() string { return d.path }

// Version is what the device reported when it was opened.
func (d *Device) Version() teeclient.Version { return d.version }

// Close closes the device. Sessions and shared memory still open go with
// the connection; a call still in progress finishes first in the kernel.
func (d *Device) Close() error {
	if err := d.file.Close(); err != nil {
		return fmt.Errorf("linuxtee: close %s: %w", d.path, err)
	}
	return nil
}

// ioctl runs one request on the device's descriptor. RawConn.Control
// holds a reference to it meanwhile, so a concurrent Close cannot let the
// number be reused under a blocked call.
func (d *Device) ioctl(req uint32, arg []byte) (r int, err error) {
	cerr := d.conn.Control(func(fd uintptr) { r, err = d.k.ioctl(fd, req, arg) })
	if cerr != nil {
		return -1, cerr
	}
	return r, err
}

// call is ioctl with its failure as a GP error.
func (d *Device) call(req uint32, arg []byte) (int, error) {
	r, err := d.ioctl(req, arg)
	if err != nil {
		return r, commsError(err, "%s on %s", iocName(req), d.path)
	}
	return r, nil
}

// cancelled is the answer to a request whose context ended before it was
// sent: like a GP operation cancelled before it started, it never reaches
// the TEE.
func cancelled(ret *teeclient.Result, origin *teeclient.Origin) {
	*ret, *origin = teeclient.ErrorCancel, teeclient.OriginAPI
}

// watch asks the TEE to cancel (session, cancelID) if ctx ends while the
// request runs; the returned stop must be called when it is over.
func (d *Device) watch(ctx context.Context, session, cancelID uint32) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		// Best effort, as in libteec: a failed cancel changes nothing
		// the blocked caller could act on.
		_ = d.Cancel(session, cancelID)
	})
}

// interruptEvery paces the signals that end an open waiting for
// tee-supplicant once its context has ended (see OpenSession).
const interruptEvery = 100 * time.Millisecond

// OpenSession opens a session (TEE_IOC_OPEN_SESSION) and fills in
// a.Session, a.Ret, a.Origin and the output parameters. Cancellation by
// ctx uses a.CancelID with session 0, as the session has no number yet.
//
// An open can also wait in the kernel for tee-supplicant, which loads the
// TA for OP-TEE: with no supplicant running it waits for ever, and
// TEE_IOC_CANCEL does not reach it (OP-TEE waits in an RPC to the normal
// world). Linux's OP-TEE driver ends that wait, when no supplicant is
// there, if the waiting thread has a signal pending (optee_supp_thrd_req):
// so the call runs on a locked thread, and once ctx ends that thread is
// sent a signal every interruptEvery until the call returns. The open then
// fails (TEEC_ERROR_COMMUNICATION from the driver, or what OP-TEE makes of
// it). With a supplicant present the driver keeps waiting for it, which
// then answers.
func (d *Device) OpenSession(ctx context.Context, a *teeclient.OpenArgs) error {
	if ctx.Err() != nil {
		cancelled(&a.Ret, &a.Origin)
		return nil
	}
	buf := make([]byte, openBufSize)
	if err := encodeOpen(buf, a, d.version.GenCaps); err != nil {
		return err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()
	returned := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = d.Cancel(0, a.CancelID) // best effort, as in watch
		t := time.NewTicker(interruptEvery)
		defer t.Stop()
		for {
			_ = d.k.interrupt(tid)
			select {
			case <-returned:
				return
			case <-t.C:
			}
		}
	})
	_, err := d.call(iocOpenSession, buf)
	close(returned)
	stop()
	if err != nil {
		return err
	}
	decodeOpen(buf, a)
	return nil
}

// Invoke invokes a command (TEE_IOC_INVOKE) and fills in a.Ret, a.Origin
// and the output parameters.
func (d *Device) Invoke(ctx context.Context, a *teeclient.InvokeArgs) error {
	if ctx.Err() != nil {
		cancelled(&a.Ret, &a.Origin)
		return nil
	}
	buf := make([]byte, invokeBufSize)
	if err := encodeInvoke(buf, a, d.version.GenCaps); err != nil {
		return err
	}
	stop := d.watch(ctx, a.Session, a.CancelID)
	_, err := d.call(iocInvoke, buf)
	stop()
	if err != nil {
		return err
	}
	decodeInvoke(buf, a)
	return nil
}

// Cancel asks the TEE to cancel the request with cancelID on session
// (TEE_IOC_CANCEL). With cancelID 0 it cancels by session, as libteec does.
func (d *Device) Cancel(session, cancelID uint32) error {
	_, err := d.call(iocCancel, encodeCancel(session, cancelID))
	return err
}

// CloseSession closes a session (TEE_IOC_CLOSE_SESSION).
func (d *Device) CloseSession(session uint32) error {
	_, err := d.call(iocCloseSession, encodeCloseSession(session))
	return err
}
