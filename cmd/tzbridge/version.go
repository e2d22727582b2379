package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildTime may be set at build time with -ldflags "-X main.buildTime=…":
// the build info records the commit's time, not the build's.
var buildTime string

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the tzbridge version, revision and Go version",
		Long: `Prints the module version, the VCS revision the binary was built from
("+dirty" when the tree had changes; "unknown" for go run or a build
outside a checkout), the commit time, the build time if it was set with
-ldflags "-X main.buildTime=…", and the Go version.`,
		Example: "  tzbridge version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi, ok := debug.ReadBuildInfo()
			if !ok {
				return fmt.Errorf("version: the binary carries no build information")
			}
			writeVersion(cmd.OutOrStdout(), bi, buildTime)
			return nil
		},
	}
}

// writeVersion prints what bi says about the build, one "key: value" a
// line after a first line "tzbridge VERSION".
func writeVersion(w io.Writer, bi *debug.BuildInfo, built string) {
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	rev := settings["vcs.revision"]
	switch {
	case rev == "":
		rev = "unknown"
	case settings["vcs.modified"] == "true":
		rev += "+dirty"
	}
	fmt.Fprintf(w, "tzbridge %s\n", v)
	fmt.Fprintf(w, "module:    %s %s\n", bi.Main.Path, v)
	fmt.Fprintf(w, "revision:  %s\n", rev)
	if t := settings["vcs.time"]; t != "" {
		fmt.Fprintf(w, "committed: %s\n", t)
	}
	if built != "" {
		fmt.Fprintf(w, "built:     %s\n", built)
	}
	fmt.Fprintf(w, "go:        %s %s/%s\n", bi.GoVersion, runtime.GOOS, runtime.GOARCH)
}
