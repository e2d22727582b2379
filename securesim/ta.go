// Package securesim is the simulated secure world: a separate process that
// hosts Trusted Applications behind the same interface the Linux TEE
// subsystem offers, so that tzbridge runs and is tested on any Linux machine.
//
// TAs implement the entry points of the GP TEE Internal Core API (TA).
// The Host manages their instances and sessions with OP-TEE's semantics where
// a client can tell: single-instance and multi-session flags, keep-alive, a
// busy instance serialising calls, cancellation, and a panicking TA taking
// down only its own instance (its sessions get TEE_ERROR_TARGET_DEAD from
// then on). The Server puts a Host on a UNIX socket speaking simwire; shared
// memory is memfd mapped in both processes, never copied.
package securesim

import (
	"context"
	"log/slog"

	"github.com/tzmediator/tzbridge/gp"
)

// Param is one TA entry-point parameter (TEE_Param with its type).
// Memref parameters see the client's shared memory itself: Mem aliases
// memory the normal world can change at any time, so a TA copies what it
// validates. Mem is valid only during the entry-point call.
type Param struct {
	Type gp.Attr
	A, B uint32 // values
	Mem  []byte // memrefs: the referenced bytes (nil for a null memref)
	// Size is, for memrefs, the size the client passed; a TA sets it to the
	// bytes it wrote, or to the bytes it needs when it returns
	// TEE_ERROR_SHORT_BUFFER (it may then exceed len(Mem)). Only output
	// and inout memrefs report it back to the client.
	Size uint64
}

// Params are the four parameters of an entry-point call.
type Params [gp.NumParams]Param

// Types reports the parameter types, for comparison with what a command
// expects (the GP idiom of checking paramTypes first).
func (p *Params) Types() [gp.NumParams]gp.Attr {
	var t [gp.NumParams]gp.Attr
	for i := range p {
		t[i] = p[i].Type
	}
	return t
}

// TA is a Trusted Application's entry points (TA_CreateEntryPoint …
// TA_InvokeCommandEntryPoint). The host calls them one at a time per
// instance. A Result other than gp.Success is the TA's error (origin
// TRUSTED_APP). A panic in any entry point kills the instance.
type TA interface {
	Create() gp.Result
	Destroy()
	OpenSession(ctx context.Context, p *Params) (session any, r gp.Result)
	CloseSession(session any)
	// Invoke runs command cmd. ctx is cancelled when the client requests
	// cancellation or closes the session; a TA that honours it returns
	// gp.ErrorCancel.
	Invoke(ctx context.Context, session any, cmd uint32, p *Params) gp.Result
}

// Properties are a TA's GP properties (gpd.ta.singleInstance,
// gpd.ta.multiSession, gpd.ta.instanceKeepAlive).
type Properties struct {
	SingleInstance bool
	MultiSession   bool
	KeepAlive      bool
}

// Definition names a TA the host can instantiate.
type Definition struct {
	Name  string
	UUID  gp.UUID
	Props Properties
	New   func() TA
	// Prepare, if set, does ahead of the first session what that session
	// would otherwise wait for, such as compiling a WebAssembly module;
	// it is safe to call at any time, also while sessions run. The host
	// calls it, in a goroutine of its own, for a TA defined on a running
	// host (Define); whoever makes the host calls it for the first ones
	// (the secure world's command compiles them all at once, at start).
	Prepare func()
}

// Client is the identity a session was opened with
// (gpd.client.identity): the login method and, for USER and GROUP logins,
// the uid or gid the secure world saw — derived from the socket peer, never
// taken from the client's word.
type Client struct {
	Login gp.LoginMethod
	UID   uint32
	GID   uint32
}

type clientKey struct{}

type loggerKey struct{}

// LoggerFromContext returns the secure world's log for the TA whose entry
// point got ctx, tagged with its name and UUID: where a TA reports what
// the GP API has no room for, such as why its program failed. It never
// returns nil.
func LoggerFromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// ClientFromContext returns the identity of the client whose call ctx
// belongs to: the ctx of OpenSession and of every Invoke of the session.
func ClientFromContext(ctx context.Context) (Client, bool) {
	c, ok := ctx.Value(clientKey{}).(Client)
	return c, ok
}
