package congestion

import (
	"testing"
	"time"
)

// TestCongestionExperienced: a CE report reduces the window, to 0.85 of
// itself rather than a loss's 0.7 (ABE, RFC 8511), once per recovery
// period, and a later spurious-loss report cannot undo it.
func TestCongestionExperienced(t *testing.T) {
	d := inAvoidance(t)
	before := d.c.Window()
	reductions, _ := d.c.Reductions()
	p := d.send(3)
	d.advance(50 * time.Millisecond)
	if !d.c.OnCongestionExperienced(d.now, p[2].at) {
		t.Fatal("first CE report did not reduce the window")
	}
	if got, want := d.c.Window(), before*85/100; got != want {
		t.Fatalf("window after CE: got %d, want %d", got, want)
	}
	// More CE for packets sent before the reduction: the same event.
	if d.c.OnCongestionExperienced(d.now.Add(time.Millisecond), p[2].at) {
		t.Fatal("a second CE report in the same recovery period reduced the window again")
	}
	d.c.OnSpuriousLoss(d.now, d.mss, d.now)
	if got, want := d.c.Window(), before*85/100; got != want {
		t.Fatalf("window after a spurious-loss report: got %d, want %d (a CE reduction is not undone)", got, want)
	}
	// A packet sent after the reduction starts a new event.
	d.advance(10 * time.Millisecond)
	q := d.send(1)
	d.advance(50 * time.Millisecond)
	if !d.c.OnCongestionExperienced(d.now, q[0].at) {
		t.Fatal("CE for a packet sent after the recovery period began did not reduce the window")
	}
	if total, undone := d.c.Reductions(); total != reductions+2 || undone != 0 {
		t.Errorf("Reductions() = %d, %d; want %d, 0", total, undone, reductions+2)
	}
}

// Fast convergence after a CE cut lowers W_max by as much again as the
// cut: to cwnd·(1+0.85)/2, not the loss cut's cwnd·(1+0.7)/2.
func TestCongestionExperiencedFastConvergence(t *testing.T) {
	d := inAvoidance(t)
	d.c.cwnd, d.c.wMax = 100000, 120000
	p := d.send(1)
	d.advance(50 * time.Millisecond)
	if !d.c.OnCongestionExperienced(d.now, p[0].at) {
		t.Fatal("CE did not reduce the window")
	}
	if got, want := d.c.wMax, 100000*(1+0.85)/2; got != want {
		t.Fatalf("W_max after a CE cut below the old W_max: %v, want %v", got, want)
	}
}
