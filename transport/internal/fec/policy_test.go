package fec

import (
	"math"
	"testing"
)

func TestRepairs(t *testing.T) {
	for _, tt := range []struct {
		desc        string
		n           int
		rate, burst float64
		want        int
	}{
		{"clean path", 32, 0, 1, 0},
		{"below the threshold", 32, 0.0009, 1, 0},
		{"no sources", 0, 0.02, 1, 0},
		// A 3-packet request at 2 %: one repair leaves P(2+ of 4 lost) =
		// 0.23 %, two leave P(3+ of 5) = 0.008 %.
		{"small group, 2% random", 3, 0.02, 1, 2},
		{"one packet, 2% random", 1, 0.02, 1, 1},
		// 32 sources at 1 %: 2 repairs leave P(3+ of 34) = 0.45 %, 3
		// leave 0.04 %.
		{"full group, 1% random", 32, 0.01, 1, 3},
		// At 3 %: 4 repairs leave P(5+ of 36) = 0.34 %, 5 leave 0.06 %.
		{"full group, 3% random", 32, 0.03, 1, 5},
		// Bursts of 4 need 4 repairs per burst; a 3-packet group gets
		// all it may have.
		{"small group, bursts of 4", 3, 0.04, 4, 3},
		{"full group, bursts of 4", 32, 0.04, 4, 8},
		{"0.1% random, full group", 32, 0.001, 1, 1},
	} {
		if got := Repairs(tt.n, tt.rate, tt.burst); got != tt.want {
			t.Errorf("%s: Repairs(%d, %v, %v) = %d, want %d", tt.desc, tt.n, tt.rate, tt.burst, got, tt.want)
		}
	}
}

// More loss never means fewer repairs.
func TestRepairsMonotonic(t *testing.T) {
	for n := 1; n <= 32; n++ {
		prev := 0
		for rate := 0.0; rate <= 0.2; rate += 0.0005 {
			got := Repairs(n, rate, 1)
			if got < prev {
				t.Fatalf("n=%d: %d repairs at rate %v, %d at a lower rate", n, got, rate, prev)
			}
			prev = got
		}
	}
}

func TestBinomialTail(t *testing.T) {
	// P(X ≥ 2) for n = 4, p = 0.02: 1 - 0.98^4 - 4·0.02·0.98^3.
	want := 1 - math.Pow(0.98, 4) - 4*0.02*math.Pow(0.98, 3)
	if got := binomialTail(4, 0.02, 2); math.Abs(got-want) > 1e-12 {
		t.Fatalf("binomialTail(4, 0.02, 2) = %v, want %v", got, want)
	}
	if binomialTail(4, 0.5, 0) != 1 || binomialTail(4, 0.5, 5) != 0 {
		t.Fatal("binomialTail edges wrong")
	}
}
