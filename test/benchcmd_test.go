package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// benchOtherTAConfig is the built-in echo under another name, with one of
// two TAs, FIFO and UNIX endpoints, and one TCP proxy on a port that is
// not the demo's: no UDP proxy. bench must find the TA by --ta and
// measure the three transports it serves.
const benchOtherTAConfig = `tee: sim
tas:
  - name: idle
    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f61
    builtin: echo
    endpoints:
      - {name: in, kind: fifo, mode: "0666"}
      - {name: out, kind: fifo, mode: "0666"}
      - {name: echo.sock, kind: unix, mode: "0666"}
  - name: myecho
    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60
    builtin: echo
    user: root
    group: root
    netns: true
    proxies:
      - {listen: tcp://127.0.0.1:7300, to: tcp://127.0.0.1:7000}
    endpoints:
      - {name: in, kind: fifo, mode: "0666"}
      - {name: out, kind: fifo, mode: "0666"}
      - {name: echo.sock, kind: unix, mode: "0666"}
`

// TestBenchOtherTA: `tzbridge bench --config … --ta myecho` measures the
// TA named, on the transports it serves, and the JSON names the TA and
// the secure world of the round trips and of the null call.
func TestBenchOtherTA(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bench.yaml")
	if err := os.WriteFile(cfg, []byte(benchOtherTAConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tzbridgeBin(), "bench", "--config", cfg, "--ta", "myecho",
		"--samples", "40", "--warmup", "5", "--rounds", "2", "--bulk", "-1", "--null-calls", "200",
		"--no-progress", "--json").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("tzbridge bench: %v\n%s\n%s", err, out, stderr)
	}
	var rep struct {
		TA          string `json:"ta"`
		SecureWorld string `json:"secure_world"`
		Results     []struct {
			Transport string `json:"transport"`
			Samples   int    `json:"samples"`
		} `json:"results"`
		NullCall *struct {
			SecureWorld string `json:"secure_world"`
			Samples     int    `json:"samples"`
		} `json:"null_call"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out)
	}
	if rep.TA != "myecho" || rep.SecureWorld != "sim" {
		t.Errorf("ta %q, secure_world %q: want myecho, sim", rep.TA, rep.SecureWorld)
	}
	var got []string
	for _, r := range rep.Results {
		got = append(got, r.Transport)
		if r.Samples == 0 {
			t.Errorf("%s: no samples", r.Transport)
		}
	}
	if want := []string{"fifo", "unix", "tcp"}; !slices.Equal(got, want) {
		t.Errorf("measured %v, want %v (what myecho serves)", got, want)
	}
	if rep.NullCall == nil || rep.NullCall.SecureWorld != "sim" || rep.NullCall.Samples != 200 {
		t.Errorf("null_call = %+v, want 200 samples on sim", rep.NullCall)
	}
}

// TestBenchCNullCall: the null call runs against the configured TA, here
// the C example (libtzposix), whose entry point answers the NULL command.
func TestBenchCNullCall(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bench.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(cEchoConfig(cEchoTA(t)), "/tz")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tzbridgeBin(), "bench", "--config", cfg, "--transports", "none",
		"--null-calls", "200", "--no-progress", "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("tzbridge bench: %v\n%s", err, out)
	}
	var rep struct {
		TA       string `json:"ta"`
		NullCall *struct {
			SecureWorld string `json:"secure_world"`
			Samples     int    `json:"samples"`
		} `json:"null_call"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out)
	}
	if rep.TA != "cecho" || rep.NullCall == nil || rep.NullCall.Samples != 200 || rep.NullCall.SecureWorld != "sim" {
		t.Errorf("ta %q, null_call %+v: want cecho, 200 samples on sim", rep.TA, rep.NullCall)
	}
}
