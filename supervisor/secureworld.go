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
	"syscall"
	"time"

	"github.com/tzmediator/tzbridge/config"
)

// secureWorld is the simulator running as a child process.
type secureWorld struct {
	cmd    *exec.Cmd
	socket string
	exited chan error
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
		args = append(args, "--ta", fmt.Sprintf("%s=%s", t.UUID, t.Builtin))
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
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the simulated secure world: %w", err)
	}
	log.Info("secure world started", "tee", "sim", "pid", cmd.Process.Pid, "socket", sock)
	sw := &secureWorld{cmd: cmd, socket: sock, exited: make(chan error, 1)}
	go func() { sw.exited <- cmd.Wait() }()
	return sw, nil
}

// stop asks the secure world to finish and kills it if it takes too long.
func (sw *secureWorld) stop(grace time.Duration) error {
	_ = sw.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-sw.exited:
		sw.exited <- err
		return ignoreSignalExit(err)
	case <-time.After(grace):
		_ = sw.cmd.Process.Kill()
		err := <-sw.exited
		sw.exited <- err
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
