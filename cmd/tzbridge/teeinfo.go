package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tzmediator/tzbridge/teeclient"
	"github.com/tzmediator/tzbridge/teeclient/linuxtee"
)

func newTEEInfoCommand() *cobra.Command {
	var device string
	cmd := &cobra.Command{
		Use:   "tee-info",
		Short: "Show which TEE device this machine has and what it can do",
		Long: `tee-info looks for a GlobalPlatform-capable TEE driver (/dev/tee0 … /dev/tee9,
or the device named by --device), and prints its implementation (OP-TEE,
AMD-TEE, …) and capabilities. Without one it says so: tzbridge then runs on
its built-in simulator (tee: sim in the configuration).`,
		Example: `  tzbridge tee-info
  tzbridge tee-info --device /dev/tee0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := device
			if path == "" {
				p, _, err := linuxtee.Discover()
				if err != nil {
					return err // it says how to use the simulator instead
				}
				path = p
			}
			d, err := linuxtee.Open(path)
			if err != nil {
				return err
			}
			defer d.Close()
			_, err = io.WriteString(cmd.OutOrStdout(), teeInfo(path, d.Version()))
			return err
		},
	}
	cmd.Flags().StringVar(&device, "device", "", "query this device instead of searching /dev/tee*")
	return cmd
}

// teeInfo is what tee-info prints for the device at path. docs/hardware.md
// shows it for OP-TEE; TestTEEInfoInDocs keeps the two the same.
func teeInfo(path string, v teeclient.Version) string {
	return fmt.Sprintf("device:          %s\n"+
		"implementation:  %s (impl id %d, impl caps 0x%x)\n"+
		"capabilities:    %s\n"+
		"use it with:     tee: %s\n",
		path, linuxtee.ImplName(v.ImplID), v.ImplID, v.ImplCaps, linuxtee.FormatGenCaps(v.GenCaps), path)
}
