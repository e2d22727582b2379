package simtee_test

import (
	"errors"
	"testing"

	"github.com/tzmediator/tzbridge/internal/simtest"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/teeclient"
)

// TestSharedMemoryLimit: a client cannot map more than its share of
// shared memory into the secure world, by count or by size; it gets
// TEEC_ERROR_OUT_OF_MEMORY, and what it releases it may allocate again.
func TestSharedMemoryLimit(t *testing.T) {
	tc := simtest.Start(t, nil).Context
	const flags = teeclient.MemInput | teeclient.MemOutput
	var held []*teeclient.SharedMemory
	defer func() {
		for _, m := range held {
			m.Release()
		}
	}()
	for range securesim.MaxSharedMemoryRegions {
		m, err := tc.AllocateSharedMemory(4096, flags)
		if err != nil {
			t.Fatalf("region %d of %d: %v", len(held)+1, securesim.MaxSharedMemoryRegions, err)
		}
		held = append(held, m)
	}
	_, err := tc.AllocateSharedMemory(4096, flags)
	var te *teeclient.Error
	if !errors.As(err, &te) || te.Code != teeclient.ErrorOutOfMemory {
		t.Fatalf("a region beyond the limit: %v, want TEEC_ERROR_OUT_OF_MEMORY", err)
	}
	held[0].Release()
	if held[0], err = tc.AllocateSharedMemory(4096, flags); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	for _, m := range held {
		m.Release()
	}
	held = held[:0]

	// By size: the whole budget in one region, then not a page more.
	big, err := tc.AllocateSharedMemory(securesim.MaxSharedMemory, flags)
	if err != nil {
		t.Fatalf("%d bytes: %v", securesim.MaxSharedMemory, err)
	}
	held = append(held, big)
	if _, err := tc.AllocateSharedMemory(4096, flags); !errors.As(err, &te) || te.Code != teeclient.ErrorOutOfMemory {
		t.Fatalf("a page beyond the byte limit: %v, want TEEC_ERROR_OUT_OF_MEMORY", err)
	}
}
