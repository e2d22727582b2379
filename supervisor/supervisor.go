// Package supervisor is `tzbridge run`: given a checked configuration, it
// starts the simulated secure world when no device is configured, mounts
// the /tz tree with each TA's directory and declared endpoints, runs one
// shadow per TA, restarts shadows by policy, and on cancellation stops
// everything and leaves nothing behind. It is not on the path of a TA's
// calls.
package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/tzmediator/tzbridge/config"
	"github.com/tzmediator/tzbridge/fusefs"
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
	runDir, err := os.MkdirTemp("", "tzbridge-run.")
	if err != nil {
		return fmt.Errorf("runtime directory: %w", err)
	}
	defer os.RemoveAll(runDir)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tee, err := openTEE(ctx, opt.Executable, runDir, cfg, log)
	if err != nil {
		return err
	}
	defer tee.close(log)
	tc := tee.ctx

	// The tree outlives ctx: it is unmounted only after the shadows have
	// stopped using it.
	tree, err := fusefs.Mount(context.WithoutCancel(ctx), fusefs.Options{
		Mountpoint: cfg.Mount,
		Logger:     log.With("component", "fusefs"),
		MayModify:  mayModify,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := tree.Close(); err != nil {
			log.Warn("unmount", "mount", cfg.Mount, "err", err)
		}
	}()
	log.Info("TA tree mounted", "mount", cfg.Mount)

	var wg sync.WaitGroup
	defer func() {
		cancel() // also on an early return: the runners end with ctx
		wg.Wait()
	}()
	for _, t := range cfg.TAs {
		r := &taRunner{cfg: t, tree: tree, tc: tc, log: log.With("ta", t.Name), shadowLog: log, state: "starting", since: time.Now()}
		opts, err := r.treeOptions()
		if err != nil {
			return fmt.Errorf("TA %s: %w", t.Name, err)
		}
		root, err := tree.AddTA(t.Name, opts)
		if err != nil {
			return fmt.Errorf("TA %s: %w", t.Name, err)
		}
		for _, e := range t.Endpoints {
			r.log.Info("endpoint", "path", filepath.Join(root, e.Name), "kind", e.Kind, "mode", fmt.Sprintf("%#o", e.Mode.Perm), "owner", e.Owner, "group", e.Group)
		}
		wg.Go(func() { r.run(ctx, root) })
	}
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case <-tee.exited():
		runErr = fmt.Errorf("the simulated secure world exited: %v", tee.sim.err)
		log.Error("secure world exited", "err", tee.sim.err)
	}
	return runErr
}

// mayModify lets only tzbridge itself — the shadows, acting for their TAs —
// create, rename and delete nodes in a TA's tree; a TA's ca_may_modify
// setting opens it to CAs. FUSE names the calling thread, so it is mapped
// to its process first.
func mayModify(_ string, caller fuse.Caller) bool {
	pid, err := fusefs.ProcessID(caller.Pid)
	return err == nil && pid == os.Getpid()
}
