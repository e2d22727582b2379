package linuxtee

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/tzmediator/tzbridge/teeclient"
)

// The tests read and write the ioctl buffers at offsets spelled out from
// <linux/tee.h> here, independently of the package's own constants.
const (
	hdrOpen   = 56 // sizeof(struct tee_ioctl_open_session_arg)
	hdrInvoke = 24 // sizeof(struct tee_ioctl_invoke_arg)
)

type wireParam struct{ attr, a, b, c uint64 }

func readWire(buf []byte, hdr, i int) wireParam {
	p := buf[hdr+32*i:]
	return wireParam{ne.Uint64(p[0:]), ne.Uint64(p[8:]), ne.Uint64(p[16:]), ne.Uint64(p[24:])}
}

func writeWire(buf []byte, hdr, i int, w wireParam) {
	p := buf[hdr+32*i:]
	ne.PutUint64(p[0:], w.attr)
	ne.PutUint64(p[8:], w.a)
	ne.PutUint64(p[16:], w.b)
	ne.PutUint64(p[24:], w.c)
}

const allCaps = teeclient.CapGP | teeclient.CapRegMem | teeclient.CapMemrefNull

// paramCases covers every raw parameter type: what goes on the wire, what
// a kernel writes back (including fields it must not be trusted with), and
// what the caller then sees.
var paramCases = []struct {
	name    string
	caps    teeclient.Capabilities
	in      teeclient.RawParam
	wantErr bool
	wire    wireParam // as sent
	kernel  wireParam // as the kernel leaves the slot
	want    teeclient.RawParam
}{
	{
		name:   "none: nothing sent, nothing read",
		in:     teeclient.RawParam{Attr: teeclient.AttrNone, A: 1, B: 2, C: 3},
		wire:   wireParam{0, 0, 0, 0},
		kernel: wireParam{0, 9, 9, 9},
		want:   teeclient.RawParam{Attr: teeclient.AttrNone, A: 1, B: 2, C: 3},
	},
	{
		name:   "value input: not read back",
		in:     teeclient.RawParam{Attr: teeclient.AttrValueInput, A: 10, B: 20},
		wire:   wireParam{1, 10, 20, 0},
		kernel: wireParam{1, 99, 99, 99},
		want:   teeclient.RawParam{Attr: teeclient.AttrValueInput, A: 10, B: 20},
	},
	{
		name:   "value output: a, b, c read back",
		in:     teeclient.RawParam{Attr: teeclient.AttrValueOutput},
		wire:   wireParam{2, 0, 0, 0},
		kernel: wireParam{2, 7, 8, 9},
		want:   teeclient.RawParam{Attr: teeclient.AttrValueOutput, A: 7, B: 8, C: 9},
	},
	{
		name:   "value inout",
		in:     teeclient.RawParam{Attr: teeclient.AttrValueInout, A: 1, B: 2},
		wire:   wireParam{3, 1, 2, 0},
		kernel: wireParam{3, 4, 5, 6},
		want:   teeclient.RawParam{Attr: teeclient.AttrValueInout, A: 4, B: 5, C: 6},
	},
	{
		name:   "value attr rewritten by kernel is ignored",
		in:     teeclient.RawParam{Attr: teeclient.AttrValueInput, A: 1},
		wire:   wireParam{1, 1, 0, 0},
		kernel: wireParam{3, 4, 5, 6},
		want:   teeclient.RawParam{Attr: teeclient.AttrValueInput, A: 1},
	},
	{
		name:   "memref input: size not read back",
		in:     teeclient.RawParam{Attr: teeclient.AttrMemrefInput, A: 16, B: 32, C: 3},
		wire:   wireParam{5, 16, 32, 3},
		kernel: wireParam{5, 1, 1000, 2},
		want:   teeclient.RawParam{Attr: teeclient.AttrMemrefInput, A: 16, B: 32, C: 3},
	},
	{
		name:   "memref output: only the size read back",
		in:     teeclient.RawParam{Attr: teeclient.AttrMemrefOutput, B: 64, C: 3},
		wire:   wireParam{6, 0, 64, 3},
		kernel: wireParam{6, 77, 10, 88},
		want:   teeclient.RawParam{Attr: teeclient.AttrMemrefOutput, B: 10, C: 3},
	},
	{
		name:   "memref inout",
		in:     teeclient.RawParam{Attr: teeclient.AttrMemrefInout, A: 8, B: 64, C: 1},
		wire:   wireParam{7, 8, 64, 1},
		kernel: wireParam{7, 8, 60, 1},
		want:   teeclient.RawParam{Attr: teeclient.AttrMemrefInout, A: 8, B: 60, C: 1},
	},
	{
		name:   "memref output size larger than the buffer is reported as is",
		in:     teeclient.RawParam{Attr: teeclient.AttrMemrefOutput, B: 16, C: 3},
		wire:   wireParam{6, 0, 16, 3},
		kernel: wireParam{6, 0, 4096, 3},
		want:   teeclient.RawParam{Attr: teeclient.AttrMemrefOutput, B: 4096, C: 3},
	},
	{
		name:   "memref output size of 2^64-1",
		in:     teeclient.RawParam{Attr: teeclient.AttrMemrefInout, B: 16, C: 3},
		wire:   wireParam{7, 0, 16, 3},
		kernel: wireParam{7, 0, math.MaxUint64, 3},
		want:   teeclient.RawParam{Attr: teeclient.AttrMemrefInout, B: math.MaxUint64, C: 3},
	},
	{
		name:   "largest shared memory id",
		in:     teeclient.RawParam{Attr: teeclient.AttrMemrefInput, B: 1, C: math.MaxInt32},
		wire:   wireParam{5, 0, 1, math.MaxInt32},
		kernel: wireParam{5, 0, 1, math.MaxInt32},
		want:   teeclient.RawParam{Attr: teeclient.AttrMemrefInput, B: 1, C: math.MaxInt32},
	},
	{
		name:   "null memref with the capability",
		caps:   allCaps,
		in:     teeclient.RawParam{Attr: teeclient.AttrMemrefOutput, B: 32, C: teeclient.MemrefNull},
		wire:   wireParam{6, 0, 32, math.MaxUint64},
		kernel: wireParam{6, 0, 48, math.MaxUint64},
		want:   teeclient.RawParam{Attr: teeclient.AttrMemrefOutput, B: 48, C: teeclient.MemrefNull},
	},
	{
		name:    "null memref without the capability",
		caps:    teeclient.CapGP | teeclient.CapRegMem,
		in:      teeclient.RawParam{Attr: teeclient.AttrMemrefInput, B: 32, C: teeclient.MemrefNull},
		wantErr: true,
	},
	{
		name:    "null memref with an offset",
		caps:    allCaps,
		in:      teeclient.RawParam{Attr: teeclient.AttrMemrefInput, A: 4, B: 32, C: teeclient.MemrefNull},
		wantErr: true,
	},
	{
		name:    "shared memory id the kernel would truncate",
		in:      teeclient.RawParam{Attr: teeclient.AttrMemrefInput, B: 1, C: 1<<32 | 1},
		wantErr: true,
	},
	{
		name:    "offset + size wraps",
		in:      teeclient.RawParam{Attr: teeclient.AttrMemrefInout, A: math.MaxUint64 - 3, B: 8, C: 1},
		wantErr: true,
	},
	{name: "META bit", in: teeclient.RawParam{Attr: attrMeta | teeclient.AttrValueInput}, wantErr: true},
	{name: "META alone", in: teeclient.RawParam{Attr: attrMeta}, wantErr: true},
	{name: "type 4 (unassigned)", in: teeclient.RawParam{Attr: 4}, wantErr: true},
	{name: "type 8 (unassigned)", in: teeclient.RawParam{Attr: 8}, wantErr: true},
	{name: "type 0xff", in: teeclient.RawParam{Attr: 0xff}, wantErr: true},
	{name: "GP type MEMREF_WHOLE (0xc) is not raw", in: teeclient.RawParam{Attr: 0xc, C: 1}, wantErr: true},
	{name: "high bit", in: teeclient.RawParam{Attr: 1<<63 | teeclient.AttrValueInput}, wantErr: true},
}

func TestCodecParams(t *testing.T) {
	for _, tc := range paramCases {
		for _, slot := range []int{0, 3} {
			caps := tc.caps
			if caps == 0 {
				caps = teeclient.CapGP
			}
			t.Run(fmt.Sprintf("%s/invoke/slot%d", tc.name, slot), func(t *testing.T) {
				a := &teeclient.InvokeArgs{Session: 0x1234, Func: 0x55, CancelID: 9}
				a.Params[slot] = tc.in
				buf := make([]byte, invokeBufSize)
				err := encodeInvoke(buf, a, caps)
				checkEncode(t, err, tc.wantErr, buf)
				if err != nil {
					return
				}
				if got := readWire(buf, hdrInvoke, slot); got != tc.wire {
					t.Errorf("wire = %+v, want %+v", got, tc.wire)
				}
				writeWire(buf, hdrInvoke, slot, tc.kernel)
				ne.PutUint32(buf[12:], uint32(teeclient.ErrorShortBuffer))
				ne.PutUint32(buf[16:], uint32(teeclient.OriginTrustedApp))
				decodeInvoke(buf, a)
				if a.Params[slot] != tc.want {
					t.Errorf("decoded %+v, want %+v", a.Params[slot], tc.want)
				}
				if a.Ret != teeclient.ErrorShortBuffer || a.Origin != teeclient.OriginTrustedApp {
					t.Errorf("ret/origin = %v/%v", a.Ret, a.Origin)
				}
			})
			t.Run(fmt.Sprintf("%s/open/slot%d", tc.name, slot), func(t *testing.T) {
				a := &teeclient.OpenArgs{Login: teeclient.LoginPublic}
				a.Params[slot] = tc.in
				buf := make([]byte, openBufSize)
				err := encodeOpen(buf, a, caps)
				checkEncode(t, err, tc.wantErr, buf)
				if err != nil {
					return
				}
				if got := readWire(buf, hdrOpen, slot); got != tc.wire {
					t.Errorf("wire = %+v, want %+v", got, tc.wire)
				}
				writeWire(buf, hdrOpen, slot, tc.kernel)
				decodeOpen(buf, a)
				if a.Params[slot] != tc.want {
					t.Errorf("decoded %+v, want %+v", a.Params[slot], tc.want)
				}
			})
		}
	}
}

// checkEncode wants a refused parameter to be a GP BAD_PARAMETERS error
// of origin API, with nothing written to the buffer.
func checkEncode(t *testing.T, err error, wantErr bool, buf []byte) {
	t.Helper()
	if !wantErr {
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		return
	}
	var e *teeclient.Error
	if !errors.As(err, &e) || e.Code != teeclient.ErrorBadParameters || e.Origin != teeclient.OriginAPI {
		t.Fatalf("encode error = %v, want BAD_PARAMETERS from the API", err)
	}
	if !bytes.Equal(buf, make([]byte, len(buf))) {
		t.Errorf("buffer written although the request was refused")
	}
}

func TestEncodeInvokeHeader(t *testing.T) {
	a := &teeclient.InvokeArgs{Session: 0x01020304, Func: 0xa0b0c0d0, CancelID: 0x77}
	buf := make([]byte, invokeBufSize)
	for i := range buf {
		buf[i] = 0xee // stale bytes must not survive
	}
	if err := encodeInvoke(buf, a, teeclient.CapGP); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		off  int
		want uint32
	}{
		{"func", 0, 0xa0b0c0d0}, {"session", 4, 0x01020304}, {"cancel_id", 8, 0x77},
		{"ret", 12, 0}, {"ret_origin", 16, 0}, {"num_params", 20, 4},
	} {
		if got := ne.Uint32(buf[f.off:]); got != f.want {
			t.Errorf("%s = %#x, want %#x", f.name, got, f.want)
		}
	}
	if len(buf) != 24+4*32 {
		t.Errorf("buffer of %d bytes", len(buf))
	}
	for i := range 4 {
		if w := readWire(buf, hdrInvoke, i); w != (wireParam{}) {
			t.Errorf("param %d = %+v, want zero", i, w)
		}
	}
}

func TestEncodeOpenHeader(t *testing.T) {
	a := &teeclient.OpenArgs{
		UUID:       teeclient.MustParseUUID("8aaaf200-2450-11e4-abe2-0002a5d5c51b"),
		Login:      teeclient.LoginGroup,
		ClientUUID: [16]byte{0xe8, 0x03}, // gid 1000
		CancelID:   5,
	}
	buf := make([]byte, openBufSize)
	if err := encodeOpen(buf, a, teeclient.CapGP); err != nil {
		t.Fatal(err)
	}
	wantUUID := []byte{0x8a, 0xaa, 0xf2, 0x00, 0x24, 0x50, 0x11, 0xe4, 0xab, 0xe2, 0x00, 0x02, 0xa5, 0xd5, 0xc5, 0x1b}
	if !bytes.Equal(buf[0:16], wantUUID) {
		t.Errorf("uuid = %x, want %x", buf[0:16], wantUUID)
	}
	if !bytes.Equal(buf[16:32], a.ClientUUID[:]) {
		t.Errorf("clnt_uuid = %x", buf[16:32])
	}
	for _, f := range []struct {
		name string
		off  int
		want uint32
	}{
		{"clnt_login", 32, 2}, {"cancel_id", 36, 5}, {"session", 40, 0},
		{"ret", 44, 0}, {"ret_origin", 48, 0}, {"num_params", 52, 4},
	} {
		if got := ne.Uint32(buf[f.off:]); got != f.want {
			t.Errorf("%s = %#x, want %#x", f.name, got, f.want)
		}
	}

	ne.PutUint32(buf[40:], 0x42)
	ne.PutUint32(buf[44:], uint32(teeclient.ErrorItemNotFound))
	ne.PutUint32(buf[48:], uint32(teeclient.OriginTEE))
	decodeOpen(buf, a)
	if a.Session != 0x42 || a.Ret != teeclient.ErrorItemNotFound || a.Origin != teeclient.OriginTEE {
		t.Errorf("decoded session %#x ret %v origin %v", a.Session, a.Ret, a.Origin)
	}
}

func TestEncodeOpenRejectsUnknownLogin(t *testing.T) {
	for _, login := range []teeclient.LoginMethod{3, 7, 0x80000000} {
		buf := make([]byte, openBufSize)
		err := encodeOpen(buf, &teeclient.OpenArgs{Login: login}, allCaps)
		checkEncode(t, err, true, buf)
	}
}

func TestEncodeRejectsWrongBufferSize(t *testing.T) {
	if err := encodeInvoke(make([]byte, invokeBufSize-1), &teeclient.InvokeArgs{}, allCaps); err == nil {
		t.Error("encodeInvoke accepted a short buffer")
	}
	if err := encodeOpen(make([]byte, openBufSize+32), &teeclient.OpenArgs{}, allCaps); err == nil {
		t.Error("encodeOpen accepted a long buffer")
	}
}

func TestFixedArguments(t *testing.T) {
	b := encodeShmAlloc(4096)
	if len(b) != 16 || ne.Uint64(b[0:]) != 4096 || ne.Uint32(b[8:]) != 0 {
		t.Errorf("shm_alloc = %x", b)
	}
	ne.PutUint64(b[0:], 8192)
	ne.PutUint32(b[12:], 0xfffffffe)
	if size, id := decodeShmAlloc(b); size != 8192 || id != -2 {
		t.Errorf("decodeShmAlloc = %d, %d", size, id)
	}

	b = encodeShmRegister(0x7f0000001003, 100)
	if len(b) != 24 || ne.Uint64(b[0:]) != 0x7f0000001003 || ne.Uint64(b[8:]) != 100 || ne.Uint32(b[16:]) != 0 {
		t.Errorf("shm_register = %x", b)
	}
	ne.PutUint32(b[20:], 17)
	if id := decodeShmRegister(b); id != 17 {
		t.Errorf("decodeShmRegister = %d", id)
	}

	b = encodeCancel(0x10, 0x20)
	if len(b) != 8 || ne.Uint32(b[0:]) != 0x20 || ne.Uint32(b[4:]) != 0x10 {
		t.Errorf("cancel = %x", b)
	}
	b = encodeCloseSession(0x30)
	if len(b) != 4 || ne.Uint32(b[0:]) != 0x30 {
		t.Errorf("close_session = %x", b)
	}

	v := make([]byte, 12)
	ne.PutUint32(v[0:], 1)
	ne.PutUint32(v[4:], 1)
	ne.PutUint32(v[8:], 0xd)
	if got := decodeVersion(v); got != (teeclient.Version{ImplID: 1, ImplCaps: 1, GenCaps: 0xd}) {
		t.Errorf("decodeVersion = %+v", got)
	}
}
