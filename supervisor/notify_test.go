package supervisor

import (
	"slices"
	"testing"

	"github.com/tzmediator/tzbridge/config"
)

func runnersIn(states ...string) []*taRunner {
	names := []string{"echo", "db", "web", "log"}
	var rs []*taRunner
	for i, s := range states {
		rs = append(rs, &taRunner{cfg: config.TA{Name: names[i]}, state: s})
	}
	return rs
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		states []string
		want   string
	}{
		{[]string{"running"}, "1 TA running"},
		{[]string{"running", "running", "running"}, "3 TAs running"},
		{[]string{"starting"}, "0 of 1 TA running; starting: echo"},
		{[]string{"running", "restarting", "failed", "restarting"}, "1 of 4 TAs running; failed: web; restarting: db, log"},
		{[]string{"restarting", "restarting"}, "0 of 2 TAs running; restarting: db, echo"},
	}
	for _, tt := range tests {
		if got := summarize(runnersIn(tt.states...)); got != tt.want {
			t.Errorf("states %v: %q, want %q", tt.states, got, tt.want)
		}
	}
}

// TestReportStatus: the summary goes out when it changes, not on every
// tick; ready says it again (after a reload the manager's text may be
// stale) and calls Ready each time.
func TestReportStatus(t *testing.T) {
	var sent []string
	readies := 0
	rs := runnersIn("starting", "running")
	b := &bridge{
		opt: Options{Status: func(s string) { sent = append(sent, s) }, Ready: func() { readies++ }},
		tas: map[string]*runningTA{"echo": {r: rs[0]}, "db": {r: rs[1]}},
	}
	b.ready()
	b.reportStatus()
	rs[0].setState("running", nil)
	b.reportStatus()
	b.reportStatus()
	b.ready()
	want := []string{"1 of 2 TAs running; starting: echo", "2 TAs running", "2 TAs running"}
	if !slices.Equal(sent, want) || readies != 2 {
		t.Errorf("sent %q and %d readies, want %q and 2", sent, readies, want)
	}
}
