package teeclient_test

import (
	"testing"

	"github.com/tzmediator/tzbridge/internal/simtest"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/teeclient"
)

// startSim runs a simulated secure world hosting defs on a fresh socket
// and returns a Context connected to it.
func startSim(t *testing.T, defs ...securesim.Definition) *teeclient.Context {
	t.Helper()
	return simtest.Start(t, nil, defs...).Context
}
