package supervisor

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// statusInterval is how often the service status text is recomputed. The
// text is for people (`systemctl status`), so a second's lag is fine, and
// polling keeps the TA runners free of any notion of a service manager.
const statusInterval = time.Second

// awaitListening waits until every TA serves its listen addresses or has
// ended trying (listenWait); false if ctx ended first. It runs on Run's
// goroutine, which alone changes b.tas.
func (b *bridge) awaitListening(ctx context.Context) bool {
	for _, rt := range b.tas {
		select {
		case <-rt.r.listening.done:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// ready tells opt.Ready that every TA's endpoints exist, and opt.Status
// how the TAs are. It runs on Run's goroutine, which alone changes b.tas.
func (b *bridge) ready() {
	if b.opt.Ready != nil {
		b.opt.Ready()
	}
	b.status = "" // say it again: the manager may have shown reload news
	b.reportStatus()
}

// reportStatus passes a summary of the TAs' states to opt.Status when it
// differs from the last one. It runs on Run's goroutine.
func (b *bridge) reportStatus() {
	if b.opt.Status == nil {
		return
	}
	runners := make([]*taRunner, 0, len(b.tas))
	for _, rt := range b.tas {
		runners = append(runners, rt.r)
	}
	if s := summarize(runners); s != b.status {
		b.opt.Status(s)
		b.status = s
	}
}

// summarize describes the TAs' states in one line: "3 TAs running", or
// "1 of 3 TAs running; failed: web; restarting: db, log".
func summarize(runners []*taRunner) string {
	byState := map[string][]string{}
	for _, r := range runners {
		r.mu.Lock()
		byState[r.state] = append(byState[r.state], r.cfg.Name)
		r.mu.Unlock()
	}
	tas := "TAs"
	if len(runners) == 1 {
		tas = "TA"
	}
	running := len(byState["running"])
	if running == len(runners) {
		return fmt.Sprintf("%d %s running", running, tas)
	}
	parts := []string{fmt.Sprintf("%d of %d %s running", running, len(runners), tas)}
	states := make([]string, 0, len(byState))
	for s := range byState {
		if s != "running" {
			states = append(states, s)
		}
	}
	slices.Sort(states)
	for _, s := range states {
		names := byState[s]
		slices.Sort(names)
		parts = append(parts, s+": "+strings.Join(names, ", "))
	}
	return strings.Join(parts, "; ")
}
