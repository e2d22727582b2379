package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tzmediator/tzbridge/config"
	"github.com/tzmediator/tzbridge/ta/catalog"
)

func newCheckCommand() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate a configuration without starting anything",
		Long: `check reads the configuration as "tzbridge run" would and reports every
problem it finds — unknown fields, bad values, TAs the simulator cannot
run — one a line, as FILE:LINE: FIELD: PROBLEM, where PROBLEM says what is
wrong and what is allowed. It starts nothing and changes nothing, and exits
with status 0 only for a good configuration. configs/reference.yaml
documents every field.`,
		Example: `  tzbridge check --config configs/echo.yaml
  tzbridge check -c /etc/tzbridge/tzbridge.yaml && systemctl reload tzbridge`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			tas := "TAs"
			if len(cfg.TAs) == 1 {
				tas = "TA"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: OK (%d %s, mount %s, tee %s)\n", configPath, len(cfg.TAs), tas, cfg.Mount, cfg.TEE)
			return nil
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "configuration file (required)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// loadConfig reads and checks a configuration, including that the
// simulator can run every TA it names — what run checks before starting.
func loadConfig(path string) (*config.Config, error) {
	return config.Load(path, simulatorCanRun)
}

// simulatorCanRun reports each TA the simulator cannot run: an unknown
// built-in, a wasm module that does not load, a native program that is
// missing or not a static ELF executable for this machine. It runs no TA
// code (catalog.Validate).
func simulatorCanRun(cfg *config.Config) []*config.FieldError {
	var errs []*config.FieldError
	for i, t := range cfg.TAs {
		kind, _ := t.Source()
		if kind == "" {
			continue // a TA installed on the device
		}
		if err := catalog.Validate(catalog.FromConfig(t)); err != nil {
			errs = append(errs, &config.FieldError{Field: fmt.Sprintf("tas[%d].%s", i, kind), Problem: err.Error()})
		}
	}
	return errs
}
