// Package control is the protocol between the supervisor (tzbridge run)
// and one shadow process (tzbridge shadow): its messages, both ends of
// the socket that carries them, the supervisor's check of what a shadow
// sends, and the descriptor passing (SCM_RIGHTS) it rides on.
package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/shadow"
	"github.com/tzmediator/tzbridge/teeclient"
)

// The control socket joins the supervisor and one shadow process: a
// SOCK_SEQPACKET socket pair, one JSON Msg per message, descriptors
// attached with SCM_RIGHTS. Either side may ask; an answer carries the
// question's Seq and Reply set.
//
//	supervisor → shadow   spec    the first message: what to serve (Spec)
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
	MsgSpec      = "spec"
	MsgStats     = "stats"
	MsgBind      = "bind"
	MsgSocket    = "socket"
	MsgExit      = "exit"
	MsgListening = "listening"
)

// MaxMsg bounds one control message.
const MaxMsg = 256 << 10

// Msg is one control message.
type Msg struct {
	Type  string `json:"type"`
	Seq   uint64 `json:"seq,omitempty"`
	Reply bool   `json:"reply,omitempty"`

	Spec    *Spec         `json:"spec,omitempty"`
	Stats   *shadow.Stats `json:"stats,omitempty"`
	Outcome *Outcome      `json:"outcome,omitempty"`

	// bind and socket; Addr also listening.
	Network string `json:"network,omitempty"`
	Addr    string `json:"addr,omitempty"`
	Errno   int    `json:"errno,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Spec is everything a shadow process is told about its TA.
type Spec struct {
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
	Proxies []Proxy `json:"proxies,omitempty"`
	// Publish binds the TA's TCP and UDP addresses in the host namespace
	// (a TA in its own namespace with no proxies configured).
	Publish bool `json:"publish,omitempty"`
	// HostNetns: the shadow runs in the host's network namespace (netns:
	// false), so the TA's sockets are host sockets
	// (shadow.Config.HostNamespace).
	HostNetns bool `json:"host_netns,omitempty"`
	// Limits are set by the shadow on itself first thing.
	Limits []Rlimit `json:"limits,omitempty"`
	// HostAll and HostAddrs are the TA's host access.
	HostAll   bool     `json:"host_all,omitempty"`
	HostAddrs []string `json:"host_addrs,omitempty"`
	// Stats set up the shadow's counters by op and endpoint.
	Stats shadow.StatsOptions `json:"stats"`
}

// Rlimit is one resource limit, as the shadow's spec carries it.
type Rlimit struct {
	Resource int    `json:"resource"`
	Name     string `json:"name"`
	Value    uint64 `json:"value"`
}

// Proxy is one inherited proxy socket.
type Proxy struct {
	Network string `json:"network"` // tcp or udp
	To      string `json:"to"`      // IP:PORT the TA binds
	FD      int    `json:"fd"`
}

// Outcome is how a shadow ended.
type Outcome struct {
	// Exited: the TA exited with status 0, or the shadow was told to stop.
	Exited bool   `json:"exited,omitempty"`
	Error  string `json:"error,omitempty"`
	// Code is the TEE result code in Error, if it has one (e.g.
	// TEEC_ERROR_TARGET_DEAD after a TA panic).
	Code teeclient.Result `json:"code,omitempty"`
}

// OutcomeOf describes the error the shadow's Run returned.
func OutcomeOf(err error) *Outcome {
	if err == nil {
		return &Outcome{Exited: true}
	}
	o := &Outcome{Error: err.Error()}
	var te *teeclient.Error
	if errors.As(err, &te) {
		o.Code = te.Code
	}
	return o
}

// Err turns an outcome back into an error for the restart policy; a TEE
// result code still matches with errors.Is.
func (o *Outcome) Err() error {
	if o.Exited {
		return nil
	}
	return &ShadowError{Msg: o.Error, Code: o.Code}
}

// ShadowError is a shadow process's failure as it reported it.
type ShadowError struct {
	Msg  string
	Code teeclient.Result
}

func (e *ShadowError) Error() string { return e.Msg }

// Is matches the TEE result code, as teeclient.Error does.
func (e *ShadowError) Is(target error) bool {
	r, ok := target.(teeclient.Result)
	return ok && e.Code != 0 && r == e.Code
}

// Conn is one end of a control socket.
type Conn struct {
	c   *net.UnixConn
	wmu sync.Mutex

	mu      sync.Mutex
	seq     uint64
	pending map[uint64]chan Answer
	closed  bool
}

// Answer is an answer with its descriptors.
type Answer struct {
	Msg *Msg
	FDs []int
}

func NewConn(c *net.UnixConn) *Conn {
	return &Conn{c: c, pending: map[uint64]chan Answer{}}
}

// Send writes m with fds attached (they stay the caller's).
func (k *Conn) Send(m *Msg, fds ...int) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("control: encode %s: %w", m.Type, err)
	}
	k.wmu.Lock()
	defer k.wmu.Unlock()
	if err := SendFDs(k.c, b, fds...); err != nil {
		return fmt.Errorf("control: send %s: %w", m.Type, err)
	}
	return nil
}

// Recv reads one message. The descriptors that came with it are the
// caller's. The shadow uses it for the supervisor's messages; the
// supervisor reads a shadow's with RecvRaw and DecodeShadowMsg.
func (k *Conn) Recv(buf []byte) (*Msg, []int, error) {
	n, fds, err := k.RecvRaw(buf)
	if err != nil {
		return nil, nil, err
	}
	m := &Msg{}
	if err := json.Unmarshal(buf[:n], m); err != nil {
		CloseFDs(fds)
		return nil, nil, fmt.Errorf("control: bad message: %w", err)
	}
	return m, fds, nil
}

// RecvRaw reads one message's bytes into buf.
func (k *Conn) RecvRaw(buf []byte) (int, []int, error) {
	n, fds, err := RecvFDs(k.c, buf)
	if err != nil {
		return 0, nil, err
	}
	if n == 0 {
		CloseFDs(fds)
		return 0, nil, errors.New("control: peer closed the connection")
	}
	return n, fds, nil
}

// ErrMalformed marks a shadow's message that DecodeShadowMsg refused: the
// connection goes on, the message is dropped.
var ErrMalformed = errors.New("malformed control message from the shadow")

// Bounds on what a shadow may send the supervisor.
const (
	// MaxOutcomeError bounds the TA failure a shadow reports: it becomes
	// the TA's last_error in the status views and a log field.
	MaxOutcomeError = 4 << 10
	// maxHostAddr bounds a bind request's address (an IPv6 address with
	// a zone and a port is well under it).
	maxHostAddr = 128
)

// DecodeShadowMsg decodes and checks one message a shadow sent. A shadow
// runs with its TA's identity and is as untrusted as anything the TA
// reaches, so its messages are checked like any input from outside:
// exactly one JSON object of the known fields; of the kinds a shadow
// sends (the stats answer, exit, bind, socket, listening) and no other; the fields
// of that kind only; counters in the shape a shadow makes them
// (shadow.Stats.Check: tzrpc's op and errno names only, bounded
// endpoints); bounded strings. An error wraps ErrMalformed.
func DecodeShadowMsg(b []byte) (*Msg, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	m := &Msg{}
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: more than one JSON value", ErrMalformed)
	}
	if err := m.checkFromShadow(); err != nil {
		return m, fmt.Errorf("%w: %.40q: %v", ErrMalformed, m.Type, err)
	}
	return m, nil
}

// checkFromShadow checks the fields of a decoded message from a shadow.
func (m *Msg) checkFromShadow() error {
	if m.Spec != nil || m.Errno != 0 || m.Error != "" {
		return errors.New("a field only the supervisor sends")
	}
	var bind bool
	switch {
	case m.Reply && m.Type == MsgStats:
		if m.Stats == nil || m.Outcome != nil || m.Network != "" || m.Addr != "" {
			return errors.New("want counters and nothing else")
		}
	case m.Reply:
		return errors.New("an answer to a question the supervisor does not ask")
	case m.Type == MsgExit:
		if m.Outcome == nil || m.Network != "" || m.Addr != "" {
			return errors.New("want an outcome (and counters) and nothing else")
		}
		// (encoding/json has made it UTF-8 already.)
		if len(m.Outcome.Error) > MaxOutcomeError {
			return fmt.Errorf("outcome error of %d bytes: want at most %d", len(m.Outcome.Error), MaxOutcomeError)
		}
		if m.Outcome.Exited && (m.Outcome.Error != "" || m.Outcome.Code != 0) {
			return errors.New("an outcome that is both an exit and a failure")
		}
	case m.Type == MsgBind:
		bind = true
		fallthrough
	case m.Type == MsgSocket:
		if m.Stats != nil || m.Outcome != nil {
			return errors.New("counters or an outcome in a request for a socket")
		}
		if !hostNetwork(m.Type, m.Network) {
			return fmt.Errorf("network %.20q", m.Network)
		}
		if bind != (m.Addr != "") || len(m.Addr) > maxHostAddr {
			return fmt.Errorf("address of %d bytes", len(m.Addr))
		}
	case m.Type == MsgListening:
		if m.Stats != nil || m.Outcome != nil || m.Network != "" {
			return errors.New("want an address and nothing else")
		}
		if !listenAddr(m.Addr) {
			return fmt.Errorf("address %.40q of %d bytes", m.Addr, len(m.Addr))
		}
	default:
		return errors.New("not a kind of message a shadow sends")
	}
	if m.Stats != nil {
		return m.Stats.Check()
	}
	return nil
}

// listenAddr reports whether addr is an address in the form the shadow
// reports one it serves at (shadow.Config.OnListening: tcp://IP:PORT,
// udp://IP:PORT or unix:/PATH), bounded. It is not parsed further: a
// TA may bind port 0 too, and the supervisor only compares the address
// with its TA's configured ones.
func listenAddr(addr string) bool {
	if addr == "" || len(addr) > maxHostAddr {
		return false
	}
	for _, prefix := range []string{"tcp://", "udp://", "unix:/"} {
		if strings.HasPrefix(addr, prefix) && len(addr) > len(prefix) {
			return true
		}
	}
	return false
}

// hostNetwork reports whether network is one a shadow's request of kind
// typ (bind or socket) may name.
func hostNetwork(typ, network string) bool {
	switch typ {
	case MsgBind:
		return network == "tcp" || network == "udp"
	case MsgSocket:
		switch network {
		case "tcp4", "tcp6", "udp4", "udp6":
			return true
		}
	}
	return false
}

// Call sends a question and waits up to timeout for its answer.
func (k *Conn) Call(m *Msg, timeout time.Duration) (Answer, error) {
	ch := make(chan Answer, 1)
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return Answer{}, errors.New("control: connection closed")
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
	if err := k.Send(m); err != nil {
		return Answer{}, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case a, ok := <-ch:
		if !ok {
			return Answer{}, errors.New("control: connection closed")
		}
		return a, nil
	case <-t.C:
		return Answer{}, fmt.Errorf("control: no answer to %s within %v", m.Type, timeout)
	}
}

// Answered delivers an answer to its caller; an answer nobody waits for
// any more has its descriptors closed.
func (k *Conn) Answered(m *Msg, fds []int) {
	k.mu.Lock()
	ch := k.pending[m.Seq]
	delete(k.pending, m.Seq)
	k.mu.Unlock()
	if ch == nil {
		CloseFDs(fds)
		return
	}
	ch <- Answer{Msg: m, FDs: fds}
}

// Close closes the socket and fails the questions still waiting.
func (k *Conn) Close() {
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

// IsClosed reports whether the connection is closed.
func (k *Conn) IsClosed() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.closed
}

// CloseFDs closes descriptors that came with a message.
func CloseFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
