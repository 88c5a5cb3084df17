package congestion

import (
	"math"
	"testing"
	"time"
)

// TestBBRFillsTheBottleneck: on a 100 Mbit/s, 50 ms path BBR finds the
// bandwidth and the minimum RTT, leaves Startup, and then delivers close
// to the link rate. Random loss of 1 %, under its threshold, never ends a
// probe, but each round trip with a loss holds the short-term bounds to
// what the last round delivered, which costs about a sixth.
func TestBBRFillsTheBottleneck(t *testing.T) {
	for _, loss := range []float64{0, 0.01} {
		l := newLinkSim(t, 100, 50*time.Millisecond, 0)
		l.loss = loss
		b := newSimBBR(1)
		l.add(b, 0)
		l.run(3 * time.Second)
		if st := b.State(); !st.ProbingBW() {
			t.Errorf("loss %v: state %v after 3 s, want one of ProbeBW's", loss, st)
		}
		got := l.goodputs(8 * time.Second)[0]
		bw := b.Bandwidth() * 8 / 1e6
		t.Logf("loss %v: %.1f Mbit/s delivered, estimate %.1f Mbit/s, min RTT %v, window %d", loss, got, bw, b.MinRTT(), b.Window())
		want := 100 * 0.93
		if loss > 0 {
			want = 100 * 0.8
			if _, set := b.InflightLongterm(); set {
				t.Errorf("loss %v: random loss under the threshold set inflight_longterm", loss)
			}
		}
		if got < want {
			t.Errorf("loss %v: %.1f Mbit/s delivered, want at least %.1f", loss, got, want)
		}
		if math.Abs(b.maxBw*8/1e6-100) > 10 {
			t.Errorf("loss %v: bandwidth estimate %.1f Mbit/s, want about 100", loss, b.maxBw*8/1e6)
		}
		if m := b.MinRTT(); m < 50*time.Millisecond || m > 52*time.Millisecond {
			t.Errorf("loss %v: min RTT %v, want about 50 ms", loss, m)
		}
	}
}

// The delivery rate is the bytes delivered while a packet was in flight
// over the longer of its send and ACK intervals.
func TestRateSampler(t *testing.T) {
	var r rateSampler
	// A packet of 1000 bytes every millisecond, each acknowledged 50 ms
	// after it left: 1000 bytes per ms once the pipe is full.
	var last rateSample
	for ms := range int64(200) {
		now := simEpoch.Add(time.Duration(ms) * time.Millisecond)
		if ms >= 50 {
			r.onAcked(now, ms-50, 1000)
			if s, ok := r.take(50 * time.Millisecond); ok {
				last = s
			}
		}
		r.onSent(now, ms, 1000)
	}
	if got := last.rate(); math.Abs(got-1e6) > 1e4 {
		t.Fatalf("rate %v B/s, want 1e6", got)
	}
	if last.appLimited {
		t.Fatal("a greedy sender's sample marked application-limited")
	}
}

// Samples of packets sent after the sender ran out of data are marked
// application-limited until what was in flight then is delivered.
func TestRateSamplerAppLimited(t *testing.T) {
	var r rateSampler
	r.onSent(simEpoch, 0, 1000)
	r.onAppLimited()
	r.onSent(simEpoch.Add(time.Millisecond), 1, 1000)
	r.onAcked(simEpoch.Add(60*time.Millisecond), 0, 1000)
	r.take(0)
	r.onAcked(simEpoch.Add(61*time.Millisecond), 1, 1000)
	if s, ok := r.take(0); !ok || !s.appLimited {
		t.Fatalf("sample %+v, %v: want an application-limited one", s, ok)
	}
	if r.appLimitedUntil != 0 {
		t.Fatal("still application-limited after what was in flight was delivered")
	}
}

// After 5 s without an RTT as low as the minimum, BBR spends at least
// 200 ms in ProbeRTT with half a BDP in flight, then returns to ProbeBW.
func TestBBRProbeRTT(t *testing.T) {
	l := newLinkSim(t, 100, 50*time.Millisecond, 0)
	b := newSimBBR(1)
	f := l.add(b, 0)
	l.run(3 * time.Second)
	f.extra = time.Millisecond // every later sample is above the minimum
	var entered, left time.Time
	var after BBRState
	for range 8000 {
		l.run(time.Millisecond)
		switch st := b.State(); {
		case st == BBRProbeRTT && entered.IsZero():
			entered = l.now
		case st == BBRProbeRTT:
			if w, want := b.Window(), int(0.5*b.bdp()); w > want+f.mss {
				t.Fatalf("window %d in ProbeRTT, want half a BDP (%d)", w, want)
			}
		case st.ProbingBW() && !entered.IsZero() && left.IsZero():
			left, after = l.now, st
		}
	}
	if entered.IsZero() || left.IsZero() {
		t.Fatalf("ProbeRTT entered at %v, left at %v; want both within 8 s", entered, left)
	}
	if d := left.Sub(entered); d < bbrProbeRTTDuration {
		t.Fatalf("ProbeRTT lasted %v, want at least %v", d, bbrProbeRTTDuration)
	}
	if after != BBRProbeBWCruise {
		t.Fatalf("ProbeRTT left for %v, want CRUISE (what is in flight is below the BDP already)", after)
	}
}

func TestPacerBurstInterval(t *testing.T) {
	p := NewPacer(1000)
	p.SetBytesPerSecond(simEpoch, 1e7) // 10000 B per ms
	if got := p.Burst(); got != int(PacerBurstInterval/time.Millisecond)*10000 {
		t.Fatalf("burst %d, want %v of the rate", got, PacerBurstInterval)
	}
	p.SetBurstInterval(20 * time.Millisecond)
	if got := p.Burst(); got != 200000 {
		t.Fatalf("burst %d with a 20 ms interval, want 200000", got)
	}
	p.Reset()
	p.SetBytesPerSecond(simEpoch, 1e7)
	if got := p.Burst(); got != 200000 {
		t.Fatalf("burst %d after Reset, want the interval kept (200000)", got)
	}
}

// The sampler's ring grows with the window, so a window of more packets
// than it first holds still gives samples.
func TestRateSamplerRingGrows(t *testing.T) {
	var r rateSampler
	const n = 3 * deliveryRing
	for pn := range int64(n) {
		r.onSent(simEpoch.Add(time.Duration(pn)*time.Microsecond), pn, 1200)
	}
	if len(r.ring) < 2*n {
		t.Fatalf("ring of %d slots for %d packets in flight", len(r.ring), n)
	}
	r.onAcked(simEpoch.Add(100*time.Millisecond), 0, 1200)
	if s, _ := r.take(0); !s.valid {
		t.Fatal("the first of a large window gave no sample")
	}
}
