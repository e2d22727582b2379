package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHelps walks the whole command tree, hidden commands and
// cobra's own help and completion included, so a command added later
// cannot go without: its --help starts with a one-line purpose and shows
// its flags and an example.
func TestEveryCommandHelps(t *testing.T) {
	root := newRootCommand()
	var all []*cobra.Command
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		all = append(all, c)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if len(all) < 12 {
		t.Fatalf("only %d commands found: the walk is broken", len(all))
	}
	for _, c := range all {
		t.Run(c.CommandPath(), func(t *testing.T) {
			if c.Short == "" || strings.Contains(c.Short, "\n") {
				t.Errorf("purpose %q: want one line", c.Short)
			}
			if !strings.Contains(c.Example, "tzbridge") {
				t.Errorf("example %q does not show tzbridge in use", c.Example)
			}
			var out bytes.Buffer
			c.SetOut(&out)
			if err := c.Help(); err != nil {
				t.Fatal(err)
			}
			help := out.String()
			if first, _, _ := strings.Cut(help, "\n"); first != c.Short {
				t.Errorf("help starts with %q, want the purpose %q", first, c.Short)
			}
			for _, want := range []string{"Usage:", "Flags:", "Examples:\n" + c.Example} {
				if !strings.Contains(help, want) {
					t.Errorf("help lacks %q:\n%s", want, help)
				}
			}
		})
	}
}
