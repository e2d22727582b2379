package teeclient

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Context is a connection to one TEE (TEEC_Context).
type Context struct {
	backend  Backend
	version  Version
	cancelID atomic.Uint32
	closed   atomic.Bool
}

// NewContext returns a Context that talks to the TEE through b
// (TEEC_InitializeContext). The Context owns b and closes it in Close.
func NewContext(b Backend) *Context {
	return &Context{backend: b, version: b.Version()}
}

// Version describes the TEE behind the context.
func (c *Context) Version() Version { return c.version }

// Close finalizes the context (TEEC_FinalizeContext). Sessions and shared
// memory still open belong to the TEE connection and go with it.
func (c *Context) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	if err := c.backend.Close(); err != nil {
		return fmt.Errorf("teeclient: close: %w", err)
	}
	return nil
}

func (c *Context) nextCancelID() uint32 {
	// Zero means "no cancel id" to the Linux driver, so skip it.
	for {
		if id := c.cancelID.Add(1); id != 0 {
			return id
		}
	}
}

// SharedMemFlags says which way a shared block's data flows
// (TEEC_MEM_INPUT, TEEC_MEM_OUTPUT).
type SharedMemFlags uint32

// Shared memory flags.
const (
	MemInput  SharedMemFlags = 1 << 0
	MemOutput SharedMemFlags = 1 << 1
)

// SharedMemory is a block of memory both worlds see (TEEC_SharedMemory).
// Buffer is the memory in this process: write inputs there and read outputs
// from there.
type SharedMemory struct {
	Buffer []byte
	Flags  SharedMemFlags

	mem SharedMem
	// bounce is set when Buffer is caller memory the backend could not
	// register: mem is then an allocated block the same size, and the data
	// a call references is copied in before and out after it.
	bounce bool
	ctx    *Context
}

// AllocateSharedMemory allocates size bytes that both worlds share without
// copies (TEEC_AllocateSharedMemory).
func (c *Context) AllocateSharedMemory(size int, flags SharedMemFlags) (*SharedMemory, error) {
	if size < 0 || flags&^(MemInput|MemOutput) != 0 || flags == 0 {
		return nil, &Error{Op: "AllocateSharedMemory", Code: ErrorBadParameters, Origin: OriginAPI}
	}
	mem, err := c.backend.AllocSharedMemory(size)
	if err != nil {
		return nil, commsError("AllocateSharedMemory", err)
	}
	return &SharedMemory{Buffer: mem.Bytes()[:size], Flags: flags, mem: mem, ctx: c}, nil
}

// RegisterSharedMemory makes buf usable as shared memory
// (TEEC_RegisterSharedMemory). Where the backend cannot share caller memory
// in place (the simulator, a driver without registered-memory support), the
// block is backed by allocated shared memory and the referenced bytes are
// copied at each call, as libteec does.
func (c *Context) RegisterSharedMemory(buf []byte, flags SharedMemFlags) (*SharedMemory, error) {
	if flags&^(MemInput|MemOutput) != 0 || flags == 0 {
		return nil, &Error{Op: "RegisterSharedMemory", Code: ErrorBadParameters, Origin: OriginAPI}
	}
	mem, err := c.backend.RegisterSharedMemory(buf)
	if err == nil {
		return &SharedMemory{Buffer: buf, Flags: flags, mem: mem, ctx: c}, nil
	}
	if !errors.Is(err, ErrRegisterUnsupported) {
		return nil, commsError("RegisterSharedMemory", err)
	}
	mem, err = c.backend.AllocSharedMemory(len(buf))
	if err != nil {
		return nil, commsError("RegisterSharedMemory", err)
	}
	return &SharedMemory{Buffer: buf, Flags: flags, mem: mem, bounce: true, ctx: c}, nil
}

// Release gives the block back (TEEC_ReleaseSharedMemory). It must not be
// referenced by an operation in progress.
func (m *SharedMemory) Release() error {
	if m.mem == nil {
		return nil
	}
	err := m.mem.Release()
	m.mem = nil
	if err != nil {
		return fmt.Errorf("teeclient: release shared memory: %w", err)
	}
	return nil
}

// Operation is the payload of an OpenSession or InvokeCommand
// (TEEC_Operation). An Operation carries one call at a time and may be
// reused for the next one.
type Operation struct {
	Params [NumParams]Parameter

	mu        sync.Mutex
	cancelled bool               // Cancel came while no call was in progress
	stop      context.CancelFunc // cancels the call in progress; nil when idle
}

// Cancel requests cancellation of the operation (TEEC_RequestCancellation).
// A call in progress is asked to stop; the TA decides whether it honours the
// request. An operation cancelled before it starts fails with ErrorCancel
// without reaching the TEE. Either way the request is spent on that one
// call: a later call with the same Operation runs normally.
func (op *Operation) Cancel() {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.stop != nil {
		op.stop()
		return
	}
	op.cancelled = true
}

// begin starts a call with op and returns its context, which op.Cancel
// cancels; the backend turns that into a cancellation request to the TEE.
// It reports false, spending the request, when op was cancelled or ctx is
// done before the call started.
func (op *Operation) begin(ctx context.Context) (context.Context, bool) {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.cancelled || ctx.Err() != nil {
		op.cancelled = false
		return nil, false
	}
	ctx, op.stop = context.WithCancel(ctx)
	return ctx, true
}

func (op *Operation) end() {
	op.mu.Lock()
	op.stop()
	op.stop = nil
	op.mu.Unlock()
}

// Session is an open session with a TA (TEEC_Session).
type Session struct {
	ctx    *Context
	id     uint32
	closed atomic.Bool
}

// ID is the TEE's session number.
func (s *Session) ID() uint32 { return s.id }

// OpenSession opens a session with the TA named by uuid (TEEC_OpenSession).
// For LoginGroup and LoginGroupApplication, connData is the group id; it is
// ignored otherwise. op may be nil. ctx cancellation requests cancellation
// of the open, like op.Cancel; a ctx already done fails with ErrorCancel
// without reaching the TEE.
func (c *Context) OpenSession(ctx context.Context, uuid UUID, login LoginMethod, connData uint32, op *Operation) (*Session, error) {
	const name = "OpenSession"
	if !login.Valid() {
		return nil, &Error{Op: name, Code: ErrorBadParameters, Origin: OriginAPI, Err: fmt.Errorf("unknown login method %v", login)}
	}
	if op == nil {
		op = &Operation{}
	}
	a := OpenArgs{UUID: uuid, Login: login}
	if login == LoginGroup || login == LoginGroupApplication {
		// The kernel reads the gid in the machine's byte order.
		binary.NativeEndian.PutUint32(a.ClientUUID[:4], connData)
	}
	callCtx, ok := op.begin(ctx)
	if !ok {
		return nil, &Error{Op: name, Code: ErrorCancel, Origin: OriginAPI}
	}
	defer op.end()
	a.CancelID = c.nextCancelID()
	call, err := c.prepare(op, &a.Params)
	if err != nil {
		return nil, withOp(name, err)
	}
	defer call.release()
	if callCtx.Err() != nil { // cancelled while the parameters were prepared
		return nil, &Error{Op: name, Code: ErrorCancel, Origin: OriginAPI}
	}
	if err := c.backend.OpenSession(callCtx, &a); err != nil {
		return nil, commsError(name, err)
	}
	call.finish(op, &a.Params, a.Ret)
	if a.Ret != Success {
		return nil, &Error{Op: name, Code: a.Ret, Origin: a.Origin}
	}
	return &Session{ctx: c, id: a.Session}, nil
}

// InvokeCommand invokes command cmd of the session's TA
// (TEEC_InvokeCommand). op may be nil. ctx cancellation requests
// cancellation of the call, like op.Cancel; a ctx already done fails with
// ErrorCancel without reaching the TEE.
func (s *Session) InvokeCommand(ctx context.Context, cmd uint32, op *Operation) error {
	const name = "InvokeCommand"
	if s.closed.Load() {
		return &Error{Op: name, Code: ErrorBadState, Origin: OriginAPI, Err: errors.New("session closed")}
	}
	if op == nil {
		op = &Operation{}
	}
	c := s.ctx
	callCtx, ok := op.begin(ctx)
	if !ok {
		return &Error{Op: name, Code: ErrorCancel, Origin: OriginAPI}
	}
	defer op.end()
	a := InvokeArgs{Session: s.id, Func: cmd, CancelID: c.nextCancelID()}
	call, err := c.prepare(op, &a.Params)
	if err != nil {
		return withOp(name, err)
	}
	defer call.release()
	if callCtx.Err() != nil { // cancelled while the parameters were prepared
		return &Error{Op: name, Code: ErrorCancel, Origin: OriginAPI}
	}
	if err := c.backend.Invoke(callCtx, &a); err != nil {
		return commsError(name, err)
	}
	call.finish(op, &a.Params, a.Ret)
	if a.Ret != Success {
		return &Error{Op: name, Code: a.Ret, Origin: a.Origin}
	}
	return nil
}

// Close closes the session (TEEC_CloseSession). Calls still in progress on
// it are cancelled by the TEE.
func (s *Session) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if err := s.ctx.backend.CloseSession(s.id); err != nil {
		return commsError("CloseSession", err)
	}
	return nil
}

func commsError(op string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		if e.Op == "" {
			e.Op = op
		}
		return e
	}
	return &Error{Op: op, Code: ErrorCommunication, Origin: OriginComms, Err: err}
}

func withOp(op string, err error) error {
	var e *Error
	if errors.As(err, &e) && e.Op == "" {
		e.Op = op
	}
	return err
}
