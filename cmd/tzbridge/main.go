// Command tzbridge bridges TrustZone Trusted Applications to unmodified
// normal-world programs through plain POSIX endpoints.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tzmediator/tzbridge/shadow"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		// A configuration error may list several problems, one a line;
		// each gets the prefix, so that every line reads on its own
		// (grep, journald).
		for line := range strings.Lines(err.Error()) {
			fmt.Fprint(os.Stderr, "tzbridge: ", line)
		}
		fmt.Fprintln(os.Stderr)
		os.Exit(1)
	}
}

type globalFlags struct {
	logFormat string
	logLevel  string
}

func newRootCommand() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "tzbridge",
		Short: "Bridge TrustZone Trusted Applications to normal-world programs over POSIX",
		Long: `tzbridge lets Trusted Applications (TAs) in the Arm TrustZone secure world
talk to unmodified normal-world programs over named pipes, UNIX, TCP and UDP
sockets. Each TA's POSIX calls are performed by its shadow in the normal
world; clients open /tz/<ta>/… or connect to the TA's addresses.

Without TrustZone hardware the built-in simulated secure world plays OP-TEE.`,
		Example:       "  tzbridge run --config configs/echo.yaml",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json (under journald, text leaves out the time)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: trace (debug and a line per TA call), debug, info, warn or error")
	root.AddCommand(newRunCommand(g))
	root.AddCommand(newStatusCommand())
	root.AddCommand(newCheckCommand())
	root.AddCommand(newTEEInfoCommand())
	root.AddCommand(newSecureWorldCommand(g))
	root.AddCommand(newVersionCommand())
	root.AddCommand(newBenchCommand())
	root.AddCommand(newShadowCommand(g))
	// cobra adds help and completion itself when the program runs; made
	// here, they can be given examples like every other command.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Example = "  tzbridge help run"
		case "completion":
			c.Example = "  tzbridge completion bash > /etc/bash_completion.d/tzbridge"
			for _, sh := range c.Commands() {
				sh.Example = "  tzbridge completion " + sh.Name()
			}
		}
	}
	// cobra's help shows Long instead of Short; ours shows the one-line
	// purpose first, then the details.
	root.SetHelpTemplate(helpTemplate)
	return root
}

const helpTemplate = `{{.Short | trimTrailingWhitespaces}}
{{with .Long}}
{{. | trimTrailingWhitespaces}}
{{end}}
{{if or .Runnable .HasSubCommands}}{{.UsageString}}{{end}}`

func (g *globalFlags) logger() (*slog.Logger, error) {
	var level slog.Level
	if g.logLevel == "trace" {
		level = shadow.LevelCall
	} else if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want trace, debug, info, warn or error", g.logLevel)
	}
	h, err := newLogHandler(g.logFormat, os.Stderr, &slog.HandlerOptions{Level: level}, toJournal(os.Stderr))
	if err != nil {
		return nil, err
	}
	return slog.New(h), nil
}
