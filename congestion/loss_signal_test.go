package congestion

import (
	"math"
	"testing"
	"time"
)

// tolerantDriver returns a driver for a Cubic with TolerateRandomLoss at a
// 100-datagram window, in congestion avoidance, whose RTT samples so far
// are all the path's minimum of 50 ms.
func tolerantDriver(t *testing.T) *driver {
	t.Helper()
	const mss = 1000
	d := newDriver(t, CubicOptions{MaxDatagramSize: mss, DisableHyStart: true, TolerateRandomLoss: true})
	d.c.cwnd, d.c.ssthresh = 100*mss, 100*mss
	d.steady(50*time.Millisecond, 60)
	return d
}

// steady runs n ACKs, one per millisecond, each for a packet that took rtt
// to be acknowledged. The sender is application-limited, so the window
// does not grow.
func (d *driver) steady(rtt time.Duration, n int) {
	for range n {
		p := d.send(1)
		d.rtt.Update(rtt, 0, true)
		d.advance(time.Millisecond)
		d.c.OnPacketAcked(d.now, p[0].pn, p[0].size, d.now.Add(-rtt))
		d.c.OnAckProcessed(d.now, 0, &d.rtt)
	}
}

func TestRandomLossKeepsTheWindow(t *testing.T) {
	d := tolerantDriver(t)
	before := d.c.Window()
	if d.c.OnLoss(d.now, d.mss, d.now.Add(-time.Millisecond)) {
		t.Fatal("OnLoss took a loss at the minimum RTT as congestion")
	}
	if got := d.c.Window(); got != before {
		t.Fatalf("window %d after a random loss, want %d", got, before)
	}
	if got := d.c.RandomLossBytes(); got != uint64(d.mss) {
		t.Errorf("RandomLossBytes = %d, want %d", got, d.mss)
	}
	if total, _ := d.c.Reductions(); total != 0 {
		t.Errorf("Reductions = %d, want 0", total)
	}
}

func TestLossWithQueueIsCongestion(t *testing.T) {
	for _, tt := range []struct {
		desc  string
		rtt   time.Duration // of every sample in the last half round trip
		want  bool
		wantW int // window after the loss, in datagrams
	}{
		// The threshold at a 50 ms minimum is a quarter: 12.5 ms.
		{"queue below the threshold", 62 * time.Millisecond, false, 100},
		// β = 50/63 = 0.79: the cut drains the queue and no more.
		{"shallow queue", 63 * time.Millisecond, true, 79},
		// β = 50/70 = 0.71.
		{"moderate queue", 70 * time.Millisecond, true, 71},
		// β would be 0.5; CUBIC's 0.7 is the floor.
		{"deep queue", 100 * time.Millisecond, true, 70},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			d := tolerantDriver(t)
			d.steady(tt.rtt, 120) // over two windows of half the RTT
			if got := d.c.OnLoss(d.now, d.mss, d.now.Add(-time.Millisecond)); got != tt.want {
				t.Fatalf("OnLoss = %v, want %v", got, tt.want)
			}
			if got := d.c.Window() / d.mss; got != tt.wantW {
				t.Errorf("window %d datagrams, want %d", got, tt.wantW)
			}
		})
	}
}

// One late sample after a gap (a sender that stalled and then processed
// old ACKs) is not a queue.
func TestLateSampleAfterGapIsNoQueue(t *testing.T) {
	d := tolerantDriver(t)
	d.advance(30 * time.Millisecond)
	d.steady(90*time.Millisecond, 1)
	if d.c.OnLoss(d.now, d.mss, d.now.Add(-time.Millisecond)) {
		t.Fatal("a single sample after a gap made the loss congestion")
	}
}

// After a reduction, the queue the old window built is still draining:
// losses in the next round trip are judged only on samples taken after it.
func TestQueueJudgedAfreshAfterReduction(t *testing.T) {
	d := tolerantDriver(t)
	d.steady(100*time.Millisecond, 120)
	if !d.c.OnLoss(d.now, d.mss, d.now.Add(-time.Millisecond)) {
		t.Fatal("loss with a deep queue was not congestion")
	}
	reduced := d.c.Window()
	// The queue drains over the next round trip; its samples still show it.
	d.steady(90*time.Millisecond, 40)
	if d.c.OnLoss(d.now, d.mss, d.now.Add(-time.Millisecond)) || d.c.Window() != reduced {
		t.Fatal("a loss while the old queue drained cut the window again")
	}
	// Samples taken after it show a queue again: congestion.
	d.steady(80*time.Millisecond, 200)
	if !d.c.OnLoss(d.now, d.mss, d.now.Add(-time.Millisecond)) || d.c.Window() >= reduced {
		t.Fatal("a loss with a fresh queue did not cut the window")
	}
}

// Losses of 10 % of the datagrams of the last round trips are congestion
// even with no queue to see (a buffer too shallow to show delay).
func TestHighLossRateIsCongestion(t *testing.T) {
	d := tolerantDriver(t)
	// 320 datagrams acknowledged, then losses one by one: 36 of 356 is
	// just over 10 %.
	d.steady(50*time.Millisecond, 260)
	var lost int
	for lost = 1; lost <= 40; lost++ {
		if d.c.OnLoss(d.now, d.mss, d.now.Add(-time.Millisecond)) {
			break
		}
	}
	if lost != 36 {
		t.Fatalf("the %dth loss was the first taken as congestion, want the 36th (10%% of 356)", lost)
	}
}

func TestLossBeforeAnyRTTSampleIsCongestion(t *testing.T) {
	d := newDriver(t, CubicOptions{MaxDatagramSize: 1000, TolerateRandomLoss: true})
	p := d.send(1)
	d.advance(100 * time.Millisecond)
	if !d.c.OnLoss(d.now, d.mss, p[0].at) {
		t.Fatal("a loss before any RTT sample was not congestion")
	}
}

// Without TolerateRandomLoss every loss is congestion, as in RFC 9002.
func TestEveryLossIsCongestionByDefault(t *testing.T) {
	d := newDriver(t, CubicOptions{MaxDatagramSize: 1000, DisableHyStart: true})
	d.c.cwnd, d.c.ssthresh = 100*d.mss, 100*d.mss
	d.steady(50*time.Millisecond, 40)
	if !d.c.OnLoss(d.now, d.mss, d.now.Add(-time.Millisecond)) || d.c.Window() != 70*d.mss {
		t.Fatalf("window %d after a loss without TolerateRandomLoss, want %d", d.c.Window(), 70*d.mss)
	}
}

// A loss of a packet sent before the current reduction belongs to the
// congestion event that made it, whatever the queue looks like now: it
// is taken (for the undo's count), never judged random.
func TestLossInRecoveryBelongsToTheEvent(t *testing.T) {
	d := tolerantDriver(t)
	d.steady(100*time.Millisecond, 120)
	sentBefore := d.now.Add(-time.Millisecond)
	if !d.c.OnLoss(d.now, d.mss, sentBefore) {
		t.Fatal("loss with a deep queue was not congestion")
	}
	w := d.c.Window()
	d.advance(time.Millisecond)
	if !d.c.OnLoss(d.now, d.mss, sentBefore) || d.c.Window() != w {
		t.Fatal("a loss of a packet sent before the reduction was not part of its event")
	}
	if d.c.RandomLossBytes() != 0 {
		t.Fatalf("RandomLossBytes = %d, want 0", d.c.RandomLossBytes())
	}
}

// In slow start a queue that has risen only in the last half round trip
// already makes a loss congestion; in congestion avoidance the whole round
// trip must show it.
func TestRisingQueueInSlowStart(t *testing.T) {
	for _, slowStart := range []bool{true, false} {
		d := tolerantDriver(t)
		if slowStart {
			d.c.ssthresh = math.MaxInt
		}
		d.steady(50*time.Millisecond, 40)
		// More than one window of half the RTT, less than two: the current
		// window sees only the queue, the one before also the minimum.
		d.steady(80*time.Millisecond, 30)
		if got := d.c.OnLoss(d.now, d.mss, d.now.Add(-time.Millisecond)); got != slowStart {
			t.Errorf("slow start %v: OnLoss = %v, want %v", slowStart, got, slowStart)
		}
	}
}

// The losses that caused a reduction are answered by it: the rest of that
// episode's losses, and the ones before it, do not keep the loss rate over
// 10 % and make the next random losses congestion. (A slow-start
// overshoot at 1 % random loss lost a fifth of a round and then cut the
// window at every round trip's random loss for eight round trips.)
func TestLossRateJudgedAfreshAfterReduction(t *testing.T) {
	d := tolerantDriver(t)
	d.steady(100*time.Millisecond, 120) // a deep queue
	cut := d.now
	if !d.c.OnLoss(d.now, 10*d.mss, d.now.Add(-time.Millisecond)) {
		t.Fatal("loss with a deep queue was not congestion")
	}
	reduced := d.c.Window()
	// The rest of the episode: 60 more datagrams sent before the cut.
	for range 60 {
		d.c.OnLoss(d.now, d.mss, cut.Add(-time.Millisecond))
	}
	// The queue drains; 300 datagrams later a random loss of a packet
	// sent after the cut. Over the last eight round trips 71 of about 670
	// datagrams were lost, but all but this one belong to the answered
	// episode.
	d.steady(50*time.Millisecond, 300)
	if d.c.OnLoss(d.now, d.mss, d.now.Add(-time.Millisecond)) {
		t.Fatal("a random loss after the episode was taken as congestion")
	}
	if d.c.Window() < reduced {
		t.Fatalf("window %d after the random loss, below the reduced %d", d.c.Window(), reduced)
	}
	if total, _ := d.c.Reductions(); total != 1 {
		t.Fatalf("Reductions = %d, want 1", total)
	}
}
