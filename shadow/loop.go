package shadow

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/tzmediator/tzbridge/teeclient"
	"github.com/tzmediator/tzbridge/tzrpc"
)

// ExitError is Run's error when the TA exits with a nonzero status.
type ExitError struct {
	TA     string
	Status int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("shadow %s: TA exited with status %d", e.TA, e.Status)
}

// Run serves the TA until it exits, fails or ctx is done: it opens a
// session (parameter 0 carries tzrpc.Version and the mailbox size),
// registers the mailbox, and then resumes the TA and performs the request
// it leaves, over and over.
//
// Run returns nil when the TA exits with status 0, an *ExitError for
// another status, an error wrapping the teeclient.Error when the TEE fails
// (errors.Is(err, teeclient.ErrorTargetDead) after a TA panic), and one
// wrapping ctx.Err() when ctx ends it. A call the TA is blocked in does not
// delay that; a TA that ignores the TEE's cancellation request does, as
// the GP API has no way to abandon a call.
//
// However Run ends, every descriptor the TA held is closed, then the
// session and the mailbox, and the Shadow itself: Run is called once.
func (s *Shadow) Run(ctx context.Context, tc *teeclient.Context) error {
	if s.ran.Swap(true) {
		return fmt.Errorf("shadow %s: already run or closed", s.cfg.Name)
	}
	done := make(chan error, 1)
	go func() {
		// The loop keeps this OS thread to itself and never unlocks it:
		// the shadow is to enter the TA's network namespace with setns,
		// which changes a thread, and a locked thread whose goroutine ends
		// is destroyed rather than handed to other goroutines.
		runtime.LockOSThread()
		done <- s.serve(ctx, tc)
	}()
	return <-done
}

func (s *Shadow) serve(ctx context.Context, tc *teeclient.Context) (err error) {
	s.log.Info("shadow starting", "uuid", s.cfg.UUID, "root", s.cfg.Root, "mailbox", s.cfg.Mailbox, "max_descriptors", s.cfg.MaxDescriptors)
	defer func() {
		st := s.Stats()
		attrs := []any{"calls", st.Calls, "bytes_in", st.BytesIn, "bytes_out", st.BytesOut, "errors", st.Errors}
		switch {
		case err == nil:
			s.log.Info("shadow stopped: TA exited", attrs...)
		case ctx.Err() != nil && errors.Is(err, ctx.Err()):
			s.log.Info("shadow stopped", append(attrs, "why", ctx.Err())...)
		default:
			s.log.Error("shadow stopped", append(attrs, "err", err)...)
		}
	}()
	var sess *teeclient.Session
	var shm *teeclient.SharedMemory
	defer func() {
		// Descriptors first: CAs see the TA's endpoints close even while
		// the TEE takes its time closing the session.
		s.Close()
		if sess != nil {
			if cerr := sess.Close(); cerr != nil {
				s.log.Warn("close session", "err", cerr)
			}
		}
		if shm != nil {
			if rerr := shm.Release(); rerr != nil {
				s.log.Warn("release mailbox", "err", rerr)
			}
		}
	}()

	open := &teeclient.Operation{}
	open.Params[0] = teeclient.Value(teeclient.ValueInput, uint32(tzrpc.Version), uint32(s.cfg.Mailbox))
	sess, err = s.openSession(ctx, tc, open)
	if err != nil {
		return s.teeError(ctx, fmt.Sprintf("open session with TA %v", s.cfg.UUID), err)
	}
	shm, err = s.mailbox(tc)
	if err != nil {
		return err
	}

	resume := &teeclient.Operation{}
	for {
		resume.Params[0] = teeclient.WholeMemref(shm)
		if err := sess.InvokeCommand(ctx, tzrpc.CmdResume, resume); err != nil {
			return s.teeError(ctx, "resume TA", err)
		}
		exited, status := s.Dispatch(ctx, shm.Buffer)
		if exited {
			if status != 0 {
				return &ExitError{TA: s.cfg.Name, Status: status}
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("shadow %s: stopped: %w", s.cfg.Name, ctx.Err())
		}
	}
}

// What OP-TEE gives as shared memory (OP-TEE 4.10 on Linux 6.1 arm64):
// registered memory (TEE_IOC_SHM_REGISTER, with REG_MEM) up to 8 MiB, 16
// MiB failing inside OP-TEE (alloc_pgt); allocated memory
// (TEE_IOC_SHM_ALLOC) up to 4 MiB, larger failing with ENOMEM, as the
// driver needs physically contiguous pages.
const (
	MaxRegisteredMailbox = 8 << 20
	MaxAllocatedMailbox  = 4 << 20
)

// mailbox makes the shared mailbox: memory of the shadow's own,
// registered, where the TEE has REG_MEM; else allocated by the driver
// (the simulator's, or a device's without REG_MEM). A size the TEE cannot
// give fails with an error naming the limit.
func (s *Shadow) mailbox(tc *teeclient.Context) (*teeclient.SharedMemory, error) {
	const flags = teeclient.MemInput | teeclient.MemOutput
	n := s.cfg.Mailbox
	v := tc.Version()
	switch {
	case v.GenCaps&teeclient.CapRegMem != 0:
		if n > MaxRegisteredMailbox {
			return nil, fmt.Errorf("shadow %s: mailbox of %d bytes: OP-TEE gives at most %d (8 MiB) of registered shared memory", s.cfg.Name, n, MaxRegisteredMailbox)
		}
		shm, err := tc.RegisterSharedMemory(make([]byte, n), flags)
		if err != nil {
			return nil, fmt.Errorf("shadow %s: register %d-byte mailbox (at most %d): %w", s.cfg.Name, n, MaxRegisteredMailbox, err)
		}
		return shm, nil
	case v.ImplID != teeclient.ImplSimulator && n > MaxAllocatedMailbox:
		return nil, fmt.Errorf("shadow %s: mailbox of %d bytes: this TEE has no REG_MEM, and allocated shared memory is at most %d (4 MiB): the driver needs physically contiguous pages", s.cfg.Name, n, MaxAllocatedMailbox)
	}
	shm, err := tc.AllocateSharedMemory(n, flags)
	if err != nil {
		return nil, fmt.Errorf("shadow %s: allocate %d-byte mailbox: %w", s.cfg.Name, n, err)
	}
	return shm, nil
}

// DefaultOpenTimeout bounds a session open on a device; openWarnAfter is
// when a slow one is logged. Loading a TA through tee-supplicant takes
// well under a second where it runs.
const (
	DefaultOpenTimeout = 30 * time.Second
	openWarnAfter      = 5 * time.Second
)

// errOpenTimeout is why an open on a device was given up.
var errOpenTimeout = errors.New("no answer")

// openSession opens the session with the TA. On a device the open waits
// in the kernel for tee-supplicant, for ever if none runs: it is logged
// with what to check after openWarnAfter, and given up after OpenTimeout
// (linuxtee ends such a wait when the context ends). A stop requested
// meanwhile is logged, since it is what ends the wait then.
func (s *Shadow) openSession(ctx context.Context, tc *teeclient.Context, op *teeclient.Operation) (*teeclient.Session, error) {
	logged := make(chan struct{})
	stopping := context.AfterFunc(ctx, func() {
		defer close(logged)
		s.log.Info("stop requested while the session opens: cancelling the open", "ta", s.cfg.Name)
	})
	defer func() {
		if !stopping() {
			<-logged // the line comes before whatever Run logs next
		}
	}()
	if tc.Version().ImplID == teeclient.ImplSimulator {
		return tc.OpenSession(ctx, s.cfg.UUID, teeclient.LoginPublic, 0, op)
	}
	limit := s.cfg.OpenTimeout
	if limit <= 0 {
		limit = DefaultOpenTimeout
	}
	openCtx, cancel := context.WithTimeoutCause(ctx, limit, errOpenTimeout)
	defer cancel()
	warnAfter := min(openWarnAfter, limit/2)
	warn := time.AfterFunc(warnAfter, func() {
		s.log.Warn("the session open has no answer yet: OP-TEE loads the TA through tee-supplicant; is tee-supplicant running?",
			"ta", s.cfg.Name, "uuid", s.cfg.UUID, "waited", warnAfter, "gives_up_after", limit)
	})
	defer warn.Stop()
	sess, err := tc.OpenSession(openCtx, s.cfg.UUID, teeclient.LoginPublic, 0, op)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(openCtx), errOpenTimeout) {
		return nil, fmt.Errorf("no answer within %v (OP-TEE loads the TA through tee-supplicant: is it running?): %w", limit, err)
	}
	return sess, err
}

// teeError wraps the failure of a TEE call; one that ctx cancelled is
// reported as ctx's error.
func (s *Shadow) teeError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil && errors.Is(err, teeclient.ErrorCancel) {
		return fmt.Errorf("shadow %s: stopped: %w", s.cfg.Name, ctx.Err())
	}
	return fmt.Errorf("shadow %s: %s: %w", s.cfg.Name, what, err)
}
