// Package builtin names the TAs compiled into the simulated secure world,
// so that a configuration can say `builtin: echo`.
package builtin

import (
	"fmt"
	"sort"

	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/ta/echo"
	"github.com/tzmediator/tzbridge/ta/faulty"
	"github.com/tzmediator/tzbridge/teeclient"
)

// Definition returns the built-in TA called name, at uuid.
func Definition(name string, uuid teeclient.UUID) (securesim.Definition, error) {
	switch name {
	case "echo":
		return echo.Definition(uuid), nil
	case "faulty":
		return faulty.Definition(uuid), nil
	}
	return securesim.Definition{}, fmt.Errorf("no built-in TA %q (have: %v)", name, Names())
}

// Names lists the built-in TAs.
func Names() []string {
	n := []string{"echo", "faulty"}
	sort.Strings(n)
	return n
}
