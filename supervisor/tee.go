package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/config"
	"github.com/tzmediator/tzbridge/teeclient/linuxtee"
)

// tee is the secure world the shadows talk to; each shadow process opens
// its own context.
type tee struct {
	// device is "sim" or the TEE device's path, as the shadows get it.
	device string
	// sim is the simulator process, nil on a device.
	sim *secureWorld
	// node is the simulator's socket (O_PATH), inherited by the shadows.
	node *os.File
}

// openTEE makes the configured secure world available: the simulator,
// started here as a child process, or a /dev/teeN device, checked here so
// that a missing or foreign device fails the start and not each shadow.
func openTEE(ctx context.Context, exe, runDir string, cfg *config.Config, log *slog.Logger) (*tee, error) {
	switch cfg.TEE {
	case "sim":
		sw, err := startSecureWorld(ctx, exe, runDir, cfg, log)
		if err != nil {
			return nil, err
		}
		// The runtime directory stays closed to everyone but root; a
		// shadow running as another user reaches the socket through the
		// descriptor it inherits, so the node itself may be open.
		if err := os.Chmod(sw.socket, 0o666); err != nil {
			_ = sw.stop(0)
			return nil, fmt.Errorf("secure world socket: %w", err)
		}
		fd, err := unix.Open(sw.socket, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			_ = sw.stop(0)
			return nil, fmt.Errorf("secure world socket: %w", err)
		}
		return &tee{device: "sim", sim: sw, node: os.NewFile(uintptr(fd), sw.socket)}, nil
	case "auto":
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

// exited is closed when the simulator ends; a device never does.
func (t *tee) exited() <-chan struct{} {
	if t.sim == nil {
		return nil
	}
	return t.sim.done
}

func (t *tee) close(log *slog.Logger) {
	if t.node != nil {
		t.node.Close()
	}
	if t.sim != nil {
		if err := t.sim.stop(2 * time.Second); err != nil {
			log.Warn("secure world stopped badly", "err", err)
		}
	}
}
