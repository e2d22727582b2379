// Package supervisor is `tzbridge run`: it reads nothing itself but a
// checked configuration, starts the simulated secure world when no device
// is configured, prepares each TA's root under the mount, runs one shadow
// per TA, restarts shadows by policy, and on cancellation stops everything
// and leaves nothing behind. It is not on the path of a TA's calls.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tzmediator/tzbridge/config"
	"github.com/tzmediator/tzbridge/shadow"
	"github.com/tzmediator/tzbridge/teeclient"
	"github.com/tzmediator/tzbridge/teeclient/simtee"
)

// Options configure a supervisor.
type Options struct {
	Config *config.Config
	// Executable is the tzbridge binary, re-executed for the secure world.
	Executable string
	Logger     *slog.Logger
}

// Run bridges the configured TAs until ctx is done, then shuts down.
func Run(ctx context.Context, opt Options) error {
	cfg, log := opt.Config, opt.Logger
	if cfg.TEE != "sim" {
		return fmt.Errorf("tee: %q: only the simulator (tee: sim) is supported by this build; see docs/hardware.md", cfg.TEE)
	}
	runDir, err := os.MkdirTemp("", "tzbridge-run.")
	if err != nil {
		return fmt.Errorf("runtime directory: %w", err)
	}
	defer os.RemoveAll(runDir)

	for _, t := range cfg.TAs {
		root := filepath.Join(cfg.Mount, t.Name)
		if err := os.MkdirAll(root, 0o755); err != nil {
			return fmt.Errorf("TA %s: root directory: %w", t.Name, err)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sw, err := startSecureWorld(ctx, opt.Executable, runDir, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := sw.stop(2 * time.Second); err != nil {
			log.Warn("secure world stopped badly", "err", err)
		}
	}()
	backend, err := simtee.Dial(ctx, sw.socket)
	if err != nil {
		return err
	}
	tc := teeclient.NewContext(backend)
	defer tc.Close()

	var wg sync.WaitGroup
	for _, t := range cfg.TAs {
		wg.Go(func() { superviseTA(ctx, tc, cfg.Mount, t, log) })
	}
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-sw.exited:
		sw.exited <- err
		runErr = fmt.Errorf("the simulated secure world exited: %v", err)
		log.Error("secure world exited", "err", err)
		cancel()
	}
	wg.Wait()
	return runErr
}

// superviseTA runs the TA's shadow and restarts it by the TA's policy,
// backing off while it keeps failing.
func superviseTA(ctx context.Context, tc *teeclient.Context, mount string, t config.TA, log *slog.Logger) {
	log = log.With("ta", t.Name)
	const minBackoff, maxBackoff, healthy = 100 * time.Millisecond, 5 * time.Second, 10 * time.Second
	backoff := minBackoff
	for restarts := 0; ; restarts++ {
		sh, err := shadow.New(shadow.Config{
			Name:           t.Name,
			UUID:           t.UUID,
			Root:           filepath.Join(mount, t.Name),
			Mailbox:        t.Mailbox,
			MaxDescriptors: t.Limits.Descriptors,
			Logger:         log,
		})
		if err != nil {
			log.Error("cannot start shadow", "err", err)
			return
		}
		started := time.Now()
		err = sh.Run(ctx, tc)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil && t.Restart != "always":
			log.Info("TA exited; not restarting", "restart", t.Restart)
			return
		case err != nil && t.Restart == "never":
			log.Error("TA failed; not restarting", "err", err, "restart", t.Restart)
			return
		}
		if time.Since(started) > healthy {
			backoff = minBackoff
		}
		log.Warn("TA stopped; restarting", "err", errOrNil(err), "in", backoff, "restarts", restarts+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func errOrNil(err error) any {
	if err == nil {
		return "exited"
	}
	if errors.Is(err, teeclient.ErrorTargetDead) {
		return "TA died (TEEC_ERROR_TARGET_DEAD)"
	}
	return err.Error()
}
