package linuxtee

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/tzmediator/tzbridge/teeclient"
)

// ImplName names a TEE implementation id (TEE_IMPL_ID_*).
func ImplName(id uint32) string {
	switch id {
	case teeclient.ImplOPTEE:
		return "OP-TEE"
	case teeclient.ImplAMDTEE:
		return "AMD-TEE"
	case teeclient.ImplTSTEE:
		return "TS-TEE"
	case teeclient.ImplSimulator:
		return "tzbridge simulator"
	}
	return "unknown"
}

var genCapNames = [...]string{"GP", "PRIVILEGED", "REG_MEM", "MEMREF_NULL"}

// FormatGenCaps lists generic capabilities (TEE_GEN_CAP_*) by name, e.g.
// "0xd (GP, REG_MEM, MEMREF_NULL)"; unknown bits show as hex.
func FormatGenCaps(c teeclient.Capabilities) string {
	return formatBits(uint32(c), genCapNames[:])
}

// formatImplCaps lists implementation-specific capabilities; only OP-TEE
// defines any in <linux/tee.h>.
func formatImplCaps(implID, caps uint32) string {
	if implID == teeclient.ImplOPTEE {
		return formatBits(caps, []string{"TZ"})
	}
	return formatBits(caps, nil)
}

func formatBits(v uint32, names []string) string {
	var parts []string
	for rest := v; rest != 0; rest &= rest - 1 {
		i := bits.TrailingZeros32(rest)
		if i < len(names) {
			parts = append(parts, names[i])
		} else {
			parts = append(parts, fmt.Sprintf("%#x", uint32(1)<<i))
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%#x (none)", v)
	}
	return fmt.Sprintf("%#x (%s)", v, strings.Join(parts, ", "))
}

// Describe is a one-line summary of a TEE for people, as `tzbridge
// tee-info` prints it, e.g.
//
//	OP-TEE (impl id 1), impl caps 0x1 (TZ), gen caps 0xd (GP, REG_MEM, MEMREF_NULL)
func Describe(v teeclient.Version) string {
	return fmt.Sprintf("%s (impl id %d), impl caps %s, gen caps %s",
		ImplName(v.ImplID), v.ImplID, formatImplCaps(v.ImplID, v.ImplCaps), FormatGenCaps(v.GenCaps))
}
