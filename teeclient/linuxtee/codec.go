package linuxtee

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/tzmediator/tzbridge/teeclient"
)

// The codec turns teeclient's raw requests into the byte images the TEE
// ioctls take and back. It is pure: no device, no pointers, so every rule
// is testable on a plain byte slice. The kernel reads the images in the
// machine's own byte order.

var ne = binary.NativeEndian

// badParam is a request this package refuses to send: the caller's
// mistake, caught before the kernel, hence origin API.
func badParam(format string, args ...any) *teeclient.Error {
	return &teeclient.Error{Code: teeclient.ErrorBadParameters, Origin: teeclient.OriginAPI, Err: fmt.Errorf(format, args...)}
}

// checkParam reports whether p is something a client may send: a known
// type and no other attribute bit; for memrefs, a shared memory id the
// kernel will not truncate, a null memref only where the TEE supports it,
// and an offset+size that does not wrap.
func checkParam(i int, p teeclient.RawParam, caps teeclient.Capabilities) error {
	a := p.Attr
	switch {
	case a&^attrMask != 0:
		return badParam("param %d: attribute %#x has unknown bits", i, uint64(a))
	case a&attrMeta != 0:
		return badParam("param %d: attribute %#x has the META bit, which only tee-supplicant uses", i, uint64(a))
	case a == teeclient.AttrNone, a.IsValue():
		return nil
	case !a.IsMemref():
		return badParam("param %d: unknown parameter type %#x", i, uint64(a))
	}
	if p.C == teeclient.MemrefNull {
		if caps&teeclient.CapMemrefNull == 0 {
			return badParam("param %d: null memref, but the TEE lacks TEE_GEN_CAP_MEMREF_NULL", i)
		}
		if p.A != 0 {
			return badParam("param %d: null memref with offset %d", i, p.A)
		}
		return nil
	}
	// The kernel looks the id up as an int: a larger value would be
	// truncated into some other shared memory's id.
	if p.C > math.MaxInt32 {
		return badParam("param %d: shared memory id %d out of range", i, p.C)
	}
	if p.A+p.B < p.A {
		return badParam("param %d: offset %d + size %d overflows", i, p.A, p.B)
	}
	return nil
}

// encodeParams checks p and writes it to dst, numParams × paramSize bytes.
// Nothing is written unless every parameter is valid.
func encodeParams(dst []byte, p *[numParams]teeclient.RawParam, caps teeclient.Capabilities) error {
	for i := range p {
		if err := checkParam(i, p[i], caps); err != nil {
			return err
		}
	}
	for i := range p {
		b := dst[i*paramSize : (i+1)*paramSize]
		r := p[i]
		if r.Attr == teeclient.AttrNone {
			r = teeclient.RawParam{} // nothing of an unused slot reaches the TEE
		}
		ne.PutUint64(b[offParamAttr:], uint64(r.Attr))
		ne.PutUint64(b[offParamA:], r.A)
		ne.PutUint64(b[offParamB:], r.B)
		ne.PutUint64(b[offParamC:], r.C)
	}
	return nil
}

// decodeParams copies back what the kernel returns, as it returns it:
// a, b and c of value outputs, the size (b) of memref outputs. Which
// fields are read depends on the type that was sent, never on what the
// buffer says now. A memref size may exceed the buffer (SHORT_BUFFER): it
// is reported as is, for the core to bound.
func decodeParams(src []byte, p *[numParams]teeclient.RawParam) {
	for i := range p {
		b := src[i*paramSize : (i+1)*paramSize]
		switch p[i].Attr {
		case teeclient.AttrValueOutput, teeclient.AttrValueInout:
			p[i].A = ne.Uint64(b[offParamA:])
			p[i].B = ne.Uint64(b[offParamB:])
			p[i].C = ne.Uint64(b[offParamC:])
		case teeclient.AttrMemrefOutput, teeclient.AttrMemrefInout:
			p[i].B = ne.Uint64(b[offParamB:])
		}
	}
}

// encodeOpen fills buf (openBufSize bytes) for TEE_IOC_OPEN_SESSION.
func encodeOpen(buf []byte, a *teeclient.OpenArgs, caps teeclient.Capabilities) error {
	if len(buf) != openBufSize {
		return fmt.Errorf("linuxtee: open-session buffer of %d bytes, want %d", len(buf), openBufSize)
	}
	if !a.Login.Valid() {
		return badParam("unknown login method %v", a.Login)
	}
	if err := encodeParams(buf[openArgSize:], &a.Params, caps); err != nil {
		return err
	}
	copy(buf[offOpenUUID:offOpenUUID+16], a.UUID[:])
	copy(buf[offOpenClntUUID:offOpenClntUUID+16], a.ClientUUID[:])
	ne.PutUint32(buf[offOpenClntLogin:], uint32(a.Login))
	ne.PutUint32(buf[offOpenCancelID:], a.CancelID)
	ne.PutUint32(buf[offOpenSession:], 0)
	ne.PutUint32(buf[offOpenRet:], 0)
	ne.PutUint32(buf[offOpenRetOrigin:], 0)
	ne.PutUint32(buf[offOpenNumParams:], numParams)
	return nil
}

// decodeOpen copies the kernel's answer from buf into a.
func decodeOpen(buf []byte, a *teeclient.OpenArgs) {
	a.Session = ne.Uint32(buf[offOpenSession:])
	a.Ret = teeclient.Result(ne.Uint32(buf[offOpenRet:]))
	a.Origin = teeclient.Origin(ne.Uint32(buf[offOpenRetOrigin:]))
	decodeParams(buf[openArgSize:], &a.Params)
}

// encodeInvoke fills buf (invokeBufSize bytes) for TEE_IOC_INVOKE.
func encodeInvoke(buf []byte, a *teeclient.InvokeArgs, caps teeclient.Capabilities) error {
	if len(buf) != invokeBufSize {
		return fmt.Errorf("linuxtee: invoke buffer of %d bytes, want %d", len(buf), invokeBufSize)
	}
	if err := encodeParams(buf[invokeArgSize:], &a.Params, caps); err != nil {
		return err
	}
	ne.PutUint32(buf[offInvokeFunc:], a.Func)
	ne.PutUint32(buf[offInvokeSession:], a.Session)
	ne.PutUint32(buf[offInvokeCancelID:], a.CancelID)
	ne.PutUint32(buf[offInvokeRet:], 0)
	ne.PutUint32(buf[offInvokeRetOrigin:], 0)
	ne.PutUint32(buf[offInvokeNumParams:], numParams)
	return nil
}

// decodeInvoke copies the kernel's answer from buf into a.
func decodeInvoke(buf []byte, a *teeclient.InvokeArgs) {
	a.Ret = teeclient.Result(ne.Uint32(buf[offInvokeRet:]))
	a.Origin = teeclient.Origin(ne.Uint32(buf[offInvokeRetOrigin:]))
	decodeParams(buf[invokeArgSize:], &a.Params)
}

func decodeVersion(b []byte) teeclient.Version {
	return teeclient.Version{
		ImplID:   ne.Uint32(b[offVersionImplID:]),
		ImplCaps: ne.Uint32(b[offVersionImplCaps:]),
		GenCaps:  teeclient.Capabilities(ne.Uint32(b[offVersionGenCaps:])),
	}
}

func encodeShmAlloc(size uint64) []byte {
	b := make([]byte, shmAllocSize)
	ne.PutUint64(b[offShmAllocSize:], size)
	ne.PutUint32(b[offShmAllocFlags:], 0) // the kernel accepts no flags
	ne.PutUint32(b[offShmAllocID:], 0)
	return b
}

// decodeShmAlloc returns the size the kernel allocated and the id.
func decodeShmAlloc(b []byte) (size uint64, id int32) {
	return ne.Uint64(b[offShmAllocSize:]), int32(ne.Uint32(b[offShmAllocID:]))
}

func encodeShmRegister(addr, length uint64) []byte {
	b := make([]byte, shmRegisterSize)
	ne.PutUint64(b[offShmRegisterAddr:], addr)
	ne.PutUint64(b[offShmRegisterLength:], length)
	ne.PutUint32(b[offShmRegisterFlags:], 0) // the kernel accepts no flags
	ne.PutUint32(b[offShmRegisterID:], 0)
	return b
}

func decodeShmRegister(b []byte) (id int32) {
	return int32(ne.Uint32(b[offShmRegisterID:]))
}

func encodeCancel(session, cancelID uint32) []byte {
	b := make([]byte, cancelSize)
	ne.PutUint32(b[offCancelCancelID:], cancelID)
	ne.PutUint32(b[offCancelSession:], session)
	return b
}

func encodeCloseSession(session uint32) []byte {
	b := make([]byte, closeSessionSize)
	ne.PutUint32(b[offCloseSession:], session)
	return b
}
