package main

import (
	"os"

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
			// SIGTERM is how run stops a shadow; ^C on run's terminal
			// does not reach this process group.
			usage, err := shadowmain.Main(cmd.Context(), ta, controlFD, logFD, g.logLevel)
			if usage != nil {
				return usage
			}
			if err != nil {
				// Already logged and reported to run, which decides
				// what happens next.
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
