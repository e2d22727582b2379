package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/tzmediator/tzbridge/config"
	"github.com/tzmediator/tzbridge/ta/catalog"
)

// secureWorld is the simulator running as a child process.
type secureWorld struct {
	cmd    *exec.Cmd
	socket string
	done   chan struct{} // closed when the process has exited
	err    error         // its exit status, once done
}

// startSecureWorld starts `tzbridge secure-world` hosting the configured
// built-in TAs. The listening socket is made here and inherited, so the
// child is reachable as soon as it starts: there is no readiness race.
func startSecureWorld(ctx context.Context, exe, runDir string, cfg *config.Config, log *slog.Logger) (*secureWorld, error) {
	sock := filepath.Join(runDir, "secure-world.sock")
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

	args := []string{"secure-world", "--listen-fd", "3"}
	for _, t := range cfg.TAs {
		args = append(args, "--ta", catalog.FromConfig(t).Spec())
	}
	cmd := exec.Command(exe, args...)
	cmd.ExtraFiles = []*os.File{lf}
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// The secure world must not outlive the bridge, even after kill -9.
		Pdeathsig: syscall.SIGKILL,
		Setpgid:   true,
	}
	sw := &secureWorld{cmd: cmd, socket: sock, done: make(chan struct{})}
	// Pdeathsig fires when the *thread* that forked the child exits, and
	// the Go runtime ends threads (a goroutine that exits while locked to
	// its thread takes the thread with it — the shadows do). So the fork
	// happens on a thread locked for the child's whole life.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		sw.err = cmd.Wait()
		close(sw.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start the simulated secure world: %w", err)
	}
	log.Info("secure world started", "tee", "sim", "pid", cmd.Process.Pid, "socket", sock)
	return sw, nil
}

// stop asks the secure world to finish and kills it if it takes too long.
func (sw *secureWorld) stop(grace time.Duration) error {
	_ = sw.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-sw.done:
		return ignoreSignalExit(sw.err)
	case <-time.After(grace):
		_ = sw.cmd.Process.Kill()
		<-sw.done
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
