package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/shadow"
	"github.com/tzmediator/tzbridge/sockproxy"
	"github.com/tzmediator/tzbridge/teeclient"
)

// The control socket joins the supervisor and one shadow process: a
// SOCK_SEQPACKET socket pair, one JSON ctlMsg per message, descriptors
// attached with SCM_RIGHTS. Either side may ask; an answer carries the
// question's Seq and Reply set.
//
//	supervisor → shadow   spec    the first message: what to serve (shadowSpec)
//	supervisor → shadow   stats   asks for the counters; answer: Stats
//	shadow → supervisor   bind    a socket bound in the host namespace to
//	                              Network/Addr (a published address);
//	                              answer: one descriptor, or Errno
//	shadow → supervisor   socket  an unbound host socket of Network (tcp4,
//	                              tcp6, udp4, udp6) for host access;
//	                              answer: one descriptor, or Errno
//	shadow → supervisor   exit    how the shadow ended, with its last Stats,
//	                              sent just before it exits
//	shadow → supervisor   listening  the TA serves at Addr from now on
//	                              (shadow.Config.OnListening); no answer
const (
	msgSpec      = "spec"
	msgStats     = "stats"
	msgBind      = "bind"
	msgSocket    = "socket"
	msgExit      = "exit"
	msgListening = "listening"
)

// maxCtlMsg bounds one control message.
const maxCtlMsg = 256 << 10

// ctlMsg is one control message.
type ctlMsg struct {
	Type  string `json:"type"`
	Seq   uint64 `json:"seq,omitempty"`
	Reply bool   `json:"reply,omitempty"`

	Spec    *shadowSpec   `json:"spec,omitempty"`
	Stats   *shadow.Stats `json:"stats,omitempty"`
	Outcome *outcome      `json:"outcome,omitempty"`

	// bind and socket.
	Network   string `json:"network,omitempty"`
	Addr      string `json:"addr,omitempty"`
	ReuseAddr bool   `json:"reuse_addr,omitempty"`
	ReusePort bool   `json:"reuse_port,omitempty"`
	Errno     int    `json:"errno,omitempty"`
	Error     string `json:"error,omitempty"`
}

// shadowSpec is everything a shadow process is told about its TA.
type shadowSpec struct {
	Name           string         `json:"name"`
	UUID           teeclient.UUID `json:"uuid"`
	Root           string         `json:"root"`
	Mailbox        int            `json:"mailbox"`
	MaxDescriptors int            `json:"max_descriptors"`
	MaxSockets     int            `json:"max_sockets,omitempty"`
	// TEE is "sim" or a device path. For sim, TEEFD is an inherited
	// O_PATH descriptor of the secure world's socket, connected to as
	// /proc/self/fd/TEEFD (the runtime directory holding it is closed to
	// a shadow that is not root).
	TEE   string `json:"tee"`
	TEEFD int    `json:"tee_fd,omitempty"`
	// Proxies are the inherited proxy sockets, by the TA address they
	// serve.
	Proxies []specProxy `json:"proxies,omitempty"`
	// Publish binds the TA's TCP and UDP addresses in the host namespace
	// (a TA in its own namespace with no proxies configured).
	Publish bool `json:"publish,omitempty"`
	// Limits are set by the shadow on itself first thing.
	Limits []rlimit `json:"limits,omitempty"`
	// HostAll and HostAddrs are the TA's host access.
	HostAll   bool     `json:"host_all,omitempty"`
	HostAddrs []string `json:"host_addrs,omitempty"`
	// Stats set up the shadow's counters by op and endpoint.
	Stats shadow.StatsOptions `json:"stats"`
}

// specProxy is one inherited proxy socket.
type specProxy struct {
	Network string `json:"network"` // tcp or udp
	To      string `json:"to"`      // IP:PORT the TA binds
	FD      int    `json:"fd"`
}

// outcome is how a shadow ended.
type outcome struct {
	// Exited: the TA exited with status 0, or the shadow was told to stop.
	Exited bool   `json:"exited,omitempty"`
	Error  string `json:"error,omitempty"`
	// Code is the TEE result code in Error, if it has one (e.g.
	// TEEC_ERROR_TARGET_DEAD after a TA panic).
	Code teeclient.Result `json:"code,omitempty"`
}

// outcomeOf describes Run's error.
func outcomeOf(err error) *outcome {
	if err == nil {
		return &outcome{Exited: true}
	}
	o := &outcome{Error: err.Error()}
	var te *teeclient.Error
	if errors.As(err, &te) {
		o.Code = te.Code
	}
	return o
}

// err turns an outcome back into an error for the restart policy; a TEE
// result code still matches with errors.Is.
func (o *outcome) err() error {
	if o.Exited {
		return nil
	}
	return &shadowError{msg: o.Error, code: o.Code}
}

// shadowError is a shadow process's failure as it reported it.
type shadowError struct {
	msg  string
	code teeclient.Result
}

func (e *shadowError) Error() string { return e.msg }

// Is matches the TEE result code, as teeclient.Error does.
func (e *shadowError) Is(target error) bool {
	r, ok := target.(teeclient.Result)
	return ok && e.code != 0 && r == e.code
}

// ctlConn is one end of a control socket.
type ctlConn struct {
	c   *net.UnixConn
	wmu sync.Mutex

	mu      sync.Mutex
	seq     uint64
	pending map[uint64]chan ctlAnswer
	closed  bool
}

// ctlAnswer is an answer with its descriptors.
type ctlAnswer struct {
	m   *ctlMsg
	fds []int
}

func newCtlConn(c *net.UnixConn) *ctlConn {
	return &ctlConn{c: c, pending: map[uint64]chan ctlAnswer{}}
}

// send writes m with fds attached (they stay the caller's).
func (k *ctlConn) send(m *ctlMsg, fds ...int) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("control: encode %s: %w", m.Type, err)
	}
	k.wmu.Lock()
	defer k.wmu.Unlock()
	if err := sockproxy.SendFDs(k.c, b, fds...); err != nil {
		return fmt.Errorf("control: send %s: %w", m.Type, err)
	}
	return nil
}

// recv reads one message. The descriptors that came with it are the
// caller's.
func (k *ctlConn) recv(buf []byte) (*ctlMsg, []int, error) {
	n, fds, err := sockproxy.RecvFDs(k.c, buf)
	if err != nil {
		return nil, nil, err
	}
	if n == 0 {
		closeFDs(fds)
		return nil, nil, errors.New("control: peer closed the connection")
	}
	m := &ctlMsg{}
	if err := json.Unmarshal(buf[:n], m); err != nil {
		closeFDs(fds)
		return nil, nil, fmt.Errorf("control: bad message: %w", err)
	}
	return m, fds, nil
}

// call sends a question and waits up to timeout for its answer.
func (k *ctlConn) call(m *ctlMsg, timeout time.Duration) (ctlAnswer, error) {
	ch := make(chan ctlAnswer, 1)
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return ctlAnswer{}, errors.New("control: connection closed")
	}
	k.seq++
	m.Seq = k.seq
	k.pending[m.Seq] = ch
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		delete(k.pending, m.Seq)
		k.mu.Unlock()
	}()
	if err := k.send(m); err != nil {
		return ctlAnswer{}, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case a, ok := <-ch:
		if !ok {
			return ctlAnswer{}, errors.New("control: connection closed")
		}
		return a, nil
	case <-t.C:
		return ctlAnswer{}, fmt.Errorf("control: no answer to %s within %v", m.Type, timeout)
	}
}

// answered delivers an answer to its caller; an answer nobody waits for
// any more has its descriptors closed.
func (k *ctlConn) answered(m *ctlMsg, fds []int) {
	k.mu.Lock()
	ch := k.pending[m.Seq]
	delete(k.pending, m.Seq)
	k.mu.Unlock()
	if ch == nil {
		closeFDs(fds)
		return
	}
	ch <- ctlAnswer{m: m, fds: fds}
}

// close closes the socket and fails the questions still waiting.
func (k *ctlConn) close() {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return
	}
	k.closed = true
	for seq, ch := range k.pending {
		close(ch)
		delete(k.pending, seq)
	}
	k.mu.Unlock()
	k.c.Close()
}

// isClosed reports whether the connection is closed.
func (k *ctlConn) isClosed() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.closed
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// errnoOf is the errno in err, if any.
func errnoOf(err error) int {
	var e unix.Errno
	if errors.As(err, &e) {
		return int(e)
	}
	return int(unix.EIO)
}
