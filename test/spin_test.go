package test

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/internal/echotest"
)

// TestSpinningNeighbour: a wasm TA that computes for ever without a call,
// next to the built-in echo TA in the same bridge, at the default settings
// (no sim_threads): the echo keeps answering its CA while the neighbour
// spins, and the bridge stops cleanly with it still spinning. The "alone"
// row is the same bridge without the neighbour; the last row fixes the
// simulator at one thread, which the neighbour holds for a time slice at
// a time: slow, but it must not hang either. Each row logs the echo's
// round-trip p50, for the figures in docs/wasm.md (go test -run
// TestSpinningNeighbour -count 7 -v ./test/); no time is asserted, only
// that the round trips complete, within a bound that catches a hang.
func TestSpinningNeighbour(t *testing.T) {
	dir := wasmModules(t)
	for _, tc := range []struct {
		name     string
		spin     bool
		pre      string // added to the configuration
		perRound int    // round trips in each of 5 rounds
	}{
		{"alone", false, "", 200},
		{"spinning neighbour", true, "", 200},
		// The former default: one thread in all, which the neighbour
		// holds for a scheduler time slice at a time. Fewer round
		// trips, as each takes tens of milliseconds.
		{"spinning neighbour, sim_threads 1", true, "sim_threads: 1\n", 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.pre + echoConfig("%[1]s")
			if tc.spin {
				cfg += wasmTA("spin", wasmSpinUUID, filepath.Join(dir, "spin.wasm"), "never")
			}
			b := startBridge(t, cfg, echoReady)
			if tc.spin && !b.waitLog("spin: spinning", 20*time.Second) {
				t.Fatal(`the spin TA never said "spin: spinning"`)
			}
			spinning := func() {
				t.Helper()
				if !tc.spin {
					return
				}
				st, err := os.ReadFile(b.path("spin", ".tz", "status"))
				if err != nil || !strings.Contains(string(st), "state: running") || !strings.Contains(string(st), "restarts: 0\n") {
					t.Fatalf("the spin TA is not running as started (%v); status:\n%s", err, st)
				}
			}
			spinning()

			const rounds = 5
			perRound := tc.perRound
			c, err := net.Dial("tcp", "127.0.0.1:7000")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// The bound on a hang, not a time asserted: with one thread
			// in all, held by the neighbour, a round trip took 20-25 ms.
			if err := c.SetDeadline(time.Now().Add(2 * time.Minute)); err != nil {
				t.Fatal(err)
			}
			msg := echotest.Payload(4096)
			got := make([]byte, len(msg))
			trips := make([]time.Duration, 0, rounds*perRound)
			for r := range rounds {
				for range perRound {
					start := time.Now()
					if _, err := c.Write(msg); err != nil {
						t.Fatalf("round trip %d: write: %v", len(trips), err)
					}
					if _, err := io.ReadFull(c, got); err != nil {
						t.Fatalf("round trip %d: read: %v", len(trips), err)
					}
					trips = append(trips, time.Since(start))
					if !bytes.Equal(got, msg) {
						t.Fatalf("round trip %d: the echo differs", len(trips))
					}
				}
				// Between rounds: the neighbour is still spinning, not
				// stopped or restarted, so the round trips above ran
				// next to it.
				spinning()
				t.Logf("round %d: %d round trips", r+1, perRound)
			}
			if len(trips) != rounds*perRound {
				t.Fatalf("%d round trips, want %d", len(trips), rounds*perRound)
			}
			slices.Sort(trips)
			q := func(f float64) time.Duration { return trips[int(f*float64(len(trips)-1))] }
			t.Logf("echo 4 KB TCP round trip p50 %v, p90 %v, p99 %v, max %v over %d round trips (%s)",
				q(0.5), q(0.9), q(0.99), q(1), len(trips), tc.name)

			took := b.stop()
			if b.err != nil {
				t.Errorf("tzbridge exit: %v", b.err)
			}
			checkStoppedInGrace(t, b)
			t.Logf("tzbridge exited %v after SIGTERM", took)
		})
	}
}
