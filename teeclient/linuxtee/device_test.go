//go:build linux

package linuxtee

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/tzmediator/tzbridge/teeclient"
)

const simAdvice = "is the OP-TEE driver loaded (optee module)? Use `tee: sim` to run on the built-in simulator"

func TestOpenMissingDevice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tee0")
	_, err := Open(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(%s) = %v, want an error wrapping fs.ErrNotExist", path, err)
	}
	if want := "no TEE device at " + path + ": " + simAdvice; err.Error() != want {
		t.Errorf("error:\n %s\nwant:\n %s", err, want)
	}
}

func TestOpenDevTee0OnThisMachine(t *testing.T) {
	if _, err := os.Stat("/dev/tee0"); err == nil {
		t.Skip("this machine has /dev/tee0")
	}
	_, err := Open("/dev/tee0")
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != "no TEE device at /dev/tee0: "+simAdvice {
		t.Errorf("Open(/dev/tee0) = %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		setup   func(f *fakeTEE)
		is      error
		want    []string
		noOpens bool
	}{
		{
			name: "permission",
			path: "/dev/tee0",
			setup: func(f *fakeTEE) {
				f.openErr["tee0"] = &fs.PathError{Op: "open", Path: "/dev/tee0", Err: syscall.EACCES}
			},
			is:   fs.ErrPermission,
			want: []string{"permission denied", "/dev/tee0", "root"},
		},
		{
			name:  "not GP",
			path:  "/dev/tee0",
			setup: func(f *fakeTEE) { f.versions["tee0"] = teeclient.Version{ImplID: 2, GenCaps: teeclient.CapPrivileged} },
			want:  []string{"/dev/tee0 is not a GlobalPlatform TEE", "AMD-TEE (impl id 2)", "0x2 (PRIVILEGED)"},
		},
		{
			name:  "no VERSION",
			path:  "/dev/tee0",
			setup: func(f *fakeTEE) { f.fail[iocVersion] = syscall.ENOTTY },
			is:    syscall.ENOTTY,
			want:  []string{"/dev/tee0 is not a TEE device", "TEE_IOC_VERSION"},
		},
		{
			name:    "supplicant device",
			path:    "/dev/teepriv0",
			want:    []string{"tee-supplicant"},
			noOpens: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			d, err := openWith(tc.path, f)
			if err == nil {
				d.Close()
				t.Fatal("opened")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("%v does not wrap %v", err, tc.is)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
			if tc.noOpens && len(f.opened) != 0 {
				t.Errorf("opened %v", f.opened)
			}
		})
	}
}

func TestOpenRealKernelNotATEE(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tee0")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, os.DevNull} {
		_, err := Open(p)
		if !errors.Is(err, syscall.ENOTTY) || !strings.Contains(err.Error(), "is not a TEE device") {
			t.Errorf("Open(%s) = %v, want ENOTTY from TEE_IOC_VERSION", p, err)
		}
	}
}

// TestRealKernelIoctl drives the real ioctl path, buf_data wrapping and
// pinning included, against a descriptor that is not a TEE.
func TestRealKernelIoctl(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	k := sysKernel{}
	for _, req := range []uint32{iocVersion, iocInvoke, iocOpenSession, iocShmAlloc} {
		if _, err := k.ioctl(f.Fd(), req, make([]byte, openBufSize)); !errors.Is(err, syscall.ENOTTY) {
			t.Errorf("%s on /dev/null = %v, want ENOTTY", iocName(req), err)
		}
	}
	if _, err := k.ioctl(f.Fd(), iocVersion, nil); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("empty argument = %v, want EINVAL", err)
	}
}

func TestDiscover(t *testing.T) {
	touch := func(t *testing.T, dir string, names ...string) {
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	gp := teeclient.Version{ImplID: 1, GenCaps: teeclient.CapGP}
	notGP := teeclient.Version{ImplID: 1, GenCaps: teeclient.CapPrivileged}

	t.Run("empty dir", func(t *testing.T) {
		dir := t.TempDir()
		touch(t, dir, "teepriv0", "null")
		_, _, err := discoverWith(dir, newFake(t))
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no TEE device in "+dir) ||
			!strings.Contains(err.Error(), simAdvice) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("missing dir", func(t *testing.T) {
		_, _, err := DiscoverIn(filepath.Join(t.TempDir(), "nodev"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("first GP device in numeric order", func(t *testing.T) {
		dir := t.TempDir()
		touch(t, dir, "tee0", "tee10", "tee2", "tee3", "teepriv0", "teepriv1", "tee01", "teex", "tee")
		f := newFake(t)
		f.versions["tee0"] = notGP
		f.versions["tee2"] = gp
		f.versions["tee3"] = gp
		f.versions["tee10"] = gp
		path, v, err := discoverWith(dir, f)
		if err != nil {
			t.Fatal(err)
		}
		if path != filepath.Join(dir, "tee2") || v != gp {
			t.Errorf("got %s %+v", path, v)
		}
		if want := []string{"tee0", "tee2"}; !slices.Equal(f.opened, want) {
			t.Errorf("opened %v, want %v", f.opened, want)
		}
	})
	t.Run("none usable", func(t *testing.T) {
		dir := t.TempDir()
		touch(t, dir, "tee0", "tee1")
		f := newFake(t)
		f.openErr["tee0"] = &fs.PathError{Op: "open", Path: "tee0", Err: syscall.EACCES}
		f.versions["tee1"] = notGP
		_, _, err := discoverWith(dir, f)
		if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "not a GlobalPlatform TEE") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("this machine", func(t *testing.T) {
		if m, _ := filepath.Glob("/dev/tee[0-9]*"); len(m) > 0 {
			t.Skip("this machine has TEE devices")
		}
		_, _, err := Discover()
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no TEE device in /dev") {
			t.Errorf("Discover() = %v", err)
		}
	})
}

func TestDeviceVersion(t *testing.T) {
	d := newFake(t).device(t)
	if d.Version() != defaultVersion || d.Path() != "/dev/tee0" {
		t.Errorf("got %+v at %s", d.Version(), d.Path())
	}
}

func TestOpenSessionRoundTrip(t *testing.T) {
	f := newFake(t)
	d := f.device(t)
	uuid := teeclient.MustParseUUID("8aaaf200-2450-11e4-abe2-0002a5d5c51b")
	f.ta = func(req uint32, buf []byte) {
		if req != iocOpenSession {
			t.Errorf("request %#x", req)
		}
		if teeclient.UUID(buf[0:16]) != uuid || ne.Uint32(buf[32:]) != uint32(teeclient.LoginPublic) || ne.Uint32(buf[36:]) != 11 {
			t.Errorf("open arg %x", buf[:56])
		}
		p := buf[56+32:] // param 1, a value output
		ne.PutUint64(p[8:], 0xaa)
		ne.PutUint64(p[16:], 0xbb)
		ne.PutUint32(buf[40:], 0x42)
		ne.PutUint32(buf[44:], 0)
		ne.PutUint32(buf[48:], uint32(teeclient.OriginTrustedApp))
	}
	a := &teeclient.OpenArgs{UUID: uuid, Login: teeclient.LoginPublic, CancelID: 11}
	a.Params[0] = teeclient.RawParam{Attr: teeclient.AttrValueInput, A: 1}
	a.Params[1] = teeclient.RawParam{Attr: teeclient.AttrValueOutput}
	if err := d.OpenSession(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if a.Session != 0x42 || a.Ret != teeclient.Success || a.Origin != teeclient.OriginTrustedApp {
		t.Errorf("session %#x ret %v origin %v", a.Session, a.Ret, a.Origin)
	}
	if a.Params[1].A != 0xaa || a.Params[1].B != 0xbb {
		t.Errorf("value output %+v", a.Params[1])
	}
	if err := d.CloseSession(0x42); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.closes, []uint32{0x42}) {
		t.Errorf("closed sessions %v", f.closes)
	}
}

func TestInvokeRoundTrip(t *testing.T) {
	f := newFake(t)
	d := f.device(t)
	f.ta = func(req uint32, buf []byte) {
		if ne.Uint32(buf[0:]) != 7 || ne.Uint32(buf[4:]) != 3 || ne.Uint32(buf[8:]) != 12 {
			t.Errorf("invoke arg %x", buf[:24])
		}
		for i := range 4 {
			p := buf[24+32*i:]
			switch ne.Uint64(p[0:]) {
			case 3: // value inout: a+1, b+1, c=7
				ne.PutUint64(p[8:], ne.Uint64(p[8:])+1)
				ne.PutUint64(p[16:], ne.Uint64(p[16:])+1)
				ne.PutUint64(p[24:], 7)
			case 6, 7: // memref out: needs four times the room
				ne.PutUint64(p[16:], 4*ne.Uint64(p[16:]))
			case 5: // memref in: a driver that scribbles is not believed
				ne.PutUint64(p[16:], 1<<40)
			}
		}
		ne.PutUint32(buf[12:], uint32(teeclient.ErrorShortBuffer))
		ne.PutUint32(buf[16:], uint32(teeclient.OriginTrustedApp))
	}
	a := &teeclient.InvokeArgs{Session: 3, Func: 7, CancelID: 12}
	a.Params = [4]teeclient.RawParam{
		{Attr: teeclient.AttrValueInout, A: 1, B: 2},
		{Attr: teeclient.AttrMemrefInput, A: 0, B: 8, C: 1},
		{Attr: teeclient.AttrMemrefOutput, A: 16, B: 32, C: 1},
		{Attr: teeclient.AttrMemrefInout, B: 5, C: 2},
	}
	if err := d.Invoke(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	want := [4]teeclient.RawParam{
		{Attr: teeclient.AttrValueInout, A: 2, B: 3, C: 7},
		{Attr: teeclient.AttrMemrefInput, A: 0, B: 8, C: 1},
		{Attr: teeclient.AttrMemrefOutput, A: 16, B: 128, C: 1},
		{Attr: teeclient.AttrMemrefInout, B: 20, C: 2},
	}
	if a.Params != want || a.Ret != teeclient.ErrorShortBuffer || a.Origin != teeclient.OriginTrustedApp {
		t.Errorf("got %+v %v %v", a.Params, a.Ret, a.Origin)
	}
}

func TestRefusedParamsNeverReachTheKernel(t *testing.T) {
	f := newFake(t)
	f.versions["tee0"] = teeclient.Version{ImplID: 1, GenCaps: teeclient.CapGP} // no MEMREF_NULL
	d := f.device(t)
	a := &teeclient.InvokeArgs{Session: 1}
	a.Params[2] = teeclient.RawParam{Attr: teeclient.AttrMemrefInput, B: 4, C: teeclient.MemrefNull}
	err := d.Invoke(context.Background(), a)
	var e *teeclient.Error
	if !errors.As(err, &e) || e.Code != teeclient.ErrorBadParameters || e.Origin != teeclient.OriginAPI {
		t.Errorf("err = %v", err)
	}
	if slices.Contains(f.requests(), iocInvoke) {
		t.Error("the kernel saw the request")
	}
}

// TestIoctlFailures: every request's errno becomes a GP error of origin
// COMMS that still matches the errno.
func TestIoctlFailures(t *testing.T) {
	calls := []struct {
		req uint32
		do  func(d *Device) error
	}{
		{iocOpenSession, func(d *Device) error { return d.OpenSession(context.Background(), &teeclient.OpenArgs{}) }},
		{iocInvoke, func(d *Device) error { return d.Invoke(context.Background(), &teeclient.InvokeArgs{}) }},
		{iocCancel, func(d *Device) error { return d.Cancel(1, 2) }},
		{iocCloseSession, func(d *Device) error { return d.CloseSession(1) }},
		{iocShmAlloc, func(d *Device) error { _, err := d.AllocSharedMemory(64); return err }},
		{iocShmRegister, func(d *Device) error { _, err := d.RegisterSharedMemory(make([]byte, 64)); return err }},
	}
	errnos := []struct {
		errno syscall.Errno
		want  teeclient.Result
	}{
		{syscall.ENOMEM, teeclient.ErrorOutOfMemory},
		{syscall.EINVAL, teeclient.ErrorBadParameters},
		{syscall.EFAULT, teeclient.ErrorGeneric},
		{syscall.EBUSY, teeclient.ErrorGeneric},
		{syscall.EPERM, teeclient.ErrorGeneric},
	}
	for _, c := range calls {
		for _, en := range errnos {
			t.Run(iocName(c.req)+"/"+en.errno.Error(), func(t *testing.T) {
				f := newFake(t)
				d := f.device(t)
				f.fail[c.req] = en.errno
				err := c.do(d)
				var e *teeclient.Error
				if !errors.As(err, &e) || e.Code != en.want || e.Origin != teeclient.OriginComms || !errors.Is(err, en.errno) {
					t.Errorf("err = %v, want %v from COMMS wrapping %v", err, en.want, en.errno)
				}
				if err != nil && !strings.Contains(err.Error(), iocName(c.req)) {
					t.Errorf("%q does not name the request", err)
				}
			})
		}
	}
}

func TestContextCancelsBlockedCall(t *testing.T) {
	tests := []struct {
		name        string
		call        func(ctx context.Context, d *Device) (teeclient.Result, teeclient.Origin, error)
		wantSession uint32
	}{
		{"invoke", func(ctx context.Context, d *Device) (teeclient.Result, teeclient.Origin, error) {
			a := &teeclient.InvokeArgs{Session: 5, Func: 1, CancelID: 77}
			err := d.Invoke(ctx, a)
			return a.Ret, a.Origin, err
		}, 5},
		{"open session", func(ctx context.Context, d *Device) (teeclient.Result, teeclient.Origin, error) {
			a := &teeclient.OpenArgs{CancelID: 77}
			err := d.OpenSession(ctx, a)
			return a.Ret, a.Origin, err
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			d := f.device(t)
			entered := make(chan struct{})
			// The TA blocks until the TEE gets the cancel request, then
			// gives up as OP-TEE does.
			f.ta = func(req uint32, buf []byte) {
				close(entered)
				select {
				case got := <-f.cancels:
					if got != [2]uint32{tc.wantSession, 77} {
						t.Errorf("cancel for session %d id %d", got[0], got[1])
					}
				case <-time.After(time.Minute): // a safety net against hanging, not a timing check
					t.Error("no cancel request reached the TEE")
				}
				off := map[uint32]int{iocOpenSession: 44, iocInvoke: 12}[req]
				ne.PutUint32(buf[off:], uint32(teeclient.ErrorCancel))
				ne.PutUint32(buf[off+4:], uint32(teeclient.OriginTEE))
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				<-entered
				cancel()
			}()
			ret, origin, err := tc.call(ctx, d)
			if err != nil || ret != teeclient.ErrorCancel || origin != teeclient.OriginTEE {
				t.Errorf("got %v %v %v", ret, origin, err)
			}
		})
	}
}

func TestContextDoneBeforeCall(t *testing.T) {
	f := newFake(t)
	d := f.device(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a := &teeclient.InvokeArgs{Session: 1}
	o := &teeclient.OpenArgs{}
	if err := d.Invoke(ctx, a); err != nil || a.Ret != teeclient.ErrorCancel || a.Origin != teeclient.OriginAPI {
		t.Errorf("invoke: %v %v %v", a.Ret, a.Origin, err)
	}
	if err := d.OpenSession(ctx, o); err != nil || o.Ret != teeclient.ErrorCancel || o.Origin != teeclient.OriginAPI {
		t.Errorf("open: %v %v %v", o.Ret, o.Origin, err)
	}
	if r := f.requests(); slices.Contains(r, iocInvoke) || slices.Contains(r, iocOpenSession) {
		t.Errorf("requests %x reached the kernel", r)
	}
}

func TestAllocSharedMemory(t *testing.T) {
	for _, tc := range []struct {
		size    int
		asked   uint64
		wantErr bool
	}{
		{size: 100, asked: 100},
		{size: 4096, asked: 4096},
		{size: 0, asked: 8},
		{size: -1, wantErr: true},
	} {
		f := newFake(t)
		d := f.device(t)
		m, err := d.AllocSharedMemory(tc.size)
		if tc.wantErr {
			if err == nil || len(f.allocs) != 0 {
				t.Errorf("size %d: err %v, allocs %v", tc.size, err, f.allocs)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(f.allocs, []uint64{tc.asked}) || len(m.Bytes()) != tc.size || cap(m.Bytes()) != tc.size || m.ID() != 1 {
			t.Errorf("size %d: asked %v, len %d cap %d, id %d", tc.size, f.allocs, len(m.Bytes()), cap(m.Bytes()), m.ID())
		}
		for range 2 {
			if err := m.Release(); err != nil {
				t.Fatal(err)
			}
		}
		if f.unmapped != 1 || !slices.Equal(f.closedFDs(), []int{1000}) || m.Bytes() != nil {
			t.Errorf("after release: unmapped %d, closed %v, bytes %v", f.unmapped, f.closedFDs(), m.Bytes())
		}
	}
}

func TestAllocSharedMemoryBadReply(t *testing.T) {
	f := newFake(t)
	f.badID = true
	d := f.device(t)
	if _, err := d.AllocSharedMemory(10); err == nil || !errors.Is(err, errBadReply) {
		t.Errorf("err = %v", err)
	}
	if !slices.Equal(f.closedFDs(), []int{1000}) {
		t.Errorf("descriptor not closed: %v", f.closedFDs())
	}
}

func TestRegisterSharedMemory(t *testing.T) {
	f := newFake(t)
	d := f.device(t)
	// An unaligned buffer: registered as is, offsets relative to it.
	backing := make([]byte, 3*4096)
	buf := backing[4093 : 4093+5000]
	m, err := d.RegisterSharedMemory(buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.regs) != 1 {
		t.Fatalf("registrations %v", f.regs)
	}
	r := f.regs[0]
	if r.addr != uint64(uintptr(unsafe.Pointer(&buf[0]))) || r.length != uint64(len(buf)) {
		t.Errorf("registered [%#x, +%d), want the buffer itself at %p, +%d", r.addr, r.length, &buf[0], len(buf))
	}
	b := m.Bytes()
	if len(b) != len(buf) || &b[0] != &buf[0] {
		t.Errorf("Bytes is not the caller's buffer")
	}
	if m.ID() != uint64(r.id) {
		t.Errorf("id %d, want %d", m.ID(), r.id)
	}
	for range 2 {
		if err := m.Release(); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(f.closedFDs(), []int{r.fd}) {
		t.Errorf("closed %v, want [%d]", f.closedFDs(), r.fd)
	}
}

func TestRegisterSharedMemoryUnsupported(t *testing.T) {
	tests := []struct {
		name  string
		caps  teeclient.Capabilities
		buf   []byte
		errno syscall.Errno
	}{
		{name: "no REG_MEM", caps: teeclient.CapGP, buf: make([]byte, 8)},
		{name: "empty buffer", caps: defaultVersion.GenCaps, buf: []byte{}},
		{name: "nil buffer", caps: defaultVersion.GenCaps},
		{name: "driver says ENOTSUPP", caps: defaultVersion.GenCaps, buf: make([]byte, 8), errno: 524},
		{name: "driver says EOPNOTSUPP", caps: defaultVersion.GenCaps, buf: make([]byte, 8), errno: syscall.EOPNOTSUPP},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.versions["tee0"] = teeclient.Version{ImplID: 1, GenCaps: tc.caps}
			if tc.errno != 0 {
				f.fail[iocShmRegister] = tc.errno
			}
			d := f.device(t)
			_, err := d.RegisterSharedMemory(tc.buf)
			if !errors.Is(err, teeclient.ErrRegisterUnsupported) {
				t.Errorf("err = %v, want ErrRegisterUnsupported", err)
			}
			if tc.errno != 0 && !errors.Is(err, tc.errno) {
				t.Errorf("err = %v lost %v", err, tc.errno)
			}
		})
	}

	f := newFake(t)
	f.fail[iocShmRegister] = syscall.ENOMEM
	_, err := f.device(t).RegisterSharedMemory(make([]byte, 8))
	if errors.Is(err, teeclient.ErrRegisterUnsupported) || !errors.Is(err, teeclient.ErrorOutOfMemory) {
		t.Errorf("ENOMEM: err = %v, want OUT_OF_MEMORY and no fallback", err)
	}
}

// TestLeakedRegistrationIsUnregistered: a registered block dropped
// without Release must not leave the TEE access to memory the GC reuses.
func TestLeakedRegistrationIsUnregistered(t *testing.T) {
	f := newFake(t)
	d := f.device(t)
	func() {
		if _, err := d.RegisterSharedMemory(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}()
	for range 500 {
		runtime.GC()
		if len(f.closedFDs()) == 1 {
			return
		}
		time.Sleep(time.Millisecond) // let the cleanup goroutine run
	}
	t.Error("leaked registration never unregistered")
}

func TestClosedDevice(t *testing.T) {
	f := newFake(t)
	d := f.device(t)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	n := len(f.requests())
	err := d.Invoke(context.Background(), &teeclient.InvokeArgs{})
	var e *teeclient.Error
	if !errors.As(err, &e) || e.Origin != teeclient.OriginComms {
		t.Errorf("invoke after close: %v", err)
	}
	if len(f.requests()) != n {
		t.Error("a request reached the kernel after Close")
	}
}

// TestCoreRegisteredMemrefOffsets runs a partial memref on registered,
// unaligned caller memory through the teeclient core: the offset the core
// computes reaches the kernel unchanged, and names bytes of the buffer
// that was registered from its first byte.
func TestCoreRegisteredMemrefOffsets(t *testing.T) {
	f := newFake(t)
	d := f.device(t)
	var got wireParam
	f.ta = func(req uint32, buf []byte) {
		if req == iocInvoke {
			got = readWire(buf, hdrInvoke, 0)
		}
		if req == iocOpenSession {
			ne.PutUint32(buf[40:], 9)
		}
	}
	c := teeclient.NewContext(d)
	backing := make([]byte, 8192)
	shm, err := c.RegisterSharedMemory(backing[100:1100], teeclient.MemInput|teeclient.MemOutput)
	if err != nil {
		t.Fatal(err)
	}
	defer shm.Release()
	s, err := c.OpenSession(context.Background(), teeclient.UUID{1}, teeclient.LoginPublic, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	op := &teeclient.Operation{}
	op.Params[0] = teeclient.PartialMemref(teeclient.MemrefPartialInout, shm, 5, 10)
	if err := s.InvokeCommand(context.Background(), 1, op); err != nil {
		t.Fatal(err)
	}
	r := f.regs[0]
	if r.addr != uint64(uintptr(unsafe.Pointer(&backing[100]))) || r.length != 1000 {
		t.Errorf("registered [%#x, +%d)", r.addr, r.length)
	}
	if want := (wireParam{uint64(teeclient.AttrMemrefInout), 5, 10, uint64(r.id)}); got != want {
		t.Errorf("memref on the wire %+v, want %+v", got, want)
	}
}
