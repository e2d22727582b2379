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
state, restarts, open descriptors, calls, failures and bytes moved.
FAILURES counts the calls answered with an errno that is no normal result:
EAGAIN, EINPROGRESS, EALREADY, EINTR, EEXIST, ENOENT and ENXIO tell a TA
the state of what it asked about (a FIFO with no reader yet, an endpoint
that exists) and are left out; --json has every errno by operation.

With --json it prints {"mount": …, "tas": [ … ]} with one object per TA, read
from <mount>/<ta>/.tz/status.json: the same figures as the Prometheus
metrics (calls and errors by operation and errno, bytes by endpoint, latency
histograms, TEE errors). docs/metrics.md describes every field.`,
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
			out := cmd.OutOrStdout()
			if asJSON {
				tas, err := readStatusJSON(mount)
				if err != nil {
					return err
				}
				enc := json.NewEncoder(out)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				return enc.Encode(statusOutput{Mount: mount, TAs: tas})
			}
			tas, err := readStatus(mount)
			if err != nil {
				return err
			}
			// The status files carry more fields; --json shows them all.
			statusColumns := []string{"name", "state", "restarts", "open_descriptors", "calls", "failures", "bytes_in", "bytes_out", "uuid"}
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
	cmd.Flags().BoolVar(&asJSON, "json", false, "print every figure as JSON, one object per TA (docs/metrics.md)")
	return cmd
}

// statusOutput is what status --json prints. Each TA's object is passed
// on as the bridge wrote it (supervisor.TAStatus), so that fields a newer
// bridge adds are not lost.
type statusOutput struct {
	Mount string            `json:"mount"`
	TAs   []json.RawMessage `json:"tas"`
}

// readStatusJSON reads every <mount>/<ta>/.tz/status.json, sorted by TA
// name.
func readStatusJSON(mount string) ([]json.RawMessage, error) {
	files, err := readStatusFiles(mount, "status.json")
	if err != nil {
		return nil, err
	}
	type named struct {
		Name string          `json:"name"`
		raw  json.RawMessage // as read
	}
	tas := make([]named, len(files))
	for i, f := range files {
		if err := json.Unmarshal(f.data, &tas[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", f.path, err)
		}
		tas[i].raw = f.data
	}
	sort.Slice(tas, func(i, j int) bool { return tas[i].Name < tas[j].Name })
	raw := make([]json.RawMessage, len(tas))
	for i, ta := range tas {
		raw[i] = ta.raw
	}
	return raw, nil
}

// readStatus parses every <mount>/<ta>/.tz/status file, sorted by TA name.
func readStatus(mount string) ([]map[string]string, error) {
	files, err := readStatusFiles(mount, "status")
	if err != nil {
		return nil, err
	}
	var tas []map[string]string
	for _, f := range files {
		ta := map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(f.data))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ": "); ok {
				ta[k] = v
			}
		}
		tas = append(tas, ta)
	}
	sort.Slice(tas, func(i, j int) bool { return tas[i]["name"] < tas[j]["name"] })
	return tas, nil
}

// statusFile is one TA's status file as read.
type statusFile struct {
	path string
	data []byte
}

// readStatusFiles reads <mount>/<ta>/.tz/<name> of every TA under mount.
func readStatusFiles(mount, name string) ([]statusFile, error) {
	entries, err := os.ReadDir(mount)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no bridge at %s: is `tzbridge run` running with that mount?", mount)
		}
		return nil, fmt.Errorf("read %s: %w", mount, err)
	}
	var files []statusFile
	for _, e := range entries {
		p := filepath.Join(mount, e.Name(), ".tz", name)
		b, err := os.ReadFile(p)
		if err != nil {
			continue // not a TA directory
		}
		files = append(files, statusFile{p, b})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no TA status under %s: is `tzbridge run` serving that mount?", mount)
	}
	return files, nil
}
