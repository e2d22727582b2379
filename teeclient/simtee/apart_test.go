package simtee

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestApartSet(t *testing.T) {
	var two unix.CPUSet
	two.Set(0)
	two.Set(1)
	set, ok := apartSet(two, 1)
	if !ok || set.Count() != 1 || !set.IsSet(0) {
		t.Errorf("apartSet({0,1}, 1) = %v, %v; want {0}, true", set, ok)
	}
	if two.Count() != 2 {
		t.Error("apartSet changed its argument")
	}
	var one unix.CPUSet
	one.Set(3)
	if _, ok := apartSet(one, 3); ok {
		t.Error("apartSet left no CPU and said ok")
	}
	if _, ok := apartSet(two, 5); ok {
		t.Error("apartSet moved away from a CPU that was not allowed")
	}
	if _, ok := apartSet(two, -1); ok {
		t.Error("apartSet took a negative CPU")
	}
}
