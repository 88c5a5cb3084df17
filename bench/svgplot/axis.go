package svgplot

import (
	"math"
	"strconv"
)

// Tick is a labelled position on an axis.
type Tick struct {
	Value float64
	Label string
}

// eps absorbs the rounding of divisions by a step, so that a value that is
// a multiple of the step counts as one.
const eps = 1e-9

// maxTicks bounds the ticks of an axis whatever the floating point does.
const maxTicks = 100

// niceStep returns the smallest step of 1, 2 or 5 × 10^k that cuts span
// into at most intervals parts.
func niceStep(span float64, intervals int) float64 {
	raw := span / float64(max(intervals, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw*(1-eps) {
			return m * mag
		}
	}
	return 10 * mag
}

// niceAxis chooses the range and ticks of an axis showing lo to hi with at
// most about intervals gaps between ticks. An end that is not fixed moves
// out to the next tick; a fixed end stays where it is.
func niceAxis(lo, hi float64, fixLo, fixHi bool, intervals int) (axisLo, axisHi float64, ticks []Tick) {
	if hi < lo {
		lo, hi = hi, lo
	}
	if hi == lo {
		// One value: show it in the middle of a small range, or 0 to 1.
		d := math.Abs(lo) * 0.1
		if d == 0 {
			d = 1
		}
		switch {
		case fixLo && !fixHi:
			hi = lo + d
		case fixHi && !fixLo:
			lo = hi - d
		case !fixLo && !fixHi:
			if lo == 0 {
				hi = 1
			} else {
				lo, hi = lo-d, hi+d
			}
		default:
			hi = lo + d
		}
	}
	step := niceStep(hi-lo, intervals)
	first := math.Ceil(lo/step - eps)
	last := math.Floor(hi/step + eps)
	if !fixLo {
		first = math.Floor(lo/step + eps)
		lo = first * step
	}
	if !fixHi {
		last = math.Ceil(hi/step - eps)
		hi = last * step
	}
	decimals := max(0, -int(math.Floor(math.Log10(step)+eps)))
	// Counting ticks, rather than stepping k, ends the loop even where
	// k is too large for k+1 to differ from k.
	for i := 0.0; i <= last-first && i <= maxTicks; i++ {
		v := (first + i) * step
		ticks = append(ticks, Tick{Value: v, Label: formatTick(v, decimals)})
	}
	return lo, hi, ticks
}

// formatTick writes v with a fixed number of decimals, never as "-0".
func formatTick(v float64, decimals int) string {
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == 0 {
		s = strconv.FormatFloat(0, 'f', decimals, 64)
	}
	return s
}
