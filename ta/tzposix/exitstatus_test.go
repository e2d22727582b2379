package tzposix

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// TestProgramExitStatus: a Program chooses its exit status with ExitStatus,
// wrapped or not; other errors are status 1.
func TestProgramExitStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int64
	}{
		{"nil", nil, 0},
		{"status", ExitStatus(3), 3},
		{"zero status", ExitStatus(0), 0},
		{"negative status", ExitStatus(-2), -2},
		{"wrapped", fmt.Errorf("wasm TA: %w", ExitStatus(42)), 42},
		{"other error", errors.New("failed"), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, tzrpc.MinMailbox, func(context.Context, *Proc) error { return tt.err })
			f.expectExit(tt.want)
		})
	}
}
