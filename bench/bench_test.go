package bench

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/config"
)

func us(v ...int) []time.Duration {
	d := make([]time.Duration, len(v))
	for i, x := range v {
		d[i] = time.Duration(x) * time.Microsecond
	}
	return d
}

func TestSummarize(t *testing.T) {
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // unsorted on purpose
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"one", us(7), Summary{N: 1, P50: 7 * time.Microsecond, P90: 7 * time.Microsecond, P99: 7 * time.Microsecond, Min: 7 * time.Microsecond, Max: 7 * time.Microsecond}},
		{"two", us(3, 1), Summary{N: 2, P50: 1 * time.Microsecond, P90: 3 * time.Microsecond, P99: 3 * time.Microsecond, Min: 1 * time.Microsecond, Max: 3 * time.Microsecond}},
		{"ten", us(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), Summary{N: 10, P50: 5 * time.Microsecond, P90: 9 * time.Microsecond, P99: 10 * time.Microsecond, Min: 1 * time.Microsecond, Max: 10 * time.Microsecond}},
		{"hundred", us(hundred...), Summary{N: 100, P50: 50 * time.Microsecond, P90: 90 * time.Microsecond, P99: 99 * time.Microsecond, Min: 1 * time.Microsecond, Max: 100 * time.Microsecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Summarize(tc.in); got != tc.want {
				t.Errorf("Summarize = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestNewResult(t *testing.T) {
	for _, tc := range []struct {
		name            string
		direct, bridged Summary
		want            Result
	}{
		{
			"ratios",
			Summary{N: 100, P50: 10 * time.Microsecond, P90: 20 * time.Microsecond, P99: 40 * time.Microsecond},
			Summary{N: 90, P50: 13 * time.Microsecond, P90: 30 * time.Microsecond, P99: 41 * time.Microsecond},
			Result{Transport: "tcp", Size: 4096, DirectP50US: 10, BridgedP50US: 13, RatioP50: 1.3, DirectP90US: 20, BridgedP90US: 30, RatioP90: 1.5, DirectP99US: 40, BridgedP99US: 41, RatioP99: 1.025, Samples: 90},
		},
		{
			"rounding",
			Summary{N: 3, P50: 3333 * time.Nanosecond, P90: 3333 * time.Nanosecond, P99: 3333 * time.Nanosecond},
			Summary{N: 3, P50: 4444 * time.Nanosecond, P90: 4444 * time.Nanosecond, P99: 4444 * time.Nanosecond},
			Result{Transport: "tcp", Size: 4096, DirectP50US: 3.33, BridgedP50US: 4.44, RatioP50: 1.333, DirectP90US: 3.33, BridgedP90US: 4.44, RatioP90: 1.333, DirectP99US: 3.33, BridgedP99US: 4.44, RatioP99: 1.333, Samples: 3},
		},
		{
			"nothing measured",
			Summary{}, Summary{},
			Result{Transport: "tcp", Size: 4096},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NewResult("tcp", 4096, tc.direct, tc.bridged); got != tc.want {
				t.Errorf("NewResult =\n%+v, want\n%+v", got, tc.want)
			}
		})
	}
}

func TestNewThroughput(t *testing.T) {
	for _, tc := range []struct {
		name            string
		bytes           int64
		direct, bridged time.Duration
		wantD, wantB, r float64
	}{
		{"64 MB", 64e6, time.Second / 10, time.Second / 5, 640, 320, 0.5},
		{"zero time", 1e6, 0, time.Second, 0, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NewThroughput("fifo", tc.bytes, tc.direct, tc.bridged)
			if got.DirectMBps != tc.wantD || got.BridgedMBps != tc.wantB || got.RatioBridged != tc.r {
				t.Errorf("NewThroughput = %+v, want direct %v bridged %v ratio %v", got, tc.wantD, tc.wantB, tc.r)
			}
		})
	}
}

func TestFormatSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{1, "1"}, {64, "64"}, {1000, "1000"}, {1024, "1K"}, {4096, "4K"}, {65507, "65507"},
		{65536, "64K"}, {1 << 20, "1M"}, {64 << 20, "64M"}, {1<<20 + 1024, "1025K"},
	} {
		if got := FormatSize(tc.n); got != tc.want {
			t.Errorf("FormatSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestParseSizes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		bad  bool
	}{
		{in: "4096", want: []int{4096}},
		{in: "64,4096,65536,1048576", want: []int{64, 4096, 65536, 1 << 20}},
		{in: " 64 , 4K,1m ", want: []int{64, 4096, 1 << 20}},
		{in: "64M", want: []int{64 << 20}},
		{in: "", bad: true},
		{in: "0", bad: true},
		{in: "-1", bad: true},
		{in: "65M", bad: true},
		{in: "4KB", bad: true},
		{in: "x", bad: true},
	} {
		got, err := ParseSizes(tc.in)
		if (err != nil) != tc.bad || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseSizes(%q) = %v, %v; want %v (error: %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestCells(t *testing.T) {
	for _, tc := range []struct {
		name       string
		transports []string
		sizes      []int
		want       []cell
	}{
		{"default order", []string{UDP, FIFO}, []int{4096}, []cell{{FIFO, 4096, ""}, {UDP, 4096, ""}}},
		{"udp capped once", []string{UDP}, []int{64, 65536, 1 << 20}, []cell{
			{UDP, 64, ""},
			{UDP, MaxUDP, "UDP capped at 65507 bytes (asked 65536)"},
		}},
		{"none", []string{}, []int{64}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Transports: tc.transports, Sizes: tc.sizes}
			if got := o.cells(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("cells = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestReportJSON(t *testing.T) {
	r := &Report{
		Machine:     Machine{CPU: "Cortex-A53", Cores: 4, Kernel: "6.1", GoVersion: "go1.26", Arch: "arm64"},
		TA:          "cecho",
		SecureWorld: "/dev/tee0",
		Results:     []Result{NewResult(FIFO, 4096, Summary{N: 1, P50: 10 * time.Microsecond}, Summary{N: 1, P50: 13 * time.Microsecond})},
		Throughput:  []Throughput{NewThroughput(TCP, 64<<20, time.Second, 2*time.Second)},
	}
	r.SetNullCall(Summary{N: 5, P50: 2500 * time.Nanosecond}, "sim")
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path []string
		want any
	}{
		{[]string{"machine", "cpu"}, "Cortex-A53"},
		{[]string{"machine", "cores"}, 4.0},
		{[]string{"machine", "kernel"}, "6.1"},
		{[]string{"machine", "go_version"}, "go1.26"},
		{[]string{"null_call_us"}, 2.5},
		{[]string{"null_call", "samples"}, 5.0},
		{[]string{"null_call", "secure_world"}, "sim"},
		{[]string{"secure_world"}, "/dev/tee0"},
		{[]string{"ta"}, "cecho"},
	} {
		var v any = got
		for _, k := range tc.path {
			v = v.(map[string]any)[k]
		}
		if v != tc.want {
			t.Errorf("%v = %v, want %v", tc.path, v, tc.want)
		}
	}
	res := got["results"].([]any)[0].(map[string]any)
	for k, want := range map[string]any{
		"transport": "fifo", "size": 4096.0, "direct_p50_us": 10.0, "bridged_p50_us": 13.0, "ratio_p50": 1.3,
		"direct_p90_us": 0.0, "bridged_p90_us": 0.0, "ratio_p90": 0.0, "direct_p99_us": 0.0, "bridged_p99_us": 0.0, "ratio_p99": 0.0, "samples": 1.0,
	} {
		if res[k] != want {
			t.Errorf("results[0].%s = %v, want %v", k, res[k], want)
		}
	}
	th := got["throughput"].([]any)[0].(map[string]any)
	for k, want := range map[string]any{"transport": "tcp", "bytes": float64(64 << 20), "ratio": 0.5} {
		if th[k] != want {
			t.Errorf("throughput[0].%s = %v, want %v", k, th[k], want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	r := &Report{
		Machine:     Machine{CPU: "AMD EPYC", Cores: 2, Kernel: "6.1", GoVersion: "go1.26"},
		TA:          "echo",
		SecureWorld: "/dev/tee0",
		Results: []Result{
			NewResult(FIFO, 4096, Summary{N: 9, P50: 10 * time.Microsecond}, Summary{N: 9, P50: 13 * time.Microsecond}),
			NewResult(UDP, MaxUDP, Summary{N: 9, P50: 10 * time.Microsecond}, Summary{N: 9, P50: 12 * time.Microsecond}),
		},
		Throughput: []Throughput{NewThroughput(TCP, 64<<20, time.Second, 2*time.Second)},
		Notes:      []string{"UDP capped"},
	}
	r.SetNullCall(Summary{N: 5, P50: 2500 * time.Nanosecond}, "/dev/tee0")
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	// Column widths are the tabwriter's business: compare words.
	var lines []string
	for l := range strings.Lines(b.String()) {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	out := strings.Join(lines, "\n")
	for _, want := range []string{
		"machine: AMD EPYC, 2 cores, Linux 6.1, go1.26",
		"ratio p50",
		"fifo 4K 10.0 13.0 1.30 0.0",
		"udp 65507 10.0 12.0 1.20",
		"tcp 64M 67.1 33.6 0.50",
		"secure world: /dev/tee0 (device), TA echo",
		"null call (one NULL command, no TA code) on /dev/tee0 (device): p50 2.5 µs",
		"note: UDP capped",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// TestMedianOfRuns: with several runs, every figure is the median of the
// runs' (the middle one, or the mean of the two middle ones), ratios
// included, each taken within its run; with one, the run itself.
func TestMedianOfRuns(t *testing.T) {
	us := func(x float64) time.Duration { return time.Duration(x * float64(time.Microsecond)) }
	run := func(direct, bridged, mbps float64) RunFigures {
		return RunFigures{
			Results:    []Result{NewResult(FIFO, 4096, Summary{N: 9, P50: us(direct)}, Summary{N: 9, P50: us(bridged)})},
			Throughput: []Throughput{NewThroughput(TCP, 1<<20, us(1e6/mbps*1.048576), us(2e6/mbps*1.048576))},
		}
	}
	tests := []struct {
		name                         string
		runs                         []RunFigures
		direct, bridged, ratio, mbps float64
	}{
		{"one run", []RunFigures{run(10, 20, 100)}, 10, 20, 2, 100},
		{"odd", []RunFigures{run(10, 40, 100), run(8, 16, 300), run(50, 25, 200)}, 10, 25, 2, 200},
		// Ratios 4, 2, 0.5, 3: the median ratio (2.5) is not the ratio of
		// the medians (22.5/11.5).
		{"even", []RunFigures{run(10, 40, 100), run(8, 16, 300), run(50, 25, 200), run(13, 39, 400)}, 11.5, 32, 2.5, 250},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results, throughput := medianOfRuns(tt.runs)
			if len(results) != 1 || len(throughput) != 1 {
				t.Fatalf("%d results, %d throughputs", len(results), len(throughput))
			}
			r := results[0]
			if r.Transport != FIFO || r.Size != 4096 || r.DirectP50US != tt.direct || r.BridgedP50US != tt.bridged || r.RatioP50 != tt.ratio {
				t.Errorf("result %+v, want direct %v bridged %v ratio %v", r, tt.direct, tt.bridged, tt.ratio)
			}
			if got := math.Round(throughput[0].DirectMBps); got != tt.mbps {
				t.Errorf("direct MB/s %v, want %v", got, tt.mbps)
			}
		})
	}
	if r, th := medianOfRuns(nil); r != nil || th != nil {
		t.Errorf("no runs: %v %v", r, th)
	}
}

func TestWriteTableRuns(t *testing.T) {
	runs := []RunFigures{
		{Results: []Result{NewResult(TCP, 4096, Summary{N: 9, P50: 10 * time.Microsecond}, Summary{N: 9, P50: 30 * time.Microsecond})}},
		{Results: []Result{NewResult(TCP, 4096, Summary{N: 9, P50: 20 * time.Microsecond}, Summary{N: 9, P50: 30 * time.Microsecond})}},
		{Results: []Result{NewResult(TCP, 4096, Summary{N: 9, P50: 10 * time.Microsecond}, Summary{N: 9, P50: 20 * time.Microsecond})}},
	}
	r := &Report{Runs: runs}
	r.Results, r.Throughput = medianOfRuns(runs)
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"medians of 3 runs, each with a fresh bridge", "ratio p50 by run:", "tcp 4K: 3.00 1.50 2.00"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"runs":[{"results":[{"transport":"tcp"`) {
		t.Errorf("JSON lacks the runs: %s", js)
	}
}

func TestParseCPUModel(t *testing.T) {
	for _, tc := range []struct {
		name, cpuinfo, want string
	}{
		{"x86", "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t: fpu\n", "AMD EPYC"},
		{"arm board", "processor\t: 0\nCPU part\t: 0xd03\n\nHardware\t: BCM2835\nModel\t: Raspberry Pi 3 Model B\n", "Raspberry Pi 3 Model B"},
		{"arm bare", "processor\t: 0\nCPU part\t: 0xd03\n", "0xd03"},
		{"nothing", "", "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseCPUModel(bufio.NewScanner(strings.NewReader(tc.cpuinfo))); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDefaultConfig keeps the bridged run on the demo configuration.
func TestDefaultConfig(t *testing.T) {
	demo, err := config.Load(filepath.Join("..", "configs", "echo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(DefaultConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	mine, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(mine, demo) {
		t.Errorf("DefaultConfig differs from configs/echo.yaml:\n%+v\n%+v", mine, demo)
	}
}

func TestWriteChart(t *testing.T) {
	r := &Report{Results: []Result{
		NewResult(FIFO, 4096, Summary{N: 1, P50: 10 * time.Microsecond}, Summary{N: 1, P50: 13 * time.Microsecond}),
		NewResult(TCP, 4096, Summary{N: 1, P50: 20 * time.Microsecond}, Summary{N: 1, P50: 25 * time.Microsecond}),
		NewResult(TCP, 64, Summary{N: 1, P50: 20 * time.Microsecond}, Summary{N: 1, P50: 25 * time.Microsecond}),
	}}
	for _, name := range []string{"c.png", "c.svg"} {
		p := filepath.Join(t.TempDir(), name)
		if err := WriteChart(r, p); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v, %v", name, st, err)
		}
	}
	if err := WriteChart(r, filepath.Join(t.TempDir(), "c.gif")); err == nil {
		t.Error("a .gif chart was accepted")
	}
	if err := WriteChart(&Report{}, filepath.Join(t.TempDir(), "c.png")); err == nil {
		t.Error("an empty chart was accepted")
	}
}
