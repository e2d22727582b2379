package tzposix

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"sync"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/tzrpc"
)

// Program is a TA's code: it runs once per session, from the first RESUME
// until it returns. ctx is cancelled when the session closes. Returning nil
// exits with status 0, an ExitStatus (possibly wrapped) with that status,
// any other error with status 1.
type Program func(ctx context.Context, p *Proc) error

// ExitStatus is an error a Program returns to exit with a status of its
// choosing, as a process does with exit(3).
type ExitStatus int32

func (e ExitStatus) Error() string { return fmt.Sprintf("exit status %d", int32(e)) }

// NewTA returns TA entry points that run prog for each session.
func NewTA(prog Program) securesim.TA {
	return &ta{prog: prog, sessions: make(map[*session]struct{})}
}

// Definition describes a TA that runs prog, for securesim.NewHost.
func Definition(name string, uuid gp.UUID, props securesim.Properties, prog Program) securesim.Definition {
	return securesim.Definition{
		Name:  name,
		UUID:  uuid,
		Props: props,
		New:   func() securesim.TA { return NewTA(prog) },
	}
}

// ta is one instance. The host calls its entry points one at a time, but the
// session set is also read by program goroutines' exits, hence the lock.
type ta struct {
	prog Program

	mu       sync.Mutex
	sessions map[*session]struct{}
}

// session is one program run.
type session struct {
	prog    Program
	size    int // mailbox size agreed at OpenSession
	h       *handoff
	proc    *Proc
	ctx     context.Context
	cancel  context.CancelFunc
	start   sync.Once
	stopped sync.Once
}

// programPanic is what a panicking program is re-raised with in the Invoke
// entry point; it carries the program goroutine's stack, which the host's
// own stack trace would not show.
type programPanic struct {
	value any
	stack []byte
}

func (p *programPanic) Error() string {
	return fmt.Sprintf("tzposix: TA program panicked: %v\n\nprogram goroutine:\n%s", p.value, p.stack)
}

func (t *ta) Create() gp.Result { return gp.Success }

// Destroy stops whatever sessions remain; normally CloseSession has.
func (t *ta) Destroy() { t.stopAll() }

// paramTypes is the one parameter layout both entry points accept: t in
// parameter 0, nothing else.
func paramTypes(t gp.Attr) [gp.NumParams]gp.Attr {
	return [gp.NumParams]gp.Attr{t, gp.AttrNone, gp.AttrNone, gp.AttrNone}
}

// OpenSession takes {a = protocol version, b = mailbox size} in parameter 0.
func (t *ta) OpenSession(ctx context.Context, p *securesim.Params) (any, gp.Result) {
	if p.Types() != paramTypes(gp.AttrValueInput) {
		return nil, gp.ErrorBadParameters
	}
	if err := tzrpc.CheckSession(p[0].A, p[0].B); err != nil {
		if errors.Is(err, tzrpc.ErrBadVersion) {
			return nil, gp.ErrorNotSupported
		}
		return nil, gp.ErrorBadParameters
	}
	if uint64(p[0].B) > math.MaxInt {
		return nil, gp.ErrorBadParameters // only on 32-bit hosts
	}
	size := int(p[0].B)
	h := newHandoff()
	// The program outlives this call but keeps its values (the client
	// identity), so detach only the cancellation.
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &session{prog: t.prog, size: size, h: h, proc: newProc(h, size), ctx: pctx, cancel: cancel}
	t.mu.Lock()
	t.sessions[s] = struct{}{}
	t.mu.Unlock()
	return s, gp.Success
}

// CloseSession stops the program without waiting for it: TA code may be busy
// and the instance must stay responsive. Its calls fail from now on and its
// goroutine ends when it returns.
func (t *ta) CloseSession(state any) {
	s, ok := state.(*session)
	if !ok {
		return
	}
	t.mu.Lock()
	delete(t.sessions, s)
	t.mu.Unlock()
	s.stop()
}

// Invoke runs command cmd: tzrpc.CmdResume, or tzrpc.CmdNull, which
// answers here and never reaches the program.
func (t *ta) Invoke(ctx context.Context, state any, cmd uint32, p *securesim.Params) gp.Result {
	s, ok := state.(*session)
	if !ok {
		return gp.ErrorBadState
	}
	if cmd == tzrpc.CmdNull {
		if p.Types() != paramTypes(gp.AttrNone) {
			return gp.ErrorBadParameters
		}
		return gp.Success
	}
	if cmd != tzrpc.CmdResume {
		return gp.ErrorNotSupported
	}
	if p.Types() != paramTypes(gp.AttrMemrefInout) || len(p[0].Mem) != s.size || len(p[0].Mem) < tzrpc.MinMailbox {
		return gp.ErrorBadParameters
	}
	s.start.Do(func() { go s.run() })
	r, pp := s.h.resume(ctx, p[0].Mem)
	if pp != nil {
		// The host kills this instance when we panic and will not call
		// CloseSession or Destroy on it again, so stop the other
		// sessions' programs now or they would wait forever.
		t.stopAll()
		panic(pp)
	}
	return r
}

func (t *ta) stopAll() {
	t.mu.Lock()
	all := t.sessions
	t.sessions = make(map[*session]struct{})
	t.mu.Unlock()
	for s := range all {
		s.stop()
	}
}

func (s *session) stop() {
	s.stopped.Do(func() {
		s.cancel()
		close(s.h.stop)
	})
}

// run is the program goroutine. A panic is caught here, where it would
// otherwise take the whole simulator down, and handed to the Invoke side.
func (s *session) run() {
	defer close(s.h.exited)
	defer func() {
		if v := recover(); v != nil {
			s.h.panicked = &programPanic{value: v, stack: debug.Stack()}
		}
	}()
	err := s.prog(s.ctx, s.proc)
	status := 0
	if es := ExitStatus(0); errors.As(err, &es) {
		status = int(es)
	} else if err != nil {
		// The exit status is all the shadow learns; the reason stays
		// in the secure world's log. A program that stops because its
		// session closed has nothing to report.
		if s.ctx.Err() == nil || !errors.Is(err, context.Canceled) {
			securesim.LoggerFromContext(s.ctx).Error("TA program failed", "err", err)
		}
		status = 1
	}
	s.proc.exit(status)
}
