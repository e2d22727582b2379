package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/config"
	"github.com/tzmediator/tzbridge/internal/teekind"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/ta/catalog"
	"github.com/tzmediator/tzbridge/teeclient"
	"github.com/tzmediator/tzbridge/teeclient/linuxtee"
)

// tee is the secure world the shadows talk to; each shadow process opens
// its own context.
//
// The simulator is supervised like a TA: when it dies, every session in
// it is gone (the shadows get TEEC_ERROR_TARGET_DEAD and end, and their
// runners apply each TA's restart policy), and the simulator is started
// again with back-off, hosting the TAs configured at that moment. Shadows
// that start meanwhile wait for it (socketNode).
type tee struct {
	// device is "sim" or the TEE device's path, as the shadows get it.
	device string

	// The rest is for the simulator only.
	exe, runDir string
	threads     int // the simulator's --procs
	log         *slog.Logger

	mu sync.Mutex
	// tas is the catalog the simulator hosts, by UUID: what it was
	// started with, changed by define and undefine.
	tas map[teeclient.UUID]catalog.TA
	// sim is the running simulator, nil while it is being restarted;
	// node is its socket (O_PATH), handed to the shadows.
	sim  *secureWorld
	node *os.File
	// up is closed while sim runs; a new one is made when it dies.
	up chan struct{}
	// running and restarts are for the status view, which must not wait
	// for a (re)start in progress.
	running  atomic.Bool
	restarts atomic.Int64
	// supervised is closed when supervise returns.
	supervised chan struct{}
}

// openTEE makes the configured secure world available: the simulator,
// started here as a child process and kept running until ctx is done, or a
// /dev/teeN device, checked here so that a missing or foreign device fails
// the start and not each shadow.
func openTEE(ctx context.Context, exe, runDir string, cfg *config.Config, log *slog.Logger) (*tee, error) {
	switch cfg.TEEKind() {
	case teekind.Sim:
		t := &tee{device: "sim", exe: exe, runDir: runDir, threads: cfg.SimThreads, log: log, tas: map[teeclient.UUID]catalog.TA{},
			up: make(chan struct{}), supervised: make(chan struct{})}
		for _, ta := range cfg.TAs {
			c := catalog.FromConfig(ta)
			t.tas[c.UUID] = c
		}
		t.mu.Lock()
		err := t.startLocked()
		t.mu.Unlock()
		if err != nil {
			return nil, err
		}
		go t.supervise(ctx)
		return t, nil
	case teekind.Auto:
		path, _, err := linuxtee.Discover()
		if err != nil {
			return nil, fmt.Errorf("tee: auto: %w", err)
		}
		return checkDevice(path, log)
	default:
		return checkDevice(cfg.TEE, log)
	}
}

func checkDevice(path string, log *slog.Logger) (*tee, error) {
	d, err := linuxtee.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tee: %w", err)
	}
	log.Info("TEE device found", "device", path, "tee", linuxtee.Describe(d.Version()))
	d.Close()
	return &tee{device: path}, nil
}

// startLocked starts the simulator with the current catalog; t.mu is
// held, so that define and undefine wait for it and are not lost.
func (t *tee) startLocked() error {
	tas := make([]catalog.TA, 0, len(t.tas))
	for _, ta := range t.tas {
		tas = append(tas, ta)
	}
	sort.Slice(tas, func(i, j int) bool { return tas[i].Name < tas[j].Name })
	sw, err := startSecureWorld(t.exe, t.runDir, t.threads, tas, t.log)
	if err != nil {
		return err
	}
	// The simulator answers once its TAs are loaded; one that exits
	// first (a TA it cannot load) is not up, and must not be restarted
	// in a loop at start.
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	err = sw.adminRequest(ctx, securesim.AdminRequest{Op: securesim.AdminPing})
	cancel()
	if err != nil {
		_ = sw.stop(0)
		if ee := sw.Err(); ee != nil {
			return fmt.Errorf("the simulated secure world did not start: %v", ee)
		}
		return fmt.Errorf("the simulated secure world did not start: %w", err)
	}
	// The runtime directory stays closed to everyone but root; a shadow
	// running as another user reaches the socket through the descriptor
	// it inherits, so the node itself may be open.
	if err := os.Chmod(sw.socket, 0o666); err != nil {
		_ = sw.stop(0)
		return fmt.Errorf("secure world socket: %w", err)
	}
	fd, err := unix.Open(sw.socket, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = sw.stop(0)
		return fmt.Errorf("secure world socket: %w", err)
	}
	if t.node != nil {
		t.node.Close()
	}
	t.sim, t.node = sw, os.NewFile(uintptr(fd), sw.socket)
	close(t.up)
	t.running.Store(true)
	return nil
}

// supervise restarts the simulator whenever it dies, until ctx is done.
func (t *tee) supervise(ctx context.Context) {
	defer close(t.supervised)
	const minBackoff, maxBackoff, healthy = 100 * time.Millisecond, 5 * time.Second, 10 * time.Second
	backoff := minBackoff
	for {
		t.mu.Lock()
		sw := t.sim
		t.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-sw.Done():
		}
		if time.Since(sw.started) > healthy {
			backoff = minBackoff
		}
		t.mu.Lock()
		t.sim = nil
		t.up = make(chan struct{})
		t.running.Store(false)
		n := t.restarts.Add(1)
		t.mu.Unlock()
		t.log.Error("secure world exited; every session in it is TARGET_DEAD; restarting", "err", sw.Err(), "in", backoff, "restarts", n)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
			t.mu.Lock()
			err := t.startLocked()
			t.mu.Unlock()
			if err == nil {
				break
			}
			t.log.Error("cannot restart the secure world", "err", err, "in", backoff)
		}
	}
}

// socketNode is a descriptor of the running simulator's socket for a new
// shadow to inherit (the caller closes it), waiting while the simulator is
// being restarted; nil on a device.
func (t *tee) socketNode(ctx context.Context) (*os.File, error) {
	if t.device != "sim" {
		return nil, nil
	}
	for {
		t.mu.Lock()
		up, node := t.up, t.node
		if t.sim != nil {
			// A copy: the node is replaced (and closed) when the
			// simulator restarts, maybe while the shadow starts.
			fd, err := unix.FcntlInt(node.Fd(), unix.F_DUPFD_CLOEXEC, 0)
			t.mu.Unlock()
			if err != nil {
				return nil, fmt.Errorf("secure world socket: %w", err)
			}
			return os.NewFile(uintptr(fd), node.Name()), nil
		}
		t.mu.Unlock()
		select {
		case <-up:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// status is the simulator's part of a TA's status view.
func (t *tee) status() (state string, restarts int) {
	if t.device != "sim" {
		return "device", 0
	}
	n := int(t.restarts.Load())
	if !t.running.Load() {
		return "restarting", n
	}
	return "running", n
}

// startTimeout bounds how long the simulator may take to load its TAs
// (wasm TAs are compiled then).
const startTimeout = time.Minute

// adminTimeout bounds one define or undefine in the running simulator.
const adminTimeout = 10 * time.Second

// define adds a TA to the simulator's catalog and to the running
// simulator, so that its shadow can open a session; a TA hosted already
// (one the simulator was started with) is left as it is. An error from the
// simulator (a wasm file that does not load, say) leaves the catalog as
// it was. While the simulator is being restarted, define waits for it
// (at most startTimeout): a TA the simulator has not checked must not join the catalog, since
// one that does not load would fail every restart.
func (t *tee) define(ctx context.Context, ta catalog.TA) error {
	if t.device != "sim" {
		return nil // a device has its TAs installed by other means
	}
	wait := time.NewTimer(startTimeout)
	defer wait.Stop()
	for {
		t.mu.Lock()
		if old, dup := t.tas[ta.UUID]; dup {
			t.mu.Unlock()
			if old.Spec() == ta.Spec() {
				return nil // hosted since the simulator started
			}
			return fmt.Errorf("secure world: UUID %v is already TA %s's", ta.UUID, old.Name)
		}
		if t.sim != nil {
			break // t.mu stays held
		}
		up := t.up
		t.mu.Unlock()
		select {
		case <-up:
		case <-ctx.Done():
			return fmt.Errorf("secure world: define TA %s: %w", ta.Name, ctx.Err())
		case <-wait.C:
			return fmt.Errorf("secure world: define TA %s: the simulator is not back after %v", ta.Name, startTimeout)
		}
	}
	defer t.mu.Unlock()
	t.tas[ta.UUID] = ta
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	err := t.sim.adminRequest(ctx, securesim.AdminRequest{Op: securesim.AdminDefine, Spec: ta.Spec()})
	if err != nil && !errors.Is(err, errAdminLost) {
		delete(t.tas, ta.UUID)
		return fmt.Errorf("secure world: define TA %s: %w", ta.Name, err)
	}
	return nil
}

// undefine removes a TA from the catalog and the running simulator; its
// shadow has stopped.
func (t *tee) undefine(ctx context.Context, uuid teeclient.UUID) error {
	if t.device != "sim" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.tas[uuid]; !ok {
		return nil
	}
	delete(t.tas, uuid)
	if t.sim == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	err := t.sim.adminRequest(ctx, securesim.AdminRequest{Op: securesim.AdminUndefine, UUID: uuid})
	if err != nil && !errors.Is(err, errAdminLost) {
		return fmt.Errorf("secure world: undefine TA %v: %w", uuid, err)
	}
	return nil
}

// close stops the simulator for good; the shadows have stopped and ctx
// (openTEE's) is done, so it is not restarted.
func (t *tee) close(log *slog.Logger) {
	if t.device != "sim" {
		return
	}
	<-t.supervised
	t.mu.Lock()
	sw, node := t.sim, t.node
	t.sim, t.node = nil, nil
	t.mu.Unlock()
	if node != nil {
		node.Close()
	}
	if sw != nil {
		start := time.Now()
		if err := sw.stop(2 * time.Second); err != nil {
			log.Warn("secure world stopped badly", "err", err)
		}
		log.Info("secure world stopped", "took", time.Since(start).Round(time.Millisecond))
	}
}
