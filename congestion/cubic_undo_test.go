package congestion

import (
	"math"
	"testing"
	"time"
)

// windowState is the observable part of what an undo restores.
func windowState(c *Cubic) cubicWindowState {
	return cubicWindowState{
		cwnd: c.cwnd, ssthresh: c.ssthresh, cwndPrior: c.cwndPrior, cwndFraction: c.cwndFraction,
		wMax: c.wMax, k: c.k, cwndEpoch: c.cwndEpoch, wEst: c.wEst,
		epochStart: c.epochStart, epochStarted: c.epochStarted, curveFromEpoch: c.curveFromEpoch,
		recoveryStart: c.recoveryStart, haveRecovery: c.haveRecovery, inRecovery: c.inRecovery,
		hystartPhase: c.hs.phase,
	}
}

// inAvoidance returns a driver in congestion avoidance after a real loss
// at a 100000-byte window and a while of curve growth, so that every field
// an undo restores has a non-trivial value.
func inAvoidance(t *testing.T) *driver {
	t.Helper()
	const mss = 1000
	d := newDriver(t, CubicOptions{MaxDatagramSize: mss, DisableHyStart: true})
	d.growTo(100000)
	p := d.send(1)
	d.advance(50 * time.Millisecond)
	d.loseOne(p[0].at)
	for range 20 {
		p := d.send(10)
		d.advance(50 * time.Millisecond)
		d.ack(d.c.Window(), p...)
	}
	if d.c.Phase() != PhaseCongestionAvoidance || !d.c.epochStarted {
		t.Fatalf("phase %v, epoch started %v; want congestion avoidance with an epoch", d.c.Phase(), d.c.epochStarted)
	}
	return d
}

func TestUndoSpuriousReduction(t *testing.T) {
	d := inAvoidance(t)
	before := windowState(d.c)
	p := d.send(3)
	d.advance(50 * time.Millisecond)
	lostAt := d.now
	d.c.OnLoss(d.now, 2*d.mss, p[1].at) // packets 0 and 1
	if got, want := d.c.Window(), before.cwnd*7/10; got != want {
		t.Fatalf("window after the loss: got %d, want %d", got, want)
	}
	d.advance(5 * time.Millisecond)
	d.c.OnSpuriousLoss(d.now, d.mss, lostAt)
	if got, want := d.c.Window(), before.cwnd*7/10; got != want {
		t.Fatalf("window after one of two lost packets proved spurious: got %d, want still %d", got, want)
	}
	d.c.OnSpuriousLoss(d.now, d.mss, lostAt)
	if got := windowState(d.c); got != before {
		t.Fatalf("state after undo:\n got %+v\nwant %+v", got, before)
	}
	if d.c.Phase() != PhaseCongestionAvoidance {
		t.Errorf("phase after undo: got %v, want congestion_avoidance", d.c.Phase())
	}
	if total, undone := d.c.Reductions(); total != 2 || undone != 1 {
		t.Errorf("Reductions() = %d, %d; want 2, 1", total, undone)
	}

	// The event is closed: more spurious bytes change nothing.
	d.c.OnSpuriousLoss(d.now, d.mss, lostAt)
	if got := windowState(d.c); got != before {
		t.Errorf("state after a second undo attempt changed to %+v", got)
	}
	// The curve carries on from the restored epoch start.
	q := d.send(10)
	d.advance(50 * time.Millisecond)
	d.ack(d.c.Window(), q...)
	if d.c.Window() <= before.cwnd || !d.c.epochStart.Equal(before.epochStart) {
		t.Errorf("after an ACK: window %d (before %d), epoch start moved: %v", d.c.Window(), before.cwnd, !d.c.epochStart.Equal(before.epochStart))
	}
}

// TestUndoNeedsTheWholeEvent: bytes lost later in the same congestion
// event (packets sent before it began) must prove spurious as well.
func TestUndoNeedsTheWholeEvent(t *testing.T) {
	d := inAvoidance(t)
	before := d.c.Window()
	p := d.send(3)
	d.advance(50 * time.Millisecond)
	first := d.now
	d.loseOne(p[0].at)
	d.advance(time.Millisecond)
	second := d.now
	d.loseOne(p[1].at) // same event: sent before it began
	reduced := d.c.Window()
	d.c.OnSpuriousLoss(d.now, d.mss, first)
	if got := d.c.Window(); got != reduced {
		t.Fatalf("window with half the event spurious: got %d, want %d", got, reduced)
	}
	d.c.OnSpuriousLoss(d.now, d.mss, second)
	if got := d.c.Window(); got != before {
		t.Fatalf("window with the whole event spurious: got %d, want %d", got, before)
	}
}

// TestUndoIgnoresOlderEvents: a spurious loss from before the last
// reduction cannot undo it.
func TestUndoIgnoresOlderEvents(t *testing.T) {
	d := inAvoidance(t)
	p := d.send(1)
	d.advance(50 * time.Millisecond)
	earlier := d.now.Add(-time.Millisecond)
	d.loseOne(p[0].at)
	reduced := d.c.Window()
	d.c.OnSpuriousLoss(d.now, d.mss, earlier)
	if got := d.c.Window(); got != reduced {
		t.Errorf("window: got %d, want %d", got, reduced)
	}
}

// TestUndoInSlowStart: a spurious loss that ended the initial slow start
// is undone back into slow start, with HyStart++ running again.
func TestUndoInSlowStart(t *testing.T) {
	const mss = 1000
	d := newDriver(t, CubicOptions{MaxDatagramSize: mss})
	d.growTo(30000)
	p := d.send(1)
	d.advance(10 * time.Millisecond)
	d.loseOne(p[0].at)
	if d.c.InSlowStart() {
		t.Fatal("still in slow start after a loss")
	}
	d.c.OnSpuriousLoss(d.now, mss, d.now)
	if got, want := d.c.Window(), 30000; got != want {
		t.Errorf("window: got %d, want %d", got, want)
	}
	if d.c.SlowStartThreshold() != math.MaxInt || d.c.Phase() != PhaseSlowStart || !d.c.hystartActive() || d.c.InRecovery() {
		t.Errorf("ssthresh %d, phase %v, HyStart++ active %v, in recovery %v; want MaxInt, slow_start, true, false",
			d.c.SlowStartThreshold(), d.c.Phase(), d.c.hystartActive(), d.c.InRecovery())
	}
	d.growTo(31000)
}

// TestUndoKeepsALargerWindow: if the window grew past the saved one
// before the losses proved spurious, it is not lowered.
func TestUndoKeepsALargerWindow(t *testing.T) {
	d := inAvoidance(t)
	p := d.send(1)
	d.advance(50 * time.Millisecond)
	d.loseOne(p[0].at)
	d.c.cwnd = 500000
	d.c.OnSpuriousLoss(d.now, d.mss, d.now)
	if got, want := d.c.Window(), 500000; got != want {
		t.Errorf("window: got %d, want %d", got, want)
	}
}

func TestNoUndo(t *testing.T) {
	tests := []struct {
		desc  string
		after func(d *driver) // between the loss and the spurious report
	}{
		{desc: "persistent congestion", after: func(d *driver) { d.c.OnPersistentCongestion(d.now) }},
		{desc: "datagram size change", after: func(d *driver) { d.c.SetMaxDatagramSize(1200) }},
		{desc: "reset", after: func(d *driver) { d.c.Reset(d.now) }},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			d := inAvoidance(t)
			p := d.send(1)
			d.advance(50 * time.Millisecond)
			lostAt := d.now
			d.loseOne(p[0].at)
			tt.after(d)
			want := windowState(d.c)
			d.c.OnSpuriousLoss(d.now, d.mss, lostAt)
			if got := windowState(d.c); got != want {
				t.Errorf("state changed by OnSpuriousLoss:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}
