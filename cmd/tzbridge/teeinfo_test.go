package main

import (
	"os"
	"strings"
	"testing"

	"github.com/tzmediator/tzbridge/teeclient"
)

// TestTEEInfoInDocs: the tee-info output docs/hardware.md shows is what
// the command prints for an OP-TEE device with those capabilities.
func TestTEEInfoInDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/hardware.md")
	if err != nil {
		t.Fatal(err)
	}
	want := teeInfo("/dev/tee0", teeclient.Version{
		ImplID: teeclient.ImplOPTEE, ImplCaps: 1,
		GenCaps: teeclient.CapGP | teeclient.CapRegMem | teeclient.CapMemrefNull,
	})
	if !strings.Contains(string(doc), "```\n"+want+"```\n") {
		t.Errorf("docs/hardware.md does not show tee-info's output as a block:\n%s", want)
	}
}
