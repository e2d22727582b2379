package securesim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"

	"github.com/tzmediator/tzbridge/gp"
)

// Host runs TA instances and their sessions. It is transport-free: the
// Server drives it for clients on a socket, tests drive it directly.
type Host struct {
	log *slog.Logger

	mu sync.Mutex
	// defs are the TAs hosted; Define and Undefine change them while the
	// host runs (the supervisor's reload).
	defs     map[gp.UUID]Definition
	single   map[gp.UUID]*instance // live single-instance TAs
	sessions map[uint32]*session
	nextID   uint32

	// threads, if set (ThreadPerProgram), gives each program that asks
	// (OwnThread: a wasm TA's) a thread; OpenSession puts it in the
	// context the TA's program inherits.
	threads *threads
}

type instance struct {
	def Definition
	ta  TA
	// busy serialises entry points: a TA instance runs one call at a time,
	// as an OP-TEE user TA does. It is a channel so a waiter can give up.
	busy chan struct{}

	// Guarded by Host.mu.
	created   bool // Create succeeded, so Destroy is owed
	dead      bool
	nsessions int
}

type session struct {
	id     uint32
	owner  any
	inst   *instance
	state  any    // the TA's session context
	client Client // the identity the session was opened with
	// clientAny is client boxed once, for the context of each call: boxing
	// it per call would allocate.
	clientAny any

	mu       sync.Mutex
	closing  bool
	inflight map[*context.CancelFunc]struct{}
	calls    sync.WaitGroup
}

// NewHost returns a host for the given TAs.
func NewHost(defs []Definition, log *slog.Logger) (*Host, error) {
	h := &Host{
		log:      log,
		defs:     make(map[gp.UUID]Definition, len(defs)),
		single:   make(map[gp.UUID]*instance),
		sessions: make(map[uint32]*session),
	}
	for _, d := range defs {
		if d.New == nil {
			return nil, fmt.Errorf("securesim: TA %q (%v) has no constructor", d.Name, d.UUID)
		}
		if old, dup := h.defs[d.UUID]; dup {
			return nil, fmt.Errorf("securesim: TAs %q and %q share UUID %v", old.Name, d.Name, d.UUID)
		}
		h.defs[d.UUID] = d
	}
	return h, nil
}

// errPanicked tells a TA that panicked apart from one that returned an error.
var errPanicked = errors.New("TA panicked")

// call runs one entry point of inst with the instance's lock held. A panic
// kills the instance; ctx ends the wait for a busy instance.
func (h *Host) call(ctx context.Context, inst *instance, fn func()) error {
	select {
	case inst.busy <- struct{}{}:
		// An idle instance, the usual case, is taken without ctx.Done,
		// which would make ctx allocate its channel.
	default:
		select {
		case inst.busy <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return h.run(inst, fn)
}

// run is call for a caller that already holds the instance's lock; it
// releases it.
func (h *Host) run(inst *instance, fn func()) error {
	defer func() { <-inst.busy }()
	h.mu.Lock()
	dead := inst.dead
	h.mu.Unlock()
	if dead {
		return errPanicked
	}
	var panicked any
	func() {
		defer func() {
			if v := recover(); v != nil {
				panicked = v
				h.log.Error("TA panicked", "ta", inst.def.Name, "uuid", inst.def.UUID, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			}
		}()
		fn()
	}()
	if panicked == nil {
		return nil
	}
	h.kill(inst)
	return errPanicked
}

// kill marks inst dead: its sessions fail with TARGET_DEAD from now on and a
// new session gets a new instance, as after a TA panic in OP-TEE.
func (h *Host) kill(inst *instance) {
	h.mu.Lock()
	defer h.mu.Unlock()
	inst.dead = true
	if h.single[inst.def.UUID] == inst {
		delete(h.single, inst.def.UUID)
	}
}

// OpenSession opens a session with the TA uuid for owner.
func (h *Host) OpenSession(ctx context.Context, owner any, uuid gp.UUID, client Client, p *Params) (uint32, gp.Result, gp.Origin) {
	h.mu.Lock()
	def, ok := h.defs[uuid]
	h.mu.Unlock()
	if !ok {
		return 0, gp.ErrorItemNotFound, gp.OriginTEE
	}
	inst, created, r := h.instanceFor(def)
	if r != gp.Success {
		return 0, r, gp.OriginTEE
	}
	if created {
		// instanceFor handed over the new instance locked: sessions joining
		// it meanwhile wait for Create before they run anything.
		var cr gp.Result
		if err := h.run(inst, func() { cr = inst.ta.Create() }); err != nil {
			h.release(inst)
			r, o := deadOrCancel(err)
			return 0, r, o
		}
		if cr != gp.Success {
			// Sessions that joined meanwhile find the instance dead.
			h.kill(inst)
			h.release(inst)
			return 0, cr, gp.OriginTrustedApp
		}
		h.mu.Lock()
		inst.created = true
		h.mu.Unlock()
	}
	var state any
	var or gp.Result
	ctx = context.WithValue(ctx, clientKey{}, client)
	ctx = context.WithValue(ctx, loggerKey{}, h.log.With("ta", def.Name, "uuid", def.UUID))
	if h.threads != nil {
		ctx = context.WithValue(ctx, threadsKey{}, h.threads)
	}
	if err := h.call(ctx, inst, func() { state, or = inst.ta.OpenSession(ctx, p) }); err != nil {
		h.release(inst)
		r, o := deadOrCancel(err)
		return 0, r, o
	}
	if or != gp.Success {
		h.release(inst)
		return 0, or, gp.OriginTrustedApp
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextID++
	for h.nextID == 0 || h.sessions[h.nextID] != nil {
		h.nextID++
	}
	s := &session{id: h.nextID, owner: owner, inst: inst, state: state, client: client, clientAny: client, inflight: map[*context.CancelFunc]struct{}{}}
	h.sessions[s.id] = s
	return s.id, gp.Success, gp.OriginTrustedApp
}

// instanceFor finds or makes the instance a new session of def goes to, and
// counts the session in it. A new instance (created is true) is returned
// with its lock held, for the caller to run Create before anyone else.
func (h *Host) instanceFor(def Definition) (*instance, bool, gp.Result) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if def.Props.SingleInstance {
		if inst := h.single[def.UUID]; inst != nil {
			if inst.nsessions > 0 && !def.Props.MultiSession {
				return nil, false, gp.ErrorBusy
			}
			inst.nsessions++
			return inst, false, gp.Success
		}
	}
	inst := &instance{def: def, ta: def.New(), busy: make(chan struct{}, 1), nsessions: 1}
	inst.busy <- struct{}{} // cannot block: nobody else has seen inst
	if def.Props.SingleInstance {
		h.single[def.UUID] = inst
	}
	return inst, true, gp.Success
}

// release uncounts a session from inst and destroys the instance when it has
// none left and is not kept alive.
func (h *Host) release(inst *instance) {
	h.mu.Lock()
	inst.nsessions--
	last := inst.nsessions == 0 && inst.created && !inst.dead && !(inst.def.Props.SingleInstance && inst.def.Props.KeepAlive)
	if last && h.single[inst.def.UUID] == inst {
		delete(h.single, inst.def.UUID)
	}
	h.mu.Unlock()
	if last {
		// Destroy must not wait on a caller that is gone; it runs with the
		// instance lock like any entry point.
		_ = h.call(context.Background(), inst, inst.ta.Destroy)
	}
}

// deadOrCancel is the result of an entry point that did not run to the end.
func deadOrCancel(err error) (gp.Result, gp.Origin) {
	if errors.Is(err, errPanicked) {
		return gp.ErrorTargetDead, gp.OriginTEE
	}
	return gp.ErrorCancel, gp.OriginTEE
}

func (h *Host) lookup(owner any, id uint32) *session {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sessions[id]
	if s == nil || s.owner != owner {
		return nil
	}
	return s
}

// Invoke runs command cmd in session id. ctx is the client's call: its
// cancellation is the client's cancellation request.
func (h *Host) Invoke(ctx context.Context, owner any, id, cmd uint32, p *Params) (gp.Result, gp.Origin) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	return h.invoke(ctx, &cancel, owner, id, cmd, p)
}

// invoke is Invoke for a caller whose ctx is cancellable already: cancel
// cancels it, and closing the session calls it. The Server's calls have
// such a context (the one their cancel id names), which saves a second
// one per call on the hot path.
func (h *Host) invoke(ctx context.Context, cancel *context.CancelFunc, owner any, id, cmd uint32, p *Params) (gp.Result, gp.Origin) {
	s := h.lookup(owner, id)
	if s == nil {
		return gp.ErrorBadParameters, gp.OriginTEE
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return gp.ErrorBadState, gp.OriginTEE
	}
	s.inflight[cancel] = struct{}{}
	s.calls.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.inflight, cancel)
		s.mu.Unlock()
		s.calls.Done()
	}()

	ctx = context.WithValue(ctx, clientKey{}, s.clientAny)
	var r gp.Result
	if err := h.call(ctx, s.inst, func() { r = s.inst.ta.Invoke(ctx, s.state, cmd, p) }); err != nil {
		return deadOrCancel(err)
	}
	return r, gp.OriginTrustedApp
}

// CloseSession closes session id: calls in progress are cancelled and waited
// for, then the TA's CloseSession entry point runs.
func (h *Host) CloseSession(owner any, id uint32) bool {
	s := h.lookup(owner, id)
	if s == nil {
		return false
	}
	h.closeSession(s)
	return true
}

func (h *Host) closeSession(s *session) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.closing = true
	for c := range s.inflight {
		(*c)()
	}
	s.mu.Unlock()
	s.calls.Wait()

	h.mu.Lock()
	delete(h.sessions, s.id)
	h.mu.Unlock()
	// A dead instance runs no more entry points; call reports that.
	_ = h.call(context.Background(), s.inst, func() { s.inst.ta.CloseSession(s.state) })
	h.release(s.inst)
}

// CloseOwner closes every session of owner, as the kernel does when a
// process closes its TEE descriptor.
func (h *Host) CloseOwner(owner any) {
	h.mu.Lock()
	var mine []*session
	for _, s := range h.sessions {
		if s.owner == owner {
			mine = append(mine, s)
		}
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range mine {
		wg.Go(func() { h.closeSession(s) })
	}
	wg.Wait()
}
