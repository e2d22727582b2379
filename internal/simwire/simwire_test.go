package simwire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/internal/simwire"
)

var le = binary.LittleEndian

var params = [gp.NumParams]gp.RawParam{
	{Attr: gp.AttrValueInout, A: 0x0102030405060708, B: 0x1112131415161718},
	{Attr: gp.AttrMemrefOutput, A: 16, B: 4096, C: 7},
	{Attr: gp.AttrMemrefInput, A: 0, B: 3, C: gp.MemrefNull},
	{},
}

var (
	uuid       = gp.MustParseUUID("8aaaf200-2450-11e4-abe2-0002a5d5c51b")
	clientUUID = [16]byte{0xe8, 0x03, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
)

// kindCases has a message of every kind carrying every field that kind
// carries, with the encoded size it must have.
func kindCases() []struct {
	m    simwire.Msg
	size int
} {
	base := []struct {
		m    simwire.Msg
		size int
	}{
		{simwire.Msg{Kind: simwire.KindShmAdd, Tag: 1, Size: 1 << 33, ShmID: 9}, 16 + 16},
		{simwire.Msg{Kind: simwire.KindShmRemove, Tag: 2, ShmID: 0xfeedfacecafebeef}, 16 + 8},
		{simwire.Msg{Kind: simwire.KindOpen, Tag: 3, UUID: uuid, Login: gp.LoginGroup, ClientUUID: clientUUID,
			CancelID: 77, Session: 5, Ret: gp.ErrorBusy, Origin: gp.OriginTEE, Params: params}, simwire.MaxSize},
		{simwire.Msg{Kind: simwire.KindInvoke, Tag: 4, Session: 5, Func: 0xdeadbeef, CancelID: 78,
			Ret: gp.ErrorShortBuffer, Origin: gp.OriginTrustedApp, Params: params}, 16 + 24 + 128},
		{simwire.Msg{Kind: simwire.KindCancel, Tag: 5, Session: 5, CancelID: 78}, 16 + 8},
		{simwire.Msg{Kind: simwire.KindClose, Tag: 0xffffffff, Session: 5}, 16 + 4},
	}
	var all []struct {
		m    simwire.Msg
		size int
	}
	for _, c := range base {
		req := c
		// A request carries no results.
		req.m.Ret, req.m.Origin = 0, 0
		all = append(all, req)
		rep := c
		rep.m.Kind |= simwire.ReplyBit
		all = append(all, rep)
		refused := rep
		refused.m.Status = 22 // EINVAL
		all = append(all, refused)
	}
	return all
}

func TestRoundTrip(t *testing.T) {
	for _, c := range kindCases() {
		t.Run(fmt.Sprintf("%v/status%d", c.m.Kind, c.m.Status), func(t *testing.T) {
			b := c.m.Append(nil)
			if len(b) != c.size {
				t.Fatalf("encoded %d bytes, want %d", len(b), c.size)
			}
			if len(b) > simwire.MaxSize {
				t.Fatalf("encoded %d bytes, more than MaxSize %d", len(b), simwire.MaxSize)
			}
			if k := simwire.Kind(le.Uint32(b)); k != c.m.Kind {
				t.Fatalf("kind on the wire %v", k)
			}
			got, err := simwire.Unmarshal(b)
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if got != c.m {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, c.m)
			}
			// Append appends.
			prefix := []byte("xyz")
			if b2 := c.m.Append(prefix); !bytes.Equal(b2[:3], prefix) || !bytes.Equal(b2[3:], b) {
				t.Error("Append does not append to its argument")
			}
		})
	}
}

// TestFieldsOfOtherKinds: a kind carries only its own fields.
func TestFieldsOfOtherKinds(t *testing.T) {
	for _, c := range kindCases() {
		m := c.m
		m.Size, m.ShmID, m.UUID, m.Login, m.ClientUUID = 1, 2, uuid, gp.LoginUser, clientUUID
		m.Session, m.Func, m.CancelID, m.Ret, m.Origin, m.Params = 3, 4, 5, gp.ErrorGeneric, gp.OriginAPI, params
		b := m.Append(nil)
		if len(b) != c.size {
			t.Errorf("%v with every field set: %d bytes, want %d", m.Kind, len(b), c.size)
		}
		got, err := simwire.Unmarshal(b)
		if err != nil {
			t.Fatalf("%v: %v", m.Kind, err)
		}
		if again := got.Append(nil); !bytes.Equal(again, b) {
			t.Errorf("%v: re-encoding differs", m.Kind)
		}
	}
}

func encode(m simwire.Msg) []byte { return m.Append(nil) }

func put32(b []byte, off int, v uint32) []byte {
	b = bytes.Clone(b)
	le.PutUint32(b[off:], v)
	return b
}

func put64(b []byte, off int, v uint64) []byte {
	b = bytes.Clone(b)
	le.PutUint64(b[off:], v)
	return b
}

func TestRejects(t *testing.T) {
	open := encode(simwire.Msg{Kind: simwire.KindOpen, UUID: uuid, Params: params})
	invoke := encode(simwire.Msg{Kind: simwire.KindInvoke, Session: 1, Params: params})
	cancel := encode(simwire.Msg{Kind: simwire.KindCancel, Session: 1, CancelID: 2})
	const hdr = 16
	const openParams, invokeParams = hdr + 52, hdr + 24

	type tc struct {
		name string
		b    []byte
	}
	var cases []tc
	for n := range hdr {
		cases = append(cases, tc{fmt.Sprintf("short %d", n), open[:n]})
	}
	cases = append(cases, tc{"nil", nil})
	for _, c := range kindCases() {
		b := c.m.Append(nil)
		cases = append(cases,
			tc{fmt.Sprintf("%v one byte short", c.m.Kind), b[:len(b)-1]},
			tc{fmt.Sprintf("%v one byte long", c.m.Kind), append(bytes.Clone(b), 0)},
			tc{fmt.Sprintf("%v header only", c.m.Kind), b[:hdr]},
			tc{fmt.Sprintf("%v reserved header field", c.m.Kind), put32(b, 12, 1)},
			tc{fmt.Sprintf("%v reserved header top bit", c.m.Kind), put32(b, 12, 1<<31)},
		)
		if c.m.Kind&simwire.ReplyBit == 0 {
			cases = append(cases, tc{fmt.Sprintf("%v status on a request", c.m.Kind), put32(b, 8, 1)})
		}
	}
	// One kind's header on another kind's body.
	cases = append(cases,
		tc{"open header, invoke body", put32(invoke, 0, uint32(simwire.KindOpen))},
		tc{"invoke header, open body", put32(open, 0, uint32(simwire.KindInvoke))},
		tc{"close header, cancel body", put32(cancel, 0, uint32(simwire.KindClose))},
		tc{"shm-add header, cancel body", put32(cancel, 0, uint32(simwire.KindShmAdd))},
		tc{"too long for any kind", append(bytes.Clone(open), make([]byte, 64)...)},
	)
	for _, k := range []uint32{0, 7, 8, 0x7f, 0x80, 0x87, 0xff, 0x100 | 3, 0x183, 1 << 31, 0xffffffff} {
		cases = append(cases, tc{fmt.Sprintf("kind %#x", k), put32(cancel, 0, k)})
	}
	cases = append(cases, tc{"invoke reserved field", put32(invoke, hdr+20, 1)})
	for i := range gp.NumParams {
		for _, attr := range []uint64{4, 8, 0xff, 0x100, 0x100 | 5, 1<<32 | 1, 1 << 63} {
			cases = append(cases,
				tc{fmt.Sprintf("open param %d attr %#x", i, attr), put64(open, openParams+32*i, attr)},
				tc{fmt.Sprintf("invoke param %d attr %#x", i, attr), put64(invoke, invokeParams+32*i, attr)},
			)
		}
	}
	for _, c := range cases {
		m, err := simwire.Unmarshal(c.b)
		if err == nil {
			t.Errorf("%s: accepted as %+v", c.name, m)
			continue
		}
		if !errors.Is(err, simwire.ErrMalformed) {
			t.Errorf("%s: error %v does not wrap ErrMalformed", c.name, err)
		}
	}

	// Sanity: the unmodified messages the cases derive from are accepted,
	// so each rejection above is due to its one change.
	for _, b := range [][]byte{open, invoke, cancel} {
		if _, err := simwire.Unmarshal(b); err != nil {
			t.Errorf("valid message rejected: %v", err)
		}
	}
	for _, attr := range []gp.Attr{gp.AttrNone, gp.AttrValueInput, gp.AttrValueOutput, gp.AttrValueInout,
		gp.AttrMemrefInput, gp.AttrMemrefOutput, gp.AttrMemrefInout} {
		if _, err := simwire.Unmarshal(put64(invoke, invokeParams+32*3, uint64(attr))); err != nil {
			t.Errorf("attr %d rejected: %v", attr, err)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[simwire.Kind]string{
		simwire.KindShmAdd:                    "shm-add",
		simwire.KindOpen:                      "open",
		simwire.KindClose | simwire.ReplyBit:  "close-reply",
		simwire.KindInvoke | simwire.ReplyBit: "invoke-reply",
		0:                                     "kind(0)",
		8:                                     "kind(8)",
		simwire.ReplyBit:                      "kind(128)",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint32(k), got, want)
		}
	}
}

// FuzzUnmarshal: Unmarshal never panics, rejects only with ErrMalformed,
// and whatever it accepts re-encodes to the very same bytes.
func FuzzUnmarshal(f *testing.F) {
	for _, c := range kindCases() {
		f.Add(c.m.Append(nil))
	}
	f.Add([]byte{})
	f.Add(make([]byte, simwire.MaxSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := simwire.Unmarshal(b)
		if err != nil {
			if !errors.Is(err, simwire.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(b) > simwire.MaxSize {
			t.Fatalf("accepted %d bytes, more than MaxSize", len(b))
		}
		again := m.Append(nil)
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n  in % x\n out % x", b, again)
		}
		m2, err := simwire.Unmarshal(again)
		if err != nil || m2 != m {
			t.Fatalf("second decode: %+v, %v; first %+v", m2, err, m)
		}
	})
}
