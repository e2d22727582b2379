package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tzmediator/tzbridge/config"
	"github.com/tzmediator/tzbridge/internal/sdnotify"
	"github.com/tzmediator/tzbridge/supervisor"
)

func newRunCommand(g *globalFlags) *cobra.Command {
	var configPath, mount string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the bridge: the secure world, a shadow per TA, and their endpoints",
		Long: `run reads the configuration, starts the simulated secure world (unless the
configuration names a TEE device), creates each TA's directory under the
mount, and serves every TA's POSIX calls until SIGINT or SIGTERM. On a
signal it stops all TAs, also those blocked in accept or read, and exits;
a second signal exits at once (the next run clears what that leaves).
The configuration is checked first, as "tzbridge check" does.

SIGHUP reads the configuration again: added TAs start, removed TAs stop,
changed TAs restart, and the others (and their clients) are not touched.
A configuration that does not load is rejected with a log line and the
running one kept; mount and tee cannot change without a restart.

Under systemd (Type=notify, configs/tzbridge.service) it reports READY=1 once
every TA's endpoints exist and every wasm TA serves its listen sockets (or
has ended trying), RELOADING=1 then READY=1 around a reload, the
TAs' states as STATUS=, and STOPPING=1 when it shuts down; see
docs/service.md.`,
		Example: `  tzbridge run --config configs/echo.yaml
  tzbridge run --config configs/echo.yaml --mount /tmp/tz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			// A reload reads the file again the same way, --mount included.
			load := func() (*config.Config, error) {
				cfg, err := loadConfig(configPath)
				if err != nil {
					return nil, err
				}
				if mount != "" {
					if !filepath.IsAbs(mount) {
						return nil, fmt.Errorf("--mount %q: want an absolute path", mount)
					}
					cfg.Mount = mount
					if err := cfg.Validate(); err != nil {
						return nil, fmt.Errorf("--mount: %w", err)
					}
				}
				return cfg, nil
			}
			cfg, err := load()
			if err != nil {
				return err
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the tzbridge binary: %w", err)
			}
			// Under systemd (Type=notify) the manager learns readiness,
			// status, reloads and shutdown from us; elsewhere n is nil
			// and a no-op.
			n, err := sdnotify.FromEnv()
			if err != nil {
				return err
			}
			defer n.Close()
			notify := func(what string, f func() error) {
				if err := f(); err != nil {
					log.Warn("cannot notify the service manager", "what", what, "err", err)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// STOPPING=1 as soon as the signal arrives: stopping TAs and
			// unmounting take a while, and the manager should not take
			// the service for hung meanwhile.
			defer context.AfterFunc(ctx, func() {
				notify("stopping", func() error { return n.Notify("STOPPING=1", "STATUS=stopping") })
				// A second SIGINT or SIGTERM kills at once, for a
				// shutdown that hangs; the next run clears what it
				// leaves (the mount, the namespaces).
				stop()
			})()
			// SIGHUP reloads; a burst of them while one reload runs is
			// one more reload, not many.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			reload := make(chan struct{})
			go func() {
				for {
					select {
					case <-hup:
					case <-ctx.Done():
						return
					}
					select {
					case reload <- struct{}{}:
					case <-ctx.Done():
						return
					}
				}
			}()
			opts := supervisor.Options{
				Config:     cfg,
				Executable: exe,
				Logger:     log,
				Reload:     reload,
				LoadConfig: load,
				Ready: func() {
					log.Info("ready: every TA's endpoints and listen sockets exist")
					notify("ready", n.Ready)
				},
				Reloading: func() { notify("reloading", n.Reloading) },
			}
			if n != nil { // the status text has no reader otherwise
				opts.Status = func(s string) {
					notify("status", func() error { return n.Status(s) })
				}
			}
			return supervisor.Run(ctx, opts)
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "configuration file (required), e.g. configs/echo.yaml")
	cmd.Flags().StringVar(&mount, "mount", "", "serve the TA tree here instead of the configuration's mount")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}
