package teeclient

import "fmt"

// call holds what one operation borrowed for its duration: temporary
// shared memory, and the copies a bounce-buffered block needs.
type call struct {
	temps  [NumParams]SharedMem
	bounce [NumParams]bounced
}

// bounced is a registered memref backed by a bounce buffer: the range the
// call passed, from which outputs are copied back.
type bounced struct {
	m         *SharedMemory
	off, size int
	out       bool
}

func (cl *call) release() {
	for i, m := range cl.temps {
		if m != nil {
			_ = m.Release() // nothing useful to do with a failure here
			cl.temps[i] = nil
		}
	}
}

func badParam(i int, format string, args ...any) error {
	return &Error{Code: ErrorBadParameters, Origin: OriginAPI, Err: fmt.Errorf("param %d: "+format, append([]any{i}, args...)...)}
}

// prepare converts op's GP parameters into raw ones, applying the GP Client
// API's rules: temporary memrefs get shared memory for the call, registered
// memrefs are checked against their parent's size and direction flags. On
// an error, what it borrowed is released.
func (c *Context) prepare(op *Operation, raw *[NumParams]RawParam) (*call, error) {
	cl := &call{}
	for i := range op.Params {
		if err := c.prepareParam(cl, i, &op.Params[i], &raw[i]); err != nil {
			cl.release()
			return nil, err
		}
	}
	return cl, nil
}

// prepareParam converts parameter i, p, into r, recording in cl what the
// call borrows for it.
func (c *Context) prepareParam(cl *call, i int, p *Parameter, r *RawParam) error {
	switch p.Type {
	case None:
		*r = RawParam{}
	case ValueInput, ValueOutput, ValueInout:
		*r = RawParam{Attr: Attr(p.Type), A: uint64(p.A), B: uint64(p.B)}
	case MemrefTempInput, MemrefTempOutput, MemrefTempInout:
		attr := Attr(p.Type) // the temp types share the raw memref numbering
		if p.Buffer == nil {
			if c.version.GenCaps&CapMemrefNull == 0 {
				return badParam(i, "null memref: the TEE does not support null memory references")
			}
			*r = RawParam{Attr: attr, B: uint64(p.Size), C: MemrefNull}
			return nil
		}
		if p.Size < 0 || p.Size > len(p.Buffer) {
			return badParam(i, "size %d outside buffer of %d bytes", p.Size, len(p.Buffer))
		}
		mem, err := c.tempMemory(p.Buffer[:p.Size], attr)
		if err != nil {
			return err
		}
		cl.temps[i] = mem
		*r = RawParam{Attr: attr, A: 0, B: uint64(p.Size), C: mem.ID()}
	case MemrefWhole, MemrefPartialInput, MemrefPartialOutput, MemrefPartialInout:
		return cl.registered(i, p, r)
	default:
		return badParam(i, "unknown parameter type %v", p.Type)
	}
	return nil
}

// registered converts registered memref i, p, into r, checking the range
// and direction against its shared memory.
func (cl *call) registered(i int, p *Parameter, r *RawParam) error {
	m := p.Parent
	if m == nil || m.mem == nil {
		return badParam(i, "%v without registered shared memory", p.Type)
	}
	off, size, attr := p.Offset, p.Size, Attr(0)
	switch p.Type {
	case MemrefWhole:
		off, size = 0, len(m.Buffer)
		switch m.Flags & (MemInput | MemOutput) {
		case MemInput:
			attr = AttrMemrefInput
		case MemOutput:
			attr = AttrMemrefOutput
		default:
			attr = AttrMemrefInout
		}
	case MemrefPartialInput:
		attr = AttrMemrefInput
	case MemrefPartialOutput:
		attr = AttrMemrefOutput
	case MemrefPartialInout:
		attr = AttrMemrefInout
	}
	if attr.In() && m.Flags&MemInput == 0 || attr.Out() && m.Flags&MemOutput == 0 {
		return badParam(i, "%v on shared memory registered without that direction", p.Type)
	}
	if off < 0 || size < 0 || off > len(m.Buffer) || size > len(m.Buffer)-off {
		return badParam(i, "offset %d + size %d outside shared memory of %d bytes", off, size, len(m.Buffer))
	}
	if m.bounce {
		cl.bounce[i] = bounced{m: m, off: off, size: size, out: attr.Out()}
		if attr.In() {
			copy(m.mem.Bytes()[off:off+size], m.Buffer[off:off+size])
		}
	}
	*r = RawParam{Attr: attr, A: uint64(off), B: uint64(size), C: m.mem.ID()}
	return nil
}

// tempMemory shares buf for one call: in place when the backend can
// register it, else through allocated memory and a copy.
func (c *Context) tempMemory(buf []byte, attr Attr) (SharedMem, error) {
	if len(buf) > 0 && c.version.GenCaps&CapRegMem != 0 {
		if mem, err := c.backend.RegisterSharedMemory(buf); err == nil {
			return mem, nil
		}
	}
	mem, err := c.backend.AllocSharedMemory(len(buf))
	if err != nil {
		return nil, &Error{Code: ErrorOutOfMemory, Origin: OriginAPI, Err: fmt.Errorf("temporary memref of %d bytes: %w", len(buf), err)}
	}
	if attr.In() {
		copy(mem.Bytes(), buf)
	}
	return mem, nil
}

// finish copies results back into op: output values on success, memref
// sizes on success or ErrorShortBuffer, and output bytes — never outside
// the range the call passed, whatever offset, size or type the TEE reports.
func (cl *call) finish(op *Operation, raw *[NumParams]RawParam, ret Result) {
	ok := ret == Success
	if !ok && ret != ErrorShortBuffer {
		return
	}
	for i := range op.Params {
		p, r := &op.Params[i], &raw[i]
		switch p.Type {
		case ValueOutput, ValueInout:
			if ok {
				p.A, p.B = uint32(r.A), uint32(r.B)
			}
		case MemrefTempOutput, MemrefTempInout:
			if ok && cl.temps[i] != nil && !sameMemory(cl.temps[i].Bytes(), p.Buffer) {
				copy(p.Buffer[:p.Size], cl.temps[i].Bytes()[:min(clampSize(r.B), p.Size)])
			}
			p.Size = clampSize(r.B)
		case MemrefTempInput:
			p.Size = clampSize(r.B)
		case MemrefWhole, MemrefPartialInput, MemrefPartialOutput, MemrefPartialInout:
			if b := cl.bounce[i]; b.m != nil && b.out && ok {
				end := b.off + min(clampSize(r.B), b.size)
				copy(b.m.Buffer[b.off:end], b.m.mem.Bytes()[b.off:end])
			}
			p.Size = clampSize(r.B)
		}
	}
}

// clampSize keeps a TEE-reported size representable; it is reported to the
// caller, never used to slice without a bound.
func clampSize(v uint64) int {
	const maxInt = int(^uint(0) >> 1)
	if v > uint64(maxInt) {
		return maxInt
	}
	return int(v)
}

func sameMemory(a, b []byte) bool {
	return len(a) > 0 && len(b) > 0 && &a[0] == &b[0]
}
