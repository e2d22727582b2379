package securesim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"

	"github.com/tzmediator/tzbridge/gp"
)

// Define adds a TA to a running host, as installing a TA does on a device:
// sessions opened from now on reach it. A UUID already hosted is refused.
func (h *Host) Define(d Definition) error {
	if d.New == nil {
		return fmt.Errorf("securesim: TA %q (%v) has no constructor", d.Name, d.UUID)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, dup := h.defs[d.UUID]; dup {
		return fmt.Errorf("securesim: TAs %q and %q share UUID %v", old.Name, d.Name, d.UUID)
	}
	h.defs[d.UUID] = d
	h.GoPrepare(d, nil)
	return nil
}

// Undefine removes the TA uuid from the host: new sessions get
// TEEC_ERROR_ITEM_NOT_FOUND. Sessions still open keep their instance to
// their end (the supervisor stops a TA's shadow before it undefines the
// TA); a single instance is forgotten, so that a TA defined again under
// the same UUID starts afresh rather than in the old definition's
// instance. It reports whether the TA was hosted.
func (h *Host) Undefine(uuid gp.UUID) bool {
	h.mu.Lock()
	_, ok := h.defs[uuid]
	delete(h.defs, uuid)
	inst := h.single[uuid]
	delete(h.single, uuid)
	// An idle kept-alive instance would otherwise never be destroyed.
	idle := inst != nil && inst.nsessions == 0 && inst.created && !inst.dead
	h.mu.Unlock()
	if idle {
		_ = h.call(context.Background(), inst, inst.ta.Destroy)
	}
	return ok
}

// The admin socket changes a running host's TAs: a SOCK_SEQPACKET
// connection, one JSON AdminRequest per packet, each answered by one
// AdminReply in order. It is separate from the TEE socket on purpose: only
// the process that started the secure world holds it, so no TEE client
// can install a TA.
const (
	AdminDefine   = "define"   // Spec: the TA, as resolve understands it
	AdminUndefine = "undefine" // UUID: the TA to remove
	// AdminPing changes nothing: its answer says that the host is up,
	// every TA it was started with loaded.
	AdminPing = "ping"
)

// AdminRequest is one admin request.
type AdminRequest struct {
	Op   string  `json:"op"`
	Spec string  `json:"spec,omitempty"`
	UUID gp.UUID `json:"uuid,omitzero"`
}

// AdminReply answers one AdminRequest; Error is empty on success.
type AdminReply struct {
	Error string `json:"error,omitempty"`
}

// maxAdminMsg bounds one admin packet.
const maxAdminMsg = 64 << 10

// ServeAdmin answers admin requests on c until it closes or ctx is done.
// resolve turns a request's Spec into a definition (package catalog does,
// which securesim cannot import).
func (h *Host) ServeAdmin(ctx context.Context, c *net.UnixConn, resolve func(spec string) (Definition, error)) error {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	buf := make([]byte, maxAdminMsg)
	for {
		n, err := c.Read(buf)
		if err != nil || n == 0 {
			if ctx.Err() != nil || n == 0 || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("securesim: admin socket: %w", err)
		}
		var req AdminRequest
		var rerr error
		if err := json.Unmarshal(buf[:n], &req); err != nil {
			rerr = fmt.Errorf("bad request: %w", err)
		} else {
			rerr = h.admin(req, resolve)
		}
		var rep AdminReply
		if rerr != nil {
			rep.Error = rerr.Error()
		}
		b, _ := json.Marshal(rep) // one string: cannot fail
		if _, err := c.Write(b); err != nil {
			return fmt.Errorf("securesim: admin socket: %w", err)
		}
	}
}

func (h *Host) admin(req AdminRequest, resolve func(string) (Definition, error)) error {
	switch req.Op {
	case AdminDefine:
		d, err := resolve(req.Spec)
		if err != nil {
			return err
		}
		if err := h.Define(d); err != nil {
			return err
		}
		h.log.Info("TA defined", "ta", d.Name, "uuid", d.UUID)
		return nil
	case AdminPing:
		return nil
	case AdminUndefine:
		if !h.Undefine(req.UUID) {
			return fmt.Errorf("no TA with UUID %v", req.UUID)
		}
		h.log.Info("TA undefined", "uuid", req.UUID)
		return nil
	}
	return fmt.Errorf("unknown admin request %q", req.Op)
}
