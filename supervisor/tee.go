package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/tzmediator/tzbridge/config"
	"github.com/tzmediator/tzbridge/teeclient"
	"github.com/tzmediator/tzbridge/teeclient/linuxtee"
	"github.com/tzmediator/tzbridge/teeclient/simtee"
)

// tee is the secure world the bridge talks to.
type tee struct {
	ctx *teeclient.Context
	// sim is the simulator process, nil on a device.
	sim *secureWorld
}

// openTEE connects to the configured secure world: the simulator, started
// here as a child process, or a /dev/teeN device.
func openTEE(ctx context.Context, exe, runDir string, cfg *config.Config, log *slog.Logger) (*tee, error) {
	switch cfg.TEE {
	case "sim":
		sw, err := startSecureWorld(ctx, exe, runDir, cfg, log)
		if err != nil {
			return nil, err
		}
		b, err := simtee.Dial(ctx, sw.socket)
		if err != nil {
			_ = sw.stop(0)
			return nil, err
		}
		return &tee{ctx: teeclient.NewContext(b), sim: sw}, nil
	case "auto":
		path, _, err := linuxtee.Discover()
		if err != nil {
			return nil, fmt.Errorf("tee: auto: %w", err)
		}
		return openDevice(path, log)
	default:
		return openDevice(cfg.TEE, log)
	}
}

func openDevice(path string, log *slog.Logger) (*tee, error) {
	d, err := linuxtee.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tee: %w", err)
	}
	log.Info("TEE device opened", "device", path, "tee", linuxtee.Describe(d.Version()))
	return &tee{ctx: teeclient.NewContext(d)}, nil
}

// exited is closed when the simulator ends; a device never does.
func (t *tee) exited() <-chan struct{} {
	if t.sim == nil {
		return nil
	}
	return t.sim.done
}

func (t *tee) close(log *slog.Logger) {
	t.ctx.Close()
	if t.sim != nil {
		if err := t.sim.stop(2 * time.Second); err != nil {
			log.Warn("secure world stopped badly", "err", err)
		}
	}
}
