package fec

import "math"

// The adaptive repair rule (docs/PROTOCOL.md section 10).
const (
	// MinLossRate is the loss rate below which adaptive FEC sends no
	// repair packets: the path is clean, and retransmitting the rare loss
	// costs less than protecting every group.
	MinLossRate = 0.001
	// UnrecoverableTarget is the chance, per group, that more packets are
	// lost than its repairs can rebuild, which the rule keeps under: a
	// request of a few packets then waits a round trip for a
	// retransmission less than once in 1000 times, so the 99th percentile
	// of request times stays at one round trip.
	UnrecoverableTarget = 0.001
	// MaxAdaptiveRepair caps the repair packets of one group.
	MaxAdaptiveRepair = 8
)

// Repairs is how many repair symbols adaptive FEC gives a group of n
// source packets on a path that loses the fraction rate of its packets in
// bursts of meanBurst on average: 0 below MinLossRate, otherwise the
// smallest m from 1 to min(n, MaxAdaptiveRepair) for which the group's
// n+m packets lose more than m with a chance under UnrecoverableTarget, or
// that cap if none does.
//
// Losses are modelled as bursts of ⌈meanBurst⌉ packets starting
// independently at each packet with probability rate/meanBurst, so m
// repairs survive ⌊m/⌈meanBurst⌉⌋ bursts: bursty paths get more repairs
// than random loss of the same rate.
func Repairs(n int, rate, meanBurst float64) int {
	if n <= 0 || rate < MinLossRate {
		return 0
	}
	burst := max(int(math.Ceil(meanBurst-1e-9)), 1)
	start := min(rate/float64(burst), 1)
	limit := min(n, MaxAdaptiveRepair)
	for m := 1; m <= limit; m++ {
		if binomialTail(n+m, start, m/burst+1) < UnrecoverableTarget {
			return m
		}
	}
	return limit
}

// binomialTail is P(X ≥ k) for X ~ Binomial(n, p).
func binomialTail(n int, p float64, k int) float64 {
	if k <= 0 {
		return 1
	}
	if k > n {
		return 0
	}
	// Sum P(X = i) for i < k and take the complement; n is small.
	below := 0.0
	term := math.Pow(1-p, float64(n)) // P(X = 0)
	for i := 0; i < k; i++ {
		below += term
		term *= float64(n-i) / float64(i+1) * p / (1 - p)
	}
	return max(1-below, 0)
}
