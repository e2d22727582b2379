package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tzmediator/tzbridge/internal/shadowmain"
)

// newShadowCommand is the hidden `tzbridge shadow`: one TA's shadow
// process, started by `tzbridge run` inside the TA's network namespace
// with the TA's identity and limits. It reads what to serve from its
// control socket and writes JSON log records (at --log-level) to its log
// descriptor, which run passes on in its own format.
func newShadowCommand(g *globalFlags) *cobra.Command {
	var ta string
	var controlFD, logFD int
	cmd := &cobra.Command{
		Use:     "shadow",
		Short:   "Serve one TA's POSIX calls (started by run; not run by hand)",
		Hidden:  true,
		Example: `  tzbridge shadow --ta echo --control-fd 3 --log-fd 4   # how tzbridge run starts it`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: %w", g.logLevel, err)
			}
			if controlFD < 3 || logFD < 3 {
				return fmt.Errorf("shadow %s: --control-fd and --log-fd are descriptors inherited from tzbridge run", ta)
			}
			logs := os.NewFile(uintptr(logFD), "log")
			defer logs.Close()
			log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level}))
			// SIGTERM is how run stops a shadow; ^C on run's terminal
			// does not reach this process group.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			err := shadowmain.Run(ctx, shadowmain.Options{
				Control: os.NewFile(uintptr(controlFD), "control"),
				Logger:  log,
			})
			if err != nil {
				// Already logged and reported to run, which decides
				// what happens next.
				stop()
				logs.Close()
				os.Exit(1)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&ta, "ta", "", "the TA's name (for ps and logs)")
	cmd.Flags().IntVar(&controlFD, "control-fd", -1, "the control socket inherited from run")
	cmd.Flags().IntVar(&logFD, "log-fd", -1, "where JSON log records go, inherited from run")
	return cmd
}
