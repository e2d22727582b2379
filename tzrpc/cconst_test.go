package tzrpc

import (
	"os"
	"regexp"
	"strconv"
	"testing"
)

// TestCCommandIDs keeps the C library's command IDs (ta/c/include/
// tzposix/codec.h) equal to the ones defined here.
func TestCCommandIDs(t *testing.T) {
	b, err := os.ReadFile("../ta/c/include/tzposix/codec.h")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]uint32{"TZP_CMD_RESUME": CmdResume, "TZP_CMD_NULL": CmdNull} {
		m := regexp.MustCompile(`(?m)^#define ` + name + ` (\d+)u\b`).FindSubmatch(b)
		if m == nil {
			t.Errorf("codec.h does not define %s", name)
			continue
		}
		if got, _ := strconv.ParseUint(string(m[1]), 10, 32); uint32(got) != want {
			t.Errorf("codec.h: %s = %d, tzrpc has %d", name, got, want)
		}
	}
}
