package wasm

// A minimal WebAssembly binary writer for tests: modules with imported
// functions, one memory, data segments and a _start body, small enough to
// write by hand without a toolchain.

// wimport is an imported function.
type wimport struct {
	module, name    string
	params, results []byte // value types: vI32, vI64
}

type wdata struct {
	offset uint32
	bytes  []byte
}

// wmod is a command module: imports, memory "memory", and "_start".
type wmod struct {
	imports  []wimport
	memPages uint32
	memMax   uint32 // 0: no maximum
	data     []wdata
	start    []byte // _start's instructions, without the final end
}

const (
	vI32 = 0x7f
	vI64 = 0x7e
)

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func wname(s string) []byte { return append(uleb(uint64(len(s))), s...) }

func wvec(items ...[]byte) []byte {
	b := uleb(uint64(len(items)))
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

func section(id byte, body []byte) []byte {
	return append(append([]byte{id}, uleb(uint64(len(body)))...), body...)
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// Instructions.
func i32c(v int32) []byte  { return cat([]byte{0x41}, sleb(int64(v))) }
func i64c(v int64) []byte  { return cat([]byte{0x42}, sleb(v)) }
func call(f uint32) []byte { return cat([]byte{0x10}, uleb(uint64(f))) }

var (
	opDrop        = []byte{0x1a}
	opUnreachable = []byte{0x00}
	opI32Eq       = []byte{0x46}
	opMemGrow     = []byte{0x40, 0x00}
	opElse        = []byte{0x05}
	opEnd         = []byte{0x0b}
)

func loopForever() []byte { return []byte{0x03, 0x40, 0x0c, 0x00, 0x0b} }
func ifThen() []byte      { return []byte{0x04, 0x40} }

func (m wmod) bytes() []byte {
	var types, imports [][]byte
	for i, im := range m.imports {
		types = append(types, cat([]byte{0x60}, wvec(bytesEach(im.params)...), wvec(bytesEach(im.results)...)))
		imports = append(imports, cat(wname(im.module), wname(im.name), []byte{0x00}, uleb(uint64(i))))
	}
	startType := uint32(len(types))
	types = append(types, []byte{0x60, 0x00, 0x00})
	startIdx := uint32(len(m.imports))
	limits := cat([]byte{0x00}, uleb(uint64(m.memPages)))
	if m.memMax > 0 {
		limits = cat([]byte{0x01}, uleb(uint64(m.memPages)), uleb(uint64(m.memMax)))
	}
	body := cat([]byte{0x00}, m.start, opEnd) // no locals
	var data [][]byte
	for _, d := range m.data {
		data = append(data, cat([]byte{0x00}, i32c(int32(d.offset)), opEnd, uleb(uint64(len(d.bytes))), d.bytes))
	}
	out := cat([]byte("\x00asm\x01\x00\x00\x00"),
		section(1, wvec(types...)),
		section(2, wvec(imports...)),
		section(3, wvec(uleb(uint64(startType)))),
		section(5, wvec(limits)),
		section(7, wvec(
			cat(wname("memory"), []byte{0x02, 0x00}),
			cat(wname("_start"), []byte{0x00}, uleb(uint64(startIdx))),
		)),
		section(10, wvec(cat(uleb(uint64(len(body))), body))),
	)
	if len(data) > 0 {
		out = append(out, section(11, wvec(data...))...)
	}
	return out
}

func bytesEach(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

// Imports tests use, in this order where a module has them.
var (
	impProcExit = wimport{module: wasiModule, name: "proc_exit", params: []byte{vI32}}
	impFdWrite  = wimport{module: wasiModule, name: "fd_write", params: []byte{vI32, vI32, vI32, vI32}, results: []byte{vI32}}
)
