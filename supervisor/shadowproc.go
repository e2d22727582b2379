package supervisor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/internal/child"
	"github.com/tzmediator/tzbridge/internal/control"
	"github.com/tzmediator/tzbridge/internal/seqpacket"
	"github.com/tzmediator/tzbridge/shadow"
	"github.com/tzmediator/tzbridge/sockproxy"
)

// statsTimeout bounds how long the status view waits for a shadow's
// counters before it shows the last ones it had.
const statsTimeout = 500 * time.Millisecond

// maxMalformedLogged bounds the log lines about one shadow's malformed
// control messages: a lying shadow must not flood the supervisor's log.
const maxMalformedLogged = 10

// procOptions say how to start one shadow process.
type procOptions struct {
	exe  string // the tzbridge binary, as os.Executable reported it
	spec control.Spec
	// teeFile is the secure world's socket node (O_PATH), for sim.
	teeFile *os.File
	// proxies are the TCP and UDP proxy sockets, in spec.Proxies order.
	proxies []*os.File
	// netns is the TA's namespace, nil for the host's.
	netns *sockproxy.Namespace
	privs privileges
	// host answers the shadow's bind and socket questions.
	host func(m *control.Msg) (fd int, err error)
	// started learns the child's pid before the child gets its spec
	// (before it can do anything in the tree).
	started func(pid int)
	// serving learns each address the TA serves from (control.MsgListening).
	serving func(addr string)
	log     *slog.Logger // tagged with the TA
	// relayLog gets the shadow's own records, which it adds the TA's
	// name to when they lack it.
	relayLog *slog.Logger
	logLevel slog.Level
}

// shadowProc is one running shadow process.
type shadowProc struct {
	*child.Process
	ctl *control.Conn

	mu      sync.Mutex
	outcome *control.Outcome
	stats   shadow.Stats // the last counters seen
	logDone chan struct{}
}

// startShadowProc starts `tzbridge shadow` for one TA and sends it its
// spec. The forking thread (package child) first enters the TA's network
// namespace and drops what the shadow must not have, so the child starts
// with all of it: no thread of the child ever runs outside the namespace.
func startShadowProc(opt procOptions) (*shadowProc, error) {
	parentEnd, childEnd, err := seqpacket.ForChild()
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer childEnd.Close()
	ctl := control.NewConn(parentEnd)
	logR, logW, err := os.Pipe()
	if err != nil {
		ctl.Close()
		return nil, fmt.Errorf("log pipe: %w", err)
	}
	defer logW.Close()

	// Descriptors 3, 4, … of the child.
	files := []*os.File{childEnd, logW}
	spec := opt.spec
	spec.Limits = opt.privs.limits
	if opt.teeFile != nil {
		spec.TEEFD = 3 + len(files)
		files = append(files, opt.teeFile)
	}
	for i, f := range opt.proxies {
		spec.Proxies[i].FD = 3 + len(files)
		files = append(files, f)
	}
	cmd := &exec.Cmd{
		// /proc/self/exe: the binary this supervisor runs, whatever
		// happened to its path since (and reachable by a shadow user
		// that may not search the directory holding it).
		Path:        "/proc/self/exe",
		Args:        []string{opt.exe, "shadow", "--ta", spec.Name, "--control-fd", "3", "--log-fd", "4", "--log-level", opt.logLevel.String()},
		Stdout:      os.Stderr,
		Stderr:      os.Stderr,
		ExtraFiles:  files,
		SysProcAttr: opt.privs.sysProcAttr(),
	}
	p := &shadowProc{ctl: ctl, logDone: make(chan struct{})}

	var nsFile *os.File
	if opt.netns != nil {
		if nsFile, err = opt.netns.Open(); err != nil {
			ctl.Close()
			logR.Close()
			return nil, err
		}
		defer nsFile.Close()
	}
	proc, err := child.Start(cmd, func() error {
		if nsFile != nil {
			if err := unix.Setns(int(nsFile.Fd()), unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("enter network namespace %s: %w", opt.netns.Name, err)
			}
		}
		return opt.privs.restrictThread()
	})
	if err != nil {
		ctl.Close()
		logR.Close()
		return nil, fmt.Errorf("the shadow process: %w", err)
	}
	p.Process = proc
	if opt.started != nil {
		opt.started(p.Pid())
	}
	go p.relayLog(logR, opt.relayLog, spec.Name)
	if err := ctl.Send(&control.Msg{Type: control.MsgSpec, Spec: &spec}); err != nil {
		_ = cmd.Process.Kill()
		<-p.Done()
		ctl.Close()
		return nil, err
	}
	go p.serveControl(opt)
	return p, nil
}

// serveControl reads the shadow's messages until the socket closes.
func (p *shadowProc) serveControl(opt procOptions) {
	buf := make([]byte, control.MaxMsg)
	malformed := 0
	for {
		n, fds, err := p.ctl.RecvRaw(buf)
		if err != nil {
			p.ctl.Close()
			return
		}
		control.CloseFDs(fds) // a shadow has no reason to send any
		m, err := control.DecodeShadowMsg(buf[:n])
		if err != nil {
			// Dropped. A question waiting for this answer gets none
			// rather than wait for its timeout, and keeps what it had.
			if malformed++; malformed <= maxMalformedLogged {
				opt.log.Warn("shadow sent a malformed control message; dropped", "err", err, "pid", p.Pid(), "last_logged", malformed == maxMalformedLogged)
			}
			if m != nil && m.Reply {
				p.ctl.Answered(&control.Msg{Type: m.Type, Seq: m.Seq, Reply: true}, nil)
			}
			continue
		}
		switch {
		case m.Reply:
			p.ctl.Answered(m, nil)
		case m.Type == control.MsgExit:
			p.mu.Lock()
			p.outcome = m.Outcome
			p.mu.Unlock()
			p.takeStats(m.Stats)
		case m.Type == control.MsgListening:
			if opt.serving != nil {
				opt.serving(m.Addr)
			}
		case m.Type == control.MsgBind || m.Type == control.MsgSocket:
			fd, err := opt.host(m)
			a := &control.Msg{Type: m.Type, Seq: m.Seq, Reply: true}
			if err != nil {
				a.Errno, a.Error = errnoOf(err), err.Error()
				opt.log.Debug("host socket refused", "request", m.Type, "network", m.Network, "addr", m.Addr, "err", err)
				_ = p.ctl.Send(a)
				continue
			}
			opt.log.Debug("host socket handed over", "request", m.Type, "network", m.Network, "addr", m.Addr)
			_ = p.ctl.Send(a, fd)
			unix.Close(fd)
		}
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

// relayLog re-emits the shadow's JSON log records through log, so that
// they come out in the supervisor's format, interleaved with its own.
func (p *shadowProc) relayLog(r *os.File, log *slog.Logger, ta string) {
	defer close(p.logDone)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rec, ok := decodeRecord(sc.Bytes())
		if !ok {
			log.Info("shadow: "+sc.Text(), "ta", ta, "pid", p.Pid())
			continue
		}
		named := false
		rec.Attrs(func(a slog.Attr) bool {
			named = a.Key == "ta"
			return !named
		})
		if !named {
			rec.AddAttrs(slog.String("ta", ta))
		}
		rec.AddAttrs(slog.Int("pid", p.Pid()))
		if log.Handler().Enabled(context.Background(), rec.Level) {
			_ = log.Handler().Handle(context.Background(), rec)
		}
	}
}

// decodeRecord turns one slog JSON line back into a record, keeping the
// order of its attributes.
func decodeRecord(line []byte) (slog.Record, bool) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return slog.Record{}, false
	}
	var (
		when  time.Time
		level slog.Level
		msg   string
		attrs []slog.Attr
	)
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return slog.Record{}, false
		}
		key, _ := kt.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return slog.Record{}, false
		}
		switch key {
		case slog.TimeKey:
			s, _ := v.(string)
			when, _ = time.Parse(time.RFC3339Nano, s)
		case slog.LevelKey:
			s, _ := v.(string)
			_ = level.UnmarshalText([]byte(s))
		case slog.MessageKey:
			msg, _ = v.(string)
		default:
			attrs = append(attrs, slog.Any(key, v))
		}
	}
	if when.IsZero() {
		when = time.Now()
	}
	rec := slog.NewRecord(when, level, msg, 0)
	rec.AddAttrs(attrs...)
	return rec, true
}

// takeStats keeps the counters a shadow sent; decodeShadowMsg has
// checked their shape (shadow.Stats.Check): their names become metric
// labels. Nil keeps the last ones.
func (p *shadowProc) takeStats(st *shadow.Stats) {
	if st == nil {
		return
	}
	p.mu.Lock()
	p.stats = *st
	p.mu.Unlock()
}

// stats asks the shadow for its counters; while it cannot answer (it is
// busy starting, or gone) the last ones seen stand.
func (p *shadowProc) Stats() shadow.Stats {
	select {
	case <-p.Done():
	default:
		if a, err := p.ctl.Call(&control.Msg{Type: control.MsgStats}, statsTimeout); err == nil {
			p.takeStats(a.Msg.Stats)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.stats
	select {
	case <-p.Done():
		st.OpenDescriptors = 0 // the kernel closed them all
	default:
	}
	return st
}

// stop asks the shadow to finish (SIGTERM) and kills it after grace,
// saying so in log.
func (p *shadowProc) stop(grace time.Duration, log *slog.Logger) {
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Done():
	case <-time.After(grace):
		// Tests look for this line: a shadow that needs SIGKILL to stop
		// has a bug however quickly the kill follows.
		log.Warn("shadow did not stop within its grace period after SIGTERM; killed", "grace", grace)
		_ = p.Cmd.Process.Kill()
		<-p.Done()
	}
}

// result waits for the process and says how it ended: nil when the TA
// exited with status 0 (or the shadow was stopped), the TA's failure as
// the shadow reported it, or how the process died.
func (p *shadowProc) result() error {
	<-p.Done()
	// The exit report and the last log lines come before EOF.
	select {
	case <-p.logDone:
	case <-time.After(time.Second):
	}
	deadline := time.Now().Add(time.Second)
	for {
		p.mu.Lock()
		o := p.outcome
		p.mu.Unlock()
		if o != nil {
			return o.Err()
		}
		if p.ctl.IsClosed() || time.Now().After(deadline) {
			return exitError(p.Pid(), p.Err())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// exitError describes a shadow process that ended without saying why.
func exitError(pid int, err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Errorf("shadow process %d killed by signal %d (%v)", pid, int(ws.Signal()), ws.Signal())
		}
		return fmt.Errorf("shadow process %d exited with status %d", pid, ee.ExitCode())
	}
	if err != nil {
		return fmt.Errorf("shadow process %d: %w", pid, err)
	}
	return fmt.Errorf("shadow process %d exited without reporting how its TA ended", pid)
}

// hostSocket makes a socket in the supervisor's (the host's) namespace
// for a shadow's question, if the TA's config allows it. The supervisor
// binds as root, so a published port below 1024 is refused unless the TA
// has privileged_ports, as the shadow's own bind would be. The socket
// never joins a port group (sockproxy.Bind sets no SO_REUSEPORT, and no
// SO_REUSEADDR on UDP, whatever the TA set on its own socket), so an
// address another process holds is EADDRINUSE for the TA; and it is made
// as uid, the TA's user (asUser), so that the firewall's owner matches
// see the TA's user, not root.
func hostSocket(m *control.Msg, publish, hostAccess, privilegedPorts bool, uid uint32) (int, error) {
	return asUser(uid, func() (int, error) { return hostSocketAsUser(m, publish, hostAccess, privilegedPorts) })
}

func hostSocketAsUser(m *control.Msg, publish, hostAccess, privilegedPorts bool) (int, error) {
	switch m.Type {
	case control.MsgBind:
		if !publish {
			return -1, fmt.Errorf("this TA publishes no address: %w", unix.EACCES)
		}
		ap, err := netip.ParseAddrPort(m.Addr)
		if err != nil || ap.Port() == 0 {
			return -1, fmt.Errorf("bad address %q: %w", m.Addr, unix.EINVAL)
		}
		if ap.Port() < 1024 && !privilegedPorts {
			return -1, fmt.Errorf("port %d is below 1024 and the TA has no privileged_ports: %w", ap.Port(), unix.EACCES)
		}
		return sockproxy.Bind(m.Network, ap)
	case control.MsgSocket:
		if !hostAccess {
			return -1, fmt.Errorf("this TA has no host access: %w", unix.EACCES)
		}
		return sockproxy.HostSocket(m.Network)
	}
	return -1, fmt.Errorf("unknown request %q: %w", m.Type, unix.EINVAL)
}

// asUser runs f on a thread whose filesystem uid is uid, so that a socket
// f makes is owned by uid: the kernel takes a socket's owner (sk_uid) from
// the fsuid of its maker (owner matches in the firewall see it). fsuid
// is per thread; the thread is thrown away if it cannot be set back.
func asUser(uid uint32, f func() (int, error)) (int, error) {
	if uid == 0 {
		return f()
	}
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		prev, _ := unix.SetfsuidRetUid(int(uid))
		if cur, _ := unix.SetfsuidRetUid(-1); cur != int(uid) {
			ch <- result{-1, fmt.Errorf("set the filesystem uid to %d: %w", uid, unix.EPERM)}
			return
		}
		fd, err := f()
		_, _ = unix.SetfsuidRetUid(prev)
		if cur, _ := unix.SetfsuidRetUid(-1); cur == prev {
			runtime.UnlockOSThread()
		}
		ch <- result{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}
