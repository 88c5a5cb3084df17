package ackframes

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/limpetnet/limpet/packet"
)

func TestLossProcessCleanPath(t *testing.T) {
	var l LossProcess
	for range 1000 {
		l.OnDelivered()
	}
	if l.Rate() != 0 || l.MeanBurst() != 1 || l.Lost() != 0 {
		t.Fatalf("clean path: rate %v, burst %v, lost %d; want 0, 1, 0", l.Rate(), l.MeanBurst(), l.Lost())
	}
}

// One loss on a quiet path shows at once, and fades over a few hundred
// delivered packets.
func TestLossProcessOneLoss(t *testing.T) {
	var l LossProcess
	l.OnLost(10)
	if got, want := l.Rate(), 1.0/256; math.Abs(got-want) > 1e-12 {
		t.Fatalf("rate after one loss %v, want %v", got, want)
	}
	for range 512 {
		l.OnDelivered()
	}
	if got := l.Rate(); got > 1.0/256/7 || got < 1.0/256/8 {
		t.Fatalf("rate 512 packets later %v, want it down by e^2", got)
	}
}

// The rate and burst length of random and of bursty (Gilbert-Elliott) loss
// come out as generated.
func TestLossProcessEstimates(t *testing.T) {
	for _, tt := range []struct {
		desc       string
		enterBad   float64 // per packet, in the good state
		leaveBad   float64 // per packet, in the bad state (which loses all)
		wantRate   float64
		wantBurst  float64
		rateWithin float64
	}{
		{"1% random", 0.01, 1, 0.0099, 1.0, 0.5},
		{"3% random", 0.03, 1, 0.029, 1.03, 0.4},
		{"bursts of 4", 0.01, 0.25, 0.038, 4, 0.4},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var l LossProcess
			bad := false
			var sumRate float64
			const n = 200000
			for pn := range packet.PacketNumber(n) {
				if bad {
					bad = rng.Float64() >= tt.leaveBad
				} else {
					bad = rng.Float64() < tt.enterBad
				}
				if bad {
					l.OnLost(pn)
				} else {
					l.OnDelivered()
				}
				sumRate += l.Rate()
			}
			if mean := sumRate / n; math.Abs(mean-tt.wantRate) > tt.rateWithin*tt.wantRate {
				t.Errorf("mean rate %.4f, want %.4f within %.0f%%", mean, tt.wantRate, 100*tt.rateWithin)
			}
			if got := l.MeanBurst(); math.Abs(got-tt.wantBurst) > 0.5*tt.wantBurst {
				t.Errorf("mean burst %.2f, want about %.2f", got, tt.wantBurst)
			}
		})
	}
}

// Lost packets up to two numbers apart are one burst; further apart, two.
func TestLossProcessBursts(t *testing.T) {
	var l LossProcess
	for _, pn := range []packet.PacketNumber{10, 11, 13, 14} { // one burst of 4 (12 skipped)
		l.OnLost(pn)
	}
	if got := l.MeanBurst(); got != 4 {
		t.Fatalf("burst being counted: %v, want 4", got)
	}
	l.OnLost(20) // ends it
	if got := l.MeanBurst(); got != 4 {
		t.Fatalf("after one burst of 4: %v, want 4", got)
	}
	l.OnLost(30)
	l.OnLost(40)
	if got, want := l.MeanBurst(), 4+(1-4)/16.0+(1-(4+(1-4)/16.0))/16; math.Abs(got-want) > 1e-12 {
		t.Fatalf("after bursts of 4, 1, 1: %v, want %v", got, want)
	}
	if l.Lost() != 7 {
		t.Fatalf("Lost() = %d, want 7", l.Lost())
	}
}
