package congestion

import (
	"container/heap"
	"math"
	"testing"
	"time"
)

// The in-flight level at which loss crossed the threshold, inside the
// packet that crossed it: (2000 + x) / (99000 + x) = 0.02.
func TestInflightAtLoss(t *testing.T) {
	got := inflightAtLoss(100000, 3000, 1000)
	want := 99000 + (0.02*99000-2000)/0.98
	if math.Abs(got-want) > 1e-6 {
		t.Fatalf("inflightAtLoss = %v, want %v", got, want)
	}
	if inflightTooHigh(2000, 100000) || !inflightTooHigh(2001, 100000) {
		t.Fatal("the threshold is not 2 % of what was in flight")
	}
}

// runUntil steps l by a millisecond until cond holds, for at most d.
func runUntil(t *testing.T, l *linkSim, d time.Duration, cond func() bool) {
	t.Helper()
	for end := l.now.Add(d); !cond(); {
		if !l.now.Before(end) {
			t.Fatalf("condition not met within %v", d)
		}
		l.run(time.Millisecond)
	}
}

// probeUp returns a BBR on a clean 100 Mbit/s, 50 ms path, in ProbeBW UP.
func probeUp(t *testing.T) (*linkSim, *simFlow, *BBR) {
	l := newLinkSim(t, 100, 50*time.Millisecond, 0)
	b := newSimBBR(3)
	f := l.add(b, 0)
	runUntil(t, l, 10*time.Second, func() bool { return b.State() == BBRProbeBWUp })
	return l, f, b
}

// loseNewest reports the n packets f sent last as lost, one by one, and
// then together, as a loss timer would, takes them off the link, and
// returns whether the controller took them for congestion.
func loseNewest(l *linkSim, f *simFlow, n int) bool {
	first := f.nextPN - int64(n)
	for pn := first; pn < f.nextPN; pn++ {
		f.cc.(PacketLossObserver).OnPacketLost(l.now, pn, f.mss)
	}
	kept := f.flight[:0]
	for _, p := range f.flight {
		if p.pn < first {
			kept = append(kept, p)
		}
	}
	f.flight = kept
	heap.Init(&f.flight)
	f.inFlt -= n * f.mss
	return f.cc.OnLoss(l.now, n*f.mss, l.now)
}

// A probe that loses more than 2 % of what it had in flight ends at
// once, and what was in flight when it crossed the threshold becomes the
// long-term ceiling, which bounds the window.
func TestBBRProbeLossSetsInflightLongterm(t *testing.T) {
	l, f, b := probeUp(t)
	if _, set := b.InflightLongterm(); set {
		t.Fatal("inflight_longterm set on a clean path")
	}
	inFlight := f.inFlt
	n := int(0.03*float64(inFlight))/f.mss + 1
	if !loseNewest(l, f, n) {
		t.Error("OnLoss did not report the loss as taken for congestion")
	}
	if b.State() != BBRProbeBWDown {
		t.Fatalf("state %v after the probe lost %d of %d bytes, want probe_bw_down", b.State(), n*f.mss, inFlight)
	}
	hi, set := b.InflightLongterm()
	if !set || hi > inFlight || hi < inFlight-n*f.mss {
		t.Fatalf("inflight_longterm %d (set %v), want between %d and %d", hi, set, inFlight-n*f.mss, inFlight)
	}
	l.run(time.Millisecond)
	if b.Window() > hi {
		t.Fatalf("window %d above inflight_longterm %d", b.Window(), hi)
	}
}

// Loss under the threshold leaves a probe running.
func TestBBRProbeToleratesLossUnderThreshold(t *testing.T) {
	l, f, b := probeUp(t)
	n := int(0.01*float64(f.inFlt)) / f.mss
	loseNewest(l, f, n)
	if b.State() != BBRProbeBWUp {
		t.Fatalf("state %v after losing 1 %%, want probe_bw_up", b.State())
	}
	if _, set := b.InflightLongterm(); set {
		t.Fatal("inflight_longterm set by loss under the threshold")
	}
}

// When everything lost turns out to have arrived after all, the loss's
// response is undone and the probe starts again.
func TestBBRSpuriousLossUndoesProbeEnd(t *testing.T) {
	l, f, b := probeUp(t)
	n := int(0.03*float64(f.inFlt))/f.mss + 1
	loseNewest(l, f, n)
	if _, set := b.InflightLongterm(); !set || b.State() != BBRProbeBWDown {
		t.Fatalf("state %v, inflight_longterm set %v: the loss did not end the probe", b.State(), set)
	}
	b.OnSpuriousLoss(l.now, (n-1)*f.mss, l.now)
	if b.State() != BBRProbeBWDown {
		t.Fatal("undone before all the lost bytes were found spurious")
	}
	b.OnSpuriousLoss(l.now, f.mss, l.now)
	if b.State() != BBRProbeBWRefill {
		t.Fatalf("state %v after the loss proved spurious, want probe_bw_refill", b.State())
	}
	if _, set := b.InflightLongterm(); set {
		t.Fatal("inflight_longterm kept after the loss proved spurious")
	}
}

// Outside a probe, a round trip with a loss cuts the short-term bounds by
// at most 30 %, to no less than what the round delivered; the next probe
// forgets them.
func TestBBRLossOutsideProbeLowersShortTermBounds(t *testing.T) {
	l := newLinkSim(t, 100, 50*time.Millisecond, 0)
	b := newSimBBR(3)
	f := l.add(b, 0)
	runUntil(t, l, 10*time.Second, func() bool { return b.State() == BBRProbeBWCruise })
	maxBw, cwnd := b.maxBw, float64(b.Window())
	loseNewest(l, f, 1)
	runUntil(t, l, time.Second, func() bool { return b.inflightShort != unbounded })
	if b.bwShort < bbrBeta*maxBw-1 || b.bwShort > maxBw {
		t.Fatalf("bw_shortterm %.0f, want between %.0f and %.0f", b.bwShort, bbrBeta*maxBw, maxBw)
	}
	if b.inflightShort < bbrBeta*cwnd-1 || b.inflightShort > cwnd {
		t.Fatalf("inflight_shortterm %.0f, want between %.0f and %.0f", b.inflightShort, bbrBeta*cwnd, cwnd)
	}
	if float64(b.Window()) > b.inflightShort {
		t.Fatalf("window %d above inflight_shortterm %.0f", b.Window(), b.inflightShort)
	}
	runUntil(t, l, 5*time.Second, func() bool { return b.State() == BBRProbeBWRefill })
	if b.bwShort != unbounded || b.inflightShort != unbounded {
		t.Fatal("REFILL kept the short-term bounds")
	}
}

// Behind a queue of a tenth of a BDP, Startup overflows the queue before
// the delivery rate stops growing; it ends on the loss and sets the
// ceiling from it.
func TestBBRStartupEndsOnHighLoss(t *testing.T) {
	l := newLinkSim(t, 100, 50*time.Millisecond, 0)
	l.queueLimit = l.bdp() / 10
	b := newSimBBR(3)
	l.add(b, 0)
	runUntil(t, l, 5*time.Second, func() bool { return b.fullBwReached })
	if b.fullBwCount >= bbrFullBwCount {
		t.Fatal("Startup ended on a bandwidth plateau, not on loss")
	}
	if _, set := b.InflightLongterm(); !set {
		t.Fatal("Startup ended on loss without setting inflight_longterm")
	}
}

// Behind a shallow queue (a quarter BDP) BBR keeps its loss rate low
// where the first version, which ignores loss, keeps two BDPs in flight
// and loses what does not fit; the link stays full.
func TestBBRShallowBufferKeepsLossLow(t *testing.T) {
	l := newLinkSim(t, 100, 50*time.Millisecond, 0)
	l.queueLimit = l.bdp() / 4
	b := newSimBBR(1)
	f := l.add(b, 0)
	l.run(5 * time.Second)
	sent, dropped := f.sent, f.dropped
	got := l.goodputs(20 * time.Second)[0]
	rate := float64(f.dropped-dropped) / float64(f.sent-sent)
	t.Logf("%.1f Mbit/s, %.2f%% lost", got, 100*rate)
	if rate > 0.01 {
		t.Errorf("%.2f%% of packets lost, want under 1%%", 100*rate)
	}
	if got < 90 {
		t.Errorf("%.1f Mbit/s delivered, want at least 90", got)
	}
}

// On a link of one BDP of drop-tail queue, BBR and CUBIC started together
// share it: BBR's losses in its probes bound what it keeps in flight.
// The losses there come with a queue, so a tolerant BBR shares alike.
func TestBBRSharesWithCubic(t *testing.T) {
	for _, tolerant := range []bool{false, true} {
		l := newLinkSim(t, 100, 50*time.Millisecond, 0)
		l.queueLimit = l.bdp()
		b := NewBBR(BBROptions{MaxDatagramSize: 1452, TolerateRandomLoss: tolerant})
		b.seed(1)
		l.add(b, 0)
		l.add(NewCubic(CubicOptions{MaxDatagramSize: 1452}), 0)
		l.run(5 * time.Second)
		g := l.goodputs(20 * time.Second)
		share := g[0] / (g[0] + g[1])
		t.Logf("tolerant %v: BBR %.1f, CUBIC %.1f Mbit/s: BBR's share %.2f", tolerant, g[0], g[1], share)
		if share < 0.35 || share > 0.65 {
			t.Errorf("tolerant %v: BBR's share %.2f, want 0.35–0.65", tolerant, share)
		}
		if g[0]+g[1] < 90 {
			t.Errorf("tolerant %v: together %.1f Mbit/s, want the link full", tolerant, g[0]+g[1])
		}
	}
}

// With TolerateRandomLoss, random loss of 3 % (no queue behind it) does
// not reach the model, and BBR keeps the link full where the draft's BBR,
// whose every probe loses more than 2 %, falls far below it.
func TestBBRTolerantOfRandomLoss(t *testing.T) {
	run := func(tolerant bool) (float64, *BBR) {
		l := newLinkSim(t, 100, 50*time.Millisecond, 0)
		l.loss = 0.03
		b := NewBBR(BBROptions{MaxDatagramSize: 1452, TolerateRandomLoss: tolerant})
		b.seed(1)
		l.add(b, 0)
		l.run(3 * time.Second)
		return l.goodputs(10 * time.Second)[0], b
	}
	strict, _ := run(false)
	tolerant, b := run(true)
	t.Logf("3%% random loss: %.1f Mbit/s as drafted, %.1f tolerant", strict, tolerant)
	if tolerant < 85 {
		t.Errorf("tolerant BBR delivered %.1f Mbit/s at 3%% random loss, want at least 85", tolerant)
	}
	// Startup may end on its own overshoot's losses, which come with a
	// queue; the ceiling that sets must not have sunk below the BDP.
	if hi, set := b.InflightLongterm(); set && hi < 625000 {
		t.Errorf("inflight_longterm %d, below the BDP of 625000: random loss lowered it", hi)
	}
	if strict > 0.8*tolerant {
		t.Errorf("the draft's BBR delivered %.1f Mbit/s at 3%% random loss: the loss did not reach it", strict)
	}
}

// A tolerant BBR reports a loss with no queue behind it as random, and
// it reaches neither the probe's loss rate nor the short-term bounds; the
// draft's BBR takes the same loss.
func TestBBRRandomLossReportedRandom(t *testing.T) {
	for _, tolerant := range []bool{false, true} {
		l := newLinkSim(t, 100, 50*time.Millisecond, 0)
		b := NewBBR(BBROptions{MaxDatagramSize: 1452, TolerateRandomLoss: tolerant})
		b.seed(3)
		f := l.add(b, 0)
		runUntil(t, l, 10*time.Second, func() bool { return b.State() == BBRProbeBWUp })
		n := int(0.03*float64(f.inFlt))/f.mss + 1
		taken := loseNewest(l, f, n)
		_, set := b.InflightLongterm()
		if taken == tolerant || set == tolerant {
			t.Errorf("tolerant %v: a loss of 3%% with no queue taken %v, inflight_longterm set %v; want %v, %v", tolerant, taken, set, !tolerant, !tolerant)
		}
	}
}

// After a probe sets inflight_longterm, the next probe that finds the
// window held at it raises it faster every round trip for as long as it
// loses nothing: on a clean path it climbs back well past a few datagrams.
func TestBBRProbeRaisesInflightLongterm(t *testing.T) {
	l, _, b := probeUp(t)
	b.handleInflightTooHigh(l.now, false, 0.8*float64(l.bdp())+0.5)
	hi, _ := b.InflightLongterm()
	runUntil(t, l, 10*time.Second, func() bool { return b.State() == BBRProbeBWUp })
	runUntil(t, l, 5*time.Second, func() bool { return b.State() != BBRProbeBWUp })
	after, _ := b.InflightLongterm()
	t.Logf("inflight_longterm %d before the probe, %d after", hi, after)
	if after < hi+30*1452 {
		t.Fatalf("inflight_longterm %d after a clean probe from %d, want at least 30 datagrams more", after, hi)
	}
}

// A window held at inflight_longterm keeps a probe going whatever the
// delivery rate does. The ceiling is whole bytes, as the window is: one
// with a fraction of a byte above the window made such a probe end after
// three round trips, as if the bandwidth had stopped growing.
func TestBBRWindowAtCeilingKeepsProbing(t *testing.T) {
	b := newSimBBR(1)
	b.state = BBRProbeBWUp
	b.handleInflightTooHigh(simEpoch, false, 500000.5)
	b.state = BBRProbeBWUp // handleInflightTooHigh ended the probe
	hi, _ := b.InflightLongterm()
	b.cwnd, b.cwndLimited, b.fullBwNow = hi, true, true
	b.inFlight = hi - 1452
	if b.isTimeToGoDown() {
		t.Fatalf("a probe at its ceiling (window %d, inflight_longterm %v) ended", b.cwnd, b.inflightLong)
	}
}

// After a probe that lost too much, the next probe stops as soon as what
// is in flight reaches the ceiling that loss set; losing nothing there,
// BBR probes again at once (REFILL within a few round trips, not 2–3 s
// later), this time holding the ceiling. Behind a queue of a quarter BDP
// every other probe loses too much, so both kinds come in turn.
func TestBBRPrecautionaryProbe(t *testing.T) {
	l := newLinkSim(t, 100, 50*time.Millisecond, 0)
	l.queueLimit = l.bdp() / 4
	b := newSimBBR(1)
	l.add(b, 0)
	var precautionary int
	var stoppedAt time.Time
	prev := b.State()
	for range 30000 {
		l.run(time.Millisecond)
		st := b.State()
		switch {
		case st == prev:
		case prev == BBRProbeBWUp && b.prevProbePrecautionary:
			precautionary++
			stoppedAt = l.now
		case st == BBRProbeBWRefill && !stoppedAt.IsZero():
			if d := l.now.Sub(stoppedAt); d > 4*b.MinRTT() {
				t.Fatalf("REFILL %v after a precautionary probe, want within a few round trips", d)
			}
			stoppedAt = time.Time{}
		}
		prev = st
	}
	if precautionary < 3 {
		t.Fatalf("%d probes stopped at the ceiling in 30 s, want one after each probe that lost too much", precautionary)
	}
	if !stoppedAt.IsZero() && l.now.Sub(stoppedAt) > 4*b.MinRTT() {
		t.Fatal("no REFILL after the last precautionary probe")
	}
}

// A loss a timer declares leaves flight at once; the next ACK's bytes in
// flight, measured after it, must not lose those bytes a second time.
func TestBBRTimerLossCountedOnce(t *testing.T) {
	l, f, b := probeUp(t)
	loseNewest(l, f, 1) // no ACK with it: a loss timer
	l.now = f.flight[0].arrive
	f.deliver(l.now) // the next ACK, nothing sent in between
	if got, want := b.inFlight, f.inFlt; got != want {
		t.Fatalf("BBR counts %d bytes in flight after the next ACK, the path has %d", got, want)
	}
}

// A late ACK of a packet lost in an earlier loss episode does not undo the
// response to a later one.
func TestBBRSpuriousLossOfEarlierEpisode(t *testing.T) {
	l, f, b := probeUp(t)
	earlier := l.now
	l.run(time.Second)
	for b.State() != BBRProbeBWUp {
		l.run(time.Millisecond)
	}
	n := int(0.03*float64(f.inFlt))/f.mss + 1
	loseNewest(l, f, n)
	b.OnSpuriousLoss(l.now, n*f.mss, earlier)
	if b.State() != BBRProbeBWDown {
		t.Fatalf("state %v: a spurious loss of an earlier episode undid this one", b.State())
	}
}
