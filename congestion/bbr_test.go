package congestion

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// bottleneckSim sends a greedy BBR flow through a link of rate bytes per
// second with a FIFO queue and delay each way, losing a random fraction of
// packets after the bottleneck. A lost packet is reported lost when its
// ACK would have arrived. Time moves from event to event.
type bottleneckSim struct {
	t        *testing.T
	cc       *BBR
	pacer    *Pacer
	rtt      RTTStats
	mss      int
	rate     float64 // bytes per second
	delay    time.Duration
	loss     float64
	rng      *rand.Rand
	now      time.Time
	linkFree time.Time     // when the bottleneck finishes its queue
	extra    time.Duration // added to every packet's delay from now on
	nextPN   int64
	inFlight int
	flight   arrivals
	lost     map[int64]bool

	delivered int64 // bytes acknowledged
}

func newBottleneckSim(t *testing.T, mbit float64, rtt time.Duration, loss float64) *bottleneckSim {
	const mss = 1452
	return &bottleneckSim{
		t: t, cc: NewBBR(mss), pacer: NewPacer(mss), mss: mss,
		rate: mbit * 1e6 / 8, delay: rtt / 2, loss: loss,
		rng: rand.New(rand.NewPCG(1, 2)), now: simEpoch, lost: map[int64]bool{},
	}
}

func (s *bottleneckSim) send() {
	for s.cc.CanSend(s.inFlight) && s.pacer.TimeUntilSend(s.now) == 0 {
		start := s.now
		if s.linkFree.After(start) {
			start = s.linkFree
		}
		s.linkFree = start.Add(time.Duration(float64(s.mss) / s.rate * float64(time.Second)))
		p := simPacket{pn: s.nextPN, size: s.mss, sent: s.now, arrive: s.linkFree.Add(2*s.delay + s.extra)}
		if s.rng.Float64() < s.loss {
			s.lost[p.pn] = true
		}
		s.nextPN++
		s.cc.OnPacketSent(s.now, p.pn, p.size)
		s.pacer.OnSent(s.now, p.size)
		s.inFlight += p.size
		heap.Push(&s.flight, p)
	}
}

func (s *bottleneckSim) run(d time.Duration) {
	end := s.now.Add(d)
	for {
		s.pacer.SetBytesPerSecond(s.now, s.cc.PacingRate())
		s.send()
		next := s.pacer.NextSendTime(s.now)
		ack := len(s.flight) > 0 && (!s.cc.CanSend(s.inFlight) || !s.flight[0].arrive.After(next))
		if ack {
			next = s.flight[0].arrive
		}
		if next.After(end) {
			s.now = end
			return
		}
		s.now = next
		if !ack {
			continue
		}
		p := heap.Pop(&s.flight).(simPacket)
		prior := s.inFlight
		s.inFlight -= p.size
		if s.lost[p.pn] {
			delete(s.lost, p.pn)
			s.cc.OnLoss(s.now, p.size, p.sent)
			continue
		}
		s.rtt.Update(s.now.Sub(p.sent), 0, true)
		s.cc.OnPacketAcked(s.now, p.pn, p.size, p.sent)
		s.cc.OnAckProcessed(s.now, prior, &s.rtt)
		s.delivered += int64(p.size)
	}
}

// goodput runs the flow for d and returns what it delivered per second, in
// Mbit/s.
func (s *bottleneckSim) goodput(d time.Duration) float64 {
	before := s.delivered
	s.run(d)
	return float64(s.delivered-before) * 8 / 1e6 / d.Seconds()
}

// TestBBRFillsTheBottleneck: on a 100 Mbit/s, 50 ms path BBR finds the
// bandwidth and the minimum RTT, leaves Startup, and then delivers close
// to the link rate, with random loss too, which does not change its model.
func TestBBRFillsTheBottleneck(t *testing.T) {
	for _, loss := range []float64{0, 0.01, 0.03} {
		s := newBottleneckSim(t, 100, 50*time.Millisecond, loss)
		s.run(3 * time.Second)
		if st := s.cc.State(); st != BBRProbeBW {
			t.Errorf("loss %v: state %v after 3 s, want probe_bw", loss, st)
		}
		got := s.goodput(8 * time.Second)
		bw := s.cc.Bandwidth() * 8 / 1e6
		t.Logf("loss %v: %.1f Mbit/s delivered, estimate %.1f Mbit/s, min RTT %v, window %d", loss, got, bw, s.cc.MinRTT(), s.cc.Window())
		if want := 100 * (1 - loss) * 0.93; got < want {
			t.Errorf("loss %v: %.1f Mbit/s delivered, want at least %.1f", loss, got, want)
		}
		if math.Abs(bw-100) > 10 {
			t.Errorf("loss %v: bandwidth estimate %.1f Mbit/s, want about 100", loss, bw)
		}
		if m := s.cc.MinRTT(); m < 50*time.Millisecond || m > 52*time.Millisecond {
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

// After 10 s without an RTT as low as the minimum, BBR spends at least
// 200 ms in ProbeRTT with half a BDP in flight, then returns to ProbeBW.
func TestBBRProbeRTT(t *testing.T) {
	s := newBottleneckSim(t, 100, 50*time.Millisecond, 0)
	s.run(3 * time.Second)
	s.extra = time.Millisecond // every later sample is above the minimum
	var entered, left time.Time
	for range 12000 {
		s.run(time.Millisecond)
		switch st := s.cc.State(); {
		case st == BBRProbeRTT && entered.IsZero():
			entered = s.now
			if w, want := s.cc.Window(), int(0.5*s.cc.bdp()); w > want+s.mss {
				t.Fatalf("window %d in ProbeRTT, want half a BDP (%d)", w, want)
			}
		case st == BBRProbeBW && !entered.IsZero() && left.IsZero():
			left = s.now
		}
	}
	if entered.IsZero() || left.IsZero() {
		t.Fatalf("ProbeRTT entered at %v, left at %v; want both within 12 s", entered, left)
	}
	if d := left.Sub(entered); d < bbrProbeRTTDuration {
		t.Fatalf("ProbeRTT lasted %v, want at least %v", d, bbrProbeRTTDuration)
	}
}

// Losses and CE marks leave the window and the rate as they were, and are
// reported as not taken as congestion.
func TestBBRLossDoesNotChangeTheModel(t *testing.T) {
	s := newBottleneckSim(t, 100, 50*time.Millisecond, 0)
	s.run(3 * time.Second)
	w, rate := s.cc.Window(), s.cc.PacingRate()
	if s.cc.OnLoss(s.now, 10*s.mss, s.now.Add(-time.Millisecond)) {
		t.Fatal("OnLoss took the loss as congestion")
	}
	if s.cc.OnCongestionExperienced(s.now, s.now.Add(-time.Millisecond)) {
		t.Fatal("OnCongestionExperienced cut the window")
	}
	if s.cc.Window() != w || s.cc.PacingRate() != rate {
		t.Fatalf("window %d, rate %d after a loss; want %d, %d", s.cc.Window(), s.cc.PacingRate(), w, rate)
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
