package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything one `tzbridge bench` run measured. Its JSON form is
// what --json prints.
type Report struct {
	Machine Machine `json:"machine"`
	// TA is the configuration's TA the round trips were measured against.
	TA string `json:"ta,omitempty"`
	// SecureWorld is where that TA ran: the configuration's tee ("sim",
	// "auto" or a device such as /dev/tee0).
	SecureWorld string       `json:"secure_world"`
	Settings    Settings     `json:"settings"`
	Results     []Result     `json:"results"`
	Throughput  []Throughput `json:"throughput"`
	// NullCallUS is the median null call: one invoke of tzrpc.CmdNull on a
	// session with the TA, normal world → secure world → TA library →
	// normal world, no TA code (0: not measured).
	NullCallUS float64   `json:"null_call_us"`
	NullCall   *NullCall `json:"null_call,omitempty"`
	Notes      []string  `json:"notes,omitempty"`
	// Runs holds each run's figures when there were several (--runs);
	// Results and Throughput are then their medians, field by field.
	Runs []RunFigures `json:"runs,omitempty"`
	// Profiles are the traced breakdowns of --profile, per transport.
	Profiles []Profile `json:"profile,omitempty"`
}

// Settings are the parameters the run used.
type Settings struct {
	Samples   int   `json:"samples"`
	Warmup    int   `json:"warmup"`
	Rounds    int   `json:"rounds"`
	Runs      int   `json:"runs"`
	BulkBytes int64 `json:"bulk_bytes"`
}

// Result is one transport and message size: the round-trip latency of the
// same client to the direct peer and through the bridge, measured in
// interleaved rounds of one run.
type Result struct {
	Transport    string  `json:"transport"`
	Size         int     `json:"size"`
	DirectP50US  float64 `json:"direct_p50_us"`
	BridgedP50US float64 `json:"bridged_p50_us"`
	RatioP50     float64 `json:"ratio_p50"`
	DirectP90US  float64 `json:"direct_p90_us"`
	BridgedP90US float64 `json:"bridged_p90_us"`
	RatioP90     float64 `json:"ratio_p90"`
	DirectP99US  float64 `json:"direct_p99_us"`
	BridgedP99US float64 `json:"bridged_p99_us"`
	RatioP99     float64 `json:"ratio_p99"`
	// Samples is the number of round trips measured each way.
	Samples int    `json:"samples"`
	Note    string `json:"note,omitempty"`
}

// NewResult pairs the direct and bridged summaries of one transport and size.
func NewResult(transport string, size int, direct, bridged Summary) Result {
	r := Result{
		Transport:    transport,
		Size:         size,
		DirectP50US:  round(micros(direct.P50), 2),
		BridgedP50US: round(micros(bridged.P50), 2),
		DirectP90US:  round(micros(direct.P90), 2),
		BridgedP90US: round(micros(bridged.P90), 2),
		DirectP99US:  round(micros(direct.P99), 2),
		BridgedP99US: round(micros(bridged.P99), 2),
		Samples:      min(direct.N, bridged.N),
	}
	r.RatioP50 = round(ratio(float64(bridged.P50), float64(direct.P50)), 3)
	r.RatioP90 = round(ratio(float64(bridged.P90), float64(direct.P90)), 3)
	r.RatioP99 = round(ratio(float64(bridged.P99), float64(direct.P99)), 3)
	return r
}

// RunFigures are the figures of one run: one bridge and one peer,
// started for it.
type RunFigures struct {
	Results    []Result     `json:"results"`
	Throughput []Throughput `json:"throughput"`
}

// The fields medianOfRuns takes the median of.
var (
	resultFields = []func(*Result) *float64{
		func(x *Result) *float64 { return &x.DirectP50US }, func(x *Result) *float64 { return &x.BridgedP50US },
		func(x *Result) *float64 { return &x.RatioP50 }, func(x *Result) *float64 { return &x.DirectP90US },
		func(x *Result) *float64 { return &x.BridgedP90US }, func(x *Result) *float64 { return &x.RatioP90 },
		func(x *Result) *float64 { return &x.DirectP99US }, func(x *Result) *float64 { return &x.BridgedP99US },
		func(x *Result) *float64 { return &x.RatioP99 },
	}
	throughputFields = []func(*Throughput) *float64{
		func(x *Throughput) *float64 { return &x.DirectMBps }, func(x *Throughput) *float64 { return &x.BridgedMBps },
		func(x *Throughput) *float64 { return &x.RatioBridged }, func(x *Throughput) *float64 { return &x.DirectSeconds },
		func(x *Throughput) *float64 { return &x.BridgedSecs },
	}
)

// medianOfRuns is the median, field by field, of the runs' results and
// throughputs (every run measures the same cells in the same order). A
// ratio is the median of the runs' ratios, each taken within its run.
func medianOfRuns(runs []RunFigures) ([]Result, []Throughput) {
	if len(runs) == 0 {
		return nil, nil
	}
	xs := make([]float64, len(runs))
	median := func() float64 {
		slices.Sort(xs)
		if n := len(xs); n%2 == 0 {
			return (xs[n/2-1] + xs[n/2]) / 2
		}
		return xs[len(xs)/2]
	}
	results := slices.Clone(runs[0].Results)
	for j := range results {
		for _, field := range resultFields {
			for i := range runs {
				xs[i] = *field(&runs[i].Results[j])
			}
			*field(&results[j]) = median()
		}
	}
	throughput := slices.Clone(runs[0].Throughput)
	for j := range throughput {
		for _, field := range throughputFields {
			for i := range runs {
				xs[i] = *field(&runs[i].Throughput[j])
			}
			*field(&throughput[j]) = median()
		}
	}
	return results, throughput
}

// Throughput is one bulk transfer, echoed back, each way.
type Throughput struct {
	Transport     string  `json:"transport"`
	Bytes         int64   `json:"bytes"`
	DirectMBps    float64 `json:"direct_mb_s"`
	BridgedMBps   float64 `json:"bridged_mb_s"`
	RatioBridged  float64 `json:"ratio"` // bridged/direct: below 1 is slower
	DirectSeconds float64 `json:"direct_s"`
	BridgedSecs   float64 `json:"bridged_s"`
}

// NewThroughput computes the rates of one bulk transfer each way.
func NewThroughput(transport string, bytes int64, direct, bridged time.Duration) Throughput {
	d := mbPerSec(bytes, direct)
	b := mbPerSec(bytes, bridged)
	return Throughput{
		Transport:     transport,
		Bytes:         bytes,
		DirectMBps:    round(d, 1),
		BridgedMBps:   round(b, 1),
		RatioBridged:  round(ratio(b, d), 3),
		DirectSeconds: round(direct.Seconds(), 4),
		BridgedSecs:   round(bridged.Seconds(), 4),
	}
}

// NullCall is the null call's distribution.
type NullCall struct {
	// SecureWorld is where the null call ran: the measured TA's.
	SecureWorld string  `json:"secure_world"`
	P50US       float64 `json:"p50_us"`
	P90US       float64 `json:"p90_us"`
	P99US       float64 `json:"p99_us"`
	Samples     int     `json:"samples"`
}

// SetNullCall records the null call summary, measured on secureWorld.
func (r *Report) SetNullCall(s Summary, secureWorld string) {
	r.NullCallUS = round(micros(s.P50), 2)
	r.NullCall = &NullCall{SecureWorld: secureWorld, P50US: r.NullCallUS, P90US: round(micros(s.P90), 2), P99US: round(micros(s.P99), 2), Samples: s.N}
}

// describeSecureWorld says what a tee: value is, for the table.
func describeSecureWorld(tee string) string {
	switch tee {
	case "sim":
		return "sim (the tzbridge simulator)"
	case "auto":
		return "auto (the first GP-capable /dev/teeN)"
	case "":
		return "unknown"
	}
	return tee + " (device)"
}

// round rounds x to the given number of decimals.
func round(x float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(x*p) / p
}

// FormatSize writes a byte count the way --sizes takes it: 64, 4K, 64K, 1M.
func FormatSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dK", n>>10)
	}
	return fmt.Sprintf("%d", n)
}

// WriteTable prints r for a terminal.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "machine: %s, %d cores, Linux %s, %s\n", m.CPU, m.Cores, m.Kernel, m.GoVersion)
	if r.SecureWorld != "" {
		fmt.Fprintf(&b, "secure world: %s, TA %s\n", describeSecureWorld(r.SecureWorld), r.TA)
	}
	b.WriteString("\n")
	if len(r.Results) > 0 {
		fmt.Fprintf(&b, "round trip, CA↔TA through tzbridge (bridged) vs CA↔CA (direct), µs")
		if len(r.Runs) > 1 {
			fmt.Fprintf(&b, ", medians of %d runs, each with a fresh bridge", len(r.Runs))
		}
		b.WriteString(":\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "transport\tsize\tdirect p50\tbridged p50\tratio p50\tdirect p90\tbridged p90\tratio p90\tdirect p99\tbridged p99\tratio p99\tsamples\t")
		for _, x := range r.Results {
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%.2f\t%.1f\t%.1f\t%.2f\t%.1f\t%.1f\t%.2f\t%d\t\n",
				x.Transport, FormatSize(int64(x.Size)), x.DirectP50US, x.BridgedP50US, x.RatioP50,
				x.DirectP90US, x.BridgedP90US, x.RatioP90, x.DirectP99US, x.BridgedP99US, x.RatioP99, x.Samples)
		}
		tw.Flush()
		b.WriteString("\n")
		if len(r.Runs) > 1 {
			b.WriteString("ratio p50 by run:\n")
			for j, x := range r.Results {
				fmt.Fprintf(&b, "  %s %s:", x.Transport, FormatSize(int64(x.Size)))
				for _, run := range r.Runs {
					fmt.Fprintf(&b, " %.2f", run.Results[j].RatioP50)
				}
				b.WriteString("\n")
			}
			b.WriteString("\n")
		}
	}
	if len(r.Throughput) > 0 {
		fmt.Fprintf(&b, "bulk throughput, echoed, MB/s:\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "transport\tbytes\tdirect\tbridged\tbridged/direct\t")
		for _, x := range r.Throughput {
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%.2f\t\n", x.Transport, FormatSize(x.Bytes), x.DirectMBps, x.BridgedMBps, x.RatioBridged)
		}
		tw.Flush()
		b.WriteString("\n")
	}
	if r.NullCall != nil {
		fmt.Fprintf(&b, "null call (one NULL command, no TA code) on %s: p50 %.1f µs, p90 %.1f µs, p99 %.1f µs (%d samples)\n",
			describeSecureWorld(r.NullCall.SecureWorld), r.NullCall.P50US, r.NullCall.P90US, r.NullCall.P99US, r.NullCall.Samples)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if len(r.Profiles) > 0 {
		b.WriteString("\n")
		if err := WriteProfiles(&b, r.Profiles); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ParseSizes reads a list of sizes such as "64,4096,64K,1M" (K and M are
// binary: 1024 and 1048576).
func ParseSizes(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		num, mult := f, 1
		switch f[len(f)-1] {
		case 'K', 'k':
			num, mult = f[:len(f)-1], 1<<10
		case 'M', 'm':
			num, mult = f[:len(f)-1], 1<<20
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || n > maxSize/mult {
			return nil, fmt.Errorf("size %q: want 1 byte to %s", f, FormatSize(maxSize))
		}
		out = append(out, n*mult)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no sizes in %q", s)
	}
	return out, nil
}

// maxSize is the largest message a run takes.
const maxSize = 64 << 20
