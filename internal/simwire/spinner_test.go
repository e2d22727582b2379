package simwire

import (
	"testing"
	"time"
)

// A wait that slept but would have ended within MaxSpin raises the budget
// to cover it; one far longer shrinks it, down to MinSpin.
func TestSpinnerLearnsFromSleeps(t *testing.T) {
	sp := Spinner{budget: MinSpin}
	sp.slept(12 * time.Microsecond)
	if sp.budget < 12*time.Microsecond || sp.budget > MaxSpin {
		t.Fatalf("after a 12 µs wait the budget is %v, want 12 µs to %v", sp.budget, MaxSpin)
	}
	raised := sp.budget
	sp.slept(2 * time.Microsecond)
	if sp.budget != raised {
		t.Errorf("a short wait that slept changed the budget %v → %v", raised, sp.budget)
	}
	for range 50 {
		sp.slept(time.Millisecond)
	}
	if sp.budget != MinSpin {
		t.Errorf("after long waits the budget is %v, want %v", sp.budget, MinSpin)
	}
	sp.slept(time.Hour)
	if sp.budget != MinSpin {
		t.Errorf("the budget went below MinSpin: %v", sp.budget)
	}
	for range 50 {
		sp.slept(MaxSpin)
	}
	if sp.budget != MaxSpin {
		t.Errorf("the budget is %v, want at most %v", sp.budget, MaxSpin)
	}
}
