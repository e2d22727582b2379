package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tzmediator/tzbridge/config"
)

func newStatusCommand() *cobra.Command {
	var configPath, mount string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the state of every TA of a running bridge",
		Long: `status reads each TA's read-only status view, <mount>/<ta>/.tz/status, from
the tree a running "tzbridge run" serves, and prints one line per TA: its
state, restarts, open descriptors, calls, errors and bytes moved.`,
		Example: `  tzbridge status
  tzbridge status --config configs/echo.yaml
  tzbridge status --mount /tmp/tz --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case mount != "" && configPath != "":
				return errors.New("--mount and --config exclude each other")
			case configPath != "":
				cfg, err := config.Load(configPath)
				if err != nil {
					return err
				}
				mount = cfg.Mount
			case mount == "":
				mount = config.DefaultMount
			}
			tas, err := readStatus(mount)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				typed := make([]map[string]any, len(tas))
				for i, ta := range tas {
					typed[i] = map[string]any{}
					for k, v := range ta {
						if n, err := strconv.ParseUint(v, 10, 64); err == nil {
							typed[i][k] = n
						} else {
							typed[i][k] = v
						}
					}
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"mount": mount, "tas": typed})
			}
			// The status files may carry more fields; --json shows them all.
			statusColumns := []string{"name", "state", "restarts", "open_descriptors", "calls", "errors", "bytes_in", "bytes_out", "uuid"}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, strings.ToUpper(strings.Join(statusColumns, "\t")))
			for _, ta := range tas {
				row := make([]string, len(statusColumns))
				for i, c := range statusColumns {
					row[i] = ta[c]
				}
				fmt.Fprintln(tw, strings.Join(row, "\t"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "read the mount point from this configuration")
	cmd.Flags().StringVar(&mount, "mount", "", "the bridge's mount point (default /tz)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print every field as JSON")
	return cmd
}

// readStatus parses every <mount>/<ta>/.tz/status file.
func readStatus(mount string) ([]map[string]string, error) {
	entries, err := os.ReadDir(mount)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no bridge at %s: is `tzbridge run` running with that mount?", mount)
		}
		return nil, fmt.Errorf("read %s: %w", mount, err)
	}
	var tas []map[string]string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(mount, e.Name(), ".tz", "status"))
		if err != nil {
			continue // not a TA directory
		}
		ta := map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ": "); ok {
				ta[k] = v
			}
		}
		tas = append(tas, ta)
	}
	if len(tas) == 0 {
		return nil, fmt.Errorf("no TA status under %s: is `tzbridge run` serving that mount?", mount)
	}
	sort.Slice(tas, func(i, j int) bool { return tas[i]["name"] < tas[j]["name"] })
	return tas, nil
}
