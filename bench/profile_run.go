package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tzmediator/tzbridge/internal/echotest"
)

// DefaultProfileWindow is how long the profile traces each side.
const DefaultProfileWindow = 30 * time.Millisecond

// profileWarmup round trips each side precede a traced window.
const profileWarmup = 50

// profiler traces round trips for Options.Profile.
type profiler struct {
	tr     *tracer
	window time.Duration
	proc   string // procfs
	// traces, if set, is a directory for the raw traces.
	traces string
	// The processes whose threads are traced: the `tzbridge run` child,
	// whose children are the shadow and the secure world, and the direct
	// peer; and the client's thread.
	bridgePid, peerPid, client int
}

// profile traces a window of bridged round trips, then one of direct
// ones, over transport t with size-byte messages, and breaks each down.
// It runs on the client's thread. A trace that cannot be analysed gives a
// note, tracefs failing an error.
func (p *profiler) profile(ctx context.Context, t string, size int, direct, bridged *conn) (Profile, error) {
	prof := Profile{Transport: t, Size: size, WindowMS: round(float64(p.window)/float64(time.Millisecond), 1)}
	msg := echotest.Payload(size)
	buf := make([]byte, size)
	shadow, sw := bridgeThreads(p.proc, p.bridgePid)
	peer := procThreads(p.proc, p.peerPid)
	for _, side := range []struct {
		name, server string
		cn           *conn
		threads      []int
		out          **Breakdown
	}{
		{"bridged", "shadow", bridged, shadow, &prof.Bridged},
		{"direct", "peer", direct, peer, &prof.Direct},
	} {
		if len(side.threads) == 0 {
			prof.Notes = append(prof.Notes, fmt.Sprintf("%s: no %s process found", side.name, side.server))
			continue
		}
		for range profileWarmup {
			if err := side.cn.roundTrip(msg, buf); err != nil {
				return prof, fmt.Errorf("profile %s %s: %w", side.name, t, err)
			}
		}
		tasks := append([]int{p.client}, side.threads...)
		text, err := p.tr.capture(tasks, func() error {
			start := time.Now()
			for time.Since(start) < p.window {
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := side.cn.roundTrip(msg, buf); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return prof, fmt.Errorf("profile %s %s: %w", side.name, t, err)
		}
		if p.traces != "" {
			if err := os.MkdirAll(p.traces, 0o755); err != nil {
				return prof, fmt.Errorf("profile: keep the trace: %w", err)
			}
			name := filepath.Join(p.traces, fmt.Sprintf("%s-%s.trace", t, side.name))
			head := fmt.Sprintf("# tzbridge bench --profile: %s %s, client=%d server=%s secure_world=%s\n",
				side.name, t, p.client, joinInts(side.threads), joinInts(sw))
			if err := os.WriteFile(name, append([]byte(head), text...), 0o644); err != nil {
				return prof, fmt.Errorf("profile: keep the trace: %w", err)
			}
		}
		tr := parseTrace(text)
		if tr.lost > 0 {
			prof.Notes = append(prof.Notes, fmt.Sprintf("%s: the trace buffer dropped %d events (the oldest)", side.name, tr.lost))
		}
		if tr.skipped > 0 {
			prof.Notes = append(prof.Notes, fmt.Sprintf("%s: %d trace lines not understood", side.name, tr.skipped))
		}
		th := traceThreads{Client: p.client, Server: side.threads}
		if side.server == "shadow" {
			th.SecureWorld = sw
		}
		bd, err := analyseTrace(tr, th, side.server)
		if err != nil {
			prof.Notes = append(prof.Notes, fmt.Sprintf("%s: %v", side.name, err))
			continue
		}
		*side.out = bd
	}
	return prof, nil
}

// profileSize is the message size the profile of transport t uses: that
// of its first cell, else 4 KB.
func profileSize(cells []cell, t string) int {
	if i := slices.IndexFunc(cells, func(c cell) bool { return c.transport == t }); i >= 0 {
		return cells[i].size
	}
	return 4096
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}
