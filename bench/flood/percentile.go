package flood

import (
	"math"
	"slices"
	"time"
)

// sortDurations sorts samples in increasing order.
func sortDurations(samples []time.Duration) { slices.Sort(samples) }

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted samples: the smallest sample that at least p percent of the
// samples do not exceed. With 100 samples, p99 is the 99th smallest; with
// fewer than 100, it is the largest. It returns 0 for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// The small epsilon keeps p/100*n that is a whole number in exact
	// arithmetic (99/100*200 = 198) from rounding up to the next rank.
	rank := int(math.Ceil(p/100*float64(n) - 1e-9))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}
