package bench

import (
	"math"
	"slices"
	"time"
)

// Summary describes a set of latency samples.
type Summary struct {
	N             int
	P50, P90, P99 time.Duration
	Min, Max      time.Duration
}

// Summarize computes the summary of samples; it sorts samples in place.
// Percentiles are nearest-rank: the smallest sample that at least p% of the
// samples do not exceed.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	slices.Sort(samples)
	return Summary{
		N:   len(samples),
		P50: percentile(samples, 50),
		P90: percentile(samples, 90),
		P99: percentile(samples, 99),
		Min: samples[0],
		Max: samples[len(samples)-1],
	}
}

// percentile is the nearest-rank p-th percentile of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// ratio is a/b, or 0 when b is 0 (nothing measured).
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// micros is d in microseconds.
func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// mbPerSec is a throughput in MB/s (10^6 bytes per second).
func mbPerSec(bytes int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(bytes) / d.Seconds() / 1e6
}
