package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/tzmediator/tzbridge/internal/child"
	"github.com/tzmediator/tzbridge/internal/seqpacket"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/ta/catalog"
)

// secureWorld is the simulator running as a child process.
type secureWorld struct {
	*child.Process
	socket  string
	started time.Time

	// admin is the socket that defines and undefines TAs in the running
	// simulator (securesim.Host.ServeAdmin); one request at a time.
	adminMu sync.Mutex
	admin   *net.UnixConn
	// adminBroken is set, under adminMu, once a request went unanswered
	// in time: its answer may still come and would be taken for the
	// next request's, so the socket is not used again.
	adminBroken bool
}

// startSecureWorld starts `tzbridge secure-world` hosting tas. The
// listening socket is made here and inherited, so the child is reachable
// as soon as it starts: there is no readiness race. A simulator started
// again after a crash listens on the same path; shadows of the old one
// hold the old socket node, so they cannot reach the new one by mistake.
func startSecureWorld(exe, runDir string, threads int, tas []catalog.TA, log *slog.Logger) (*secureWorld, error) {
	sock := filepath.Join(runDir, "secure-world.sock")
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("listen for the secure world: %w", err)
	}
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("listen for the secure world: %w", err)
	}
	l.SetUnlinkOnClose(false)
	lf, err := l.File()
	l.Close()
	if err != nil {
		return nil, fmt.Errorf("listen for the secure world: %w", err)
	}
	defer lf.Close()
	admin, theirs, err := seqpacket.ForChild()
	if err != nil {
		return nil, fmt.Errorf("secure world admin socket: %w", err)
	}
	defer theirs.Close()

	args := []string{"secure-world", "--listen-fd", "3", "--admin-fd", "4", "--procs", strconv.Itoa(threads)}
	for _, t := range tas {
		args = append(args, "--ta", t.Spec())
	}
	cmd := exec.Command(exe, args...)
	cmd.ExtraFiles = []*os.File{lf, theirs}
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	// Its own process group, so that a terminal's ^C reaches the bridge
	// alone and the bridge decides the order of shutdown.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	proc, err := child.Start(cmd, nil)
	if err != nil {
		admin.Close()
		return nil, fmt.Errorf("the simulated secure world: %w", err)
	}
	go func() {
		<-proc.Done()
		admin.Close()
	}()
	sw := &secureWorld{Process: proc, socket: sock, admin: admin}
	sw.started = time.Now()
	log.Info("secure world started", "tee", "sim", "pid", cmd.Process.Pid, "socket", sock)
	return sw, nil
}

// errAdminLost says the simulator went away before it answered an admin
// request; it is being restarted, and the restart hosts the current TAs.
var errAdminLost = errors.New("the secure world is gone")

// adminRequest sends one admin request and waits for its answer. An error
// the simulator answers with is returned as is; a broken socket is
// errAdminLost. A request not answered by ctx's deadline has an unknown
// outcome, and its late answer would be read as the next request's: the
// simulator is killed (supervise starts it again with the catalog, in a
// known state) and the request fails with an error that is not
// errAdminLost, so that define and undefine leave the TA out.
func (sw *secureWorld) adminRequest(ctx context.Context, req securesim.AdminRequest) error {
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("secure world admin: encode %s: %w", req.Op, err)
	}
	sw.adminMu.Lock()
	defer sw.adminMu.Unlock()
	if sw.adminBroken {
		return fmt.Errorf("%w: an earlier request went unanswered", errAdminLost)
	}
	if d, ok := ctx.Deadline(); ok {
		_ = sw.admin.SetDeadline(d)
		defer sw.admin.SetDeadline(time.Time{})
	}
	if _, err := sw.admin.Write(b); err != nil {
		return fmt.Errorf("%w: %v", errAdminLost, err)
	}
	buf := make([]byte, 64<<10)
	n, err := sw.admin.Read(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		sw.adminBroken = true
		_ = sw.Cmd.Process.Kill()
		return fmt.Errorf("secure world admin: no answer to %s in time; the secure world is restarted: %w", req.Op, err)
	}
	if err != nil || n == 0 {
		return fmt.Errorf("%w: no answer to %s: %v", errAdminLost, req.Op, err)
	}
	var rep securesim.AdminReply
	if err := json.Unmarshal(buf[:n], &rep); err != nil {
		return fmt.Errorf("secure world admin: bad answer to %s: %w", req.Op, err)
	}
	if rep.Error != "" {
		return errors.New(rep.Error)
	}
	return nil
}

// stop asks the secure world to finish and kills it if it takes too long.
func (sw *secureWorld) stop(grace time.Duration) error {
	_ = sw.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-sw.Done():
		return ignoreSignalExit(sw.Err())
	case <-time.After(grace):
		_ = sw.Cmd.Process.Kill()
		<-sw.Done()
		return fmt.Errorf("secure world did not stop within %v; killed", grace)
	}
}

func ignoreSignalExit(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && !ee.Exited() {
		return nil
	}
	return err
}
