package linuxtee

import (
	"testing"

	"github.com/tzmediator/tzbridge/teeclient"
)

func TestImplName(t *testing.T) {
	for id, want := range map[uint32]string{
		0: "unknown", 1: "OP-TEE", 2: "AMD-TEE", 3: "TS-TEE", 4: "unknown",
		teeclient.ImplSimulator: "tzbridge simulator",
	} {
		if got := ImplName(id); got != want {
			t.Errorf("ImplName(%d) = %q, want %q", id, got, want)
		}
	}
}

func TestFormatGenCaps(t *testing.T) {
	for caps, want := range map[teeclient.Capabilities]string{
		0:    "0x0 (none)",
		0x1:  "0x1 (GP)",
		0x2:  "0x2 (PRIVILEGED)",
		0xd:  "0xd (GP, REG_MEM, MEMREF_NULL)",
		0x15: "0x15 (GP, REG_MEM, 0x10)",
	} {
		if got := FormatGenCaps(caps); got != want {
			t.Errorf("FormatGenCaps(%#x) = %q, want %q", uint32(caps), got, want)
		}
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		v    teeclient.Version
		want string
	}{
		{teeclient.Version{ImplID: 1, ImplCaps: 1, GenCaps: 0xd},
			"OP-TEE (impl id 1), impl caps 0x1 (TZ), gen caps 0xd (GP, REG_MEM, MEMREF_NULL)"},
		{teeclient.Version{ImplID: 2, ImplCaps: 1, GenCaps: 0x1},
			"AMD-TEE (impl id 2), impl caps 0x1 (0x1), gen caps 0x1 (GP)"},
		{teeclient.Version{ImplID: 9, GenCaps: 0x3},
			"unknown (impl id 9), impl caps 0x0 (none), gen caps 0x3 (GP, PRIVILEGED)"},
	} {
		if got := Describe(tc.v); got != tc.want {
			t.Errorf("Describe(%+v) =\n %q, want\n %q", tc.v, got, tc.want)
		}
	}
}
