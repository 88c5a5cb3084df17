package ackframes

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// fakeRTT is a fixed RTT estimate.
type fakeRTT struct {
	smoothed, rttVar, min, latest time.Duration
	noSample                      bool
}

func (r fakeRTT) Smoothed() time.Duration { return r.smoothed }
func (r fakeRTT) Var() time.Duration      { return r.rttVar }
func (r fakeRTT) Min() time.Duration      { return r.min }
func (r fakeRTT) Latest() time.Duration   { return r.latest }
func (r fakeRTT) HasSample() bool         { return !r.noSample }

// steadyRTT: smoothed and latest 100 ms, rttvar 10 ms. The loss delay is
// 112.5 ms; with max_ack_delay 25 ms a PTO period is 165 ms and the
// persistent congestion duration 495 ms.
var steadyRTT = fakeRTT{smoothed: ms(100), rttVar: ms(10), min: ms(90), latest: ms(100)}

func TestLossDelay(t *testing.T) {
	tests := []struct {
		desc string
		rtt  fakeRTT
		want time.Duration
	}{
		{desc: "9/8 of smoothed", rtt: steadyRTT, want: 112500 * time.Microsecond},
		{desc: "latest above smoothed wins", rtt: fakeRTT{smoothed: ms(100), latest: ms(200)}, want: ms(225)},
		{desc: "smoothed above latest wins", rtt: fakeRTT{smoothed: ms(80), latest: ms(40)}, want: ms(90)},
		{desc: "never below the timer granularity", rtt: fakeRTT{smoothed: 100 * time.Microsecond, latest: 100 * time.Microsecond}, want: TimerGranularity},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := LossDelay(tt.rtt); got != tt.want {
				t.Errorf("LossDelay = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDetectLostPacketThreshold(t *testing.T) {
	h := NewSentHistory[int](0)
	sendRange(t, h, 0, 9, t0, ms(1))
	h.OnAck(ackOf(rg(9, 9)), t0.Add(ms(20)), nil)
	lost, persistent := h.DetectLost(t0.Add(ms(20)), steadyRTT, ms(25), nil)
	// 9 acknowledged: 0..6 are PacketThreshold or more below it; 7 and 8
	// were sent too recently to be lost by time.
	if got, want := numbers(lost), []pn{0, 1, 2, 3, 4, 5, 6}; !slices.Equal(got, want) {
		t.Fatalf("lost %v, want %v", got, want)
	}
	if lost[3].Frames != 30 {
		t.Errorf("lost packet 3 came back with frames %d, want 30", lost[3].Frames)
	}
	if persistent {
		t.Error("persistent congestion before any RTT sample in this history")
	}
	if want := t0.Add(ms(7) + 112500*time.Microsecond); !h.LossTime().Equal(want) {
		t.Errorf("LossTime() = t0+%v, want t0+%v", h.LossTime().Sub(t0), want.Sub(t0))
	}
	if h.BytesInFlight() != 2000 || h.Len() != 2 {
		t.Errorf("BytesInFlight() = %d, Len() = %d; want 2000, 2", h.BytesInFlight(), h.Len())
	}
	// Detecting again at the same time finds nothing new.
	if lost, _ = h.DetectLost(t0.Add(ms(20)), steadyRTT, ms(25), lost[:0]); len(lost) != 0 {
		t.Errorf("second DetectLost found %v", numbers(lost))
	}
}

func TestDetectLostTimeThreshold(t *testing.T) {
	h := NewSentHistory[int](0)
	sendRange(t, h, 0, 1, t0, ms(10))
	h.OnAck(ackOf(rg(1, 1)), t0.Add(ms(100)), nil)
	lossAt := t0.Add(112500 * time.Microsecond) // packet 0 sent at t0, plus 9/8 RTT

	lost, _ := h.DetectLost(t0.Add(ms(100)), steadyRTT, ms(25), nil)
	if len(lost) != 0 {
		t.Fatalf("lost %v at t0+100ms, want none", numbers(lost))
	}
	if !h.LossTime().Equal(lossAt) {
		t.Fatalf("LossTime() = t0+%v, want t0+112.5ms", h.LossTime().Sub(t0))
	}
	if lost, _ = h.DetectLost(lossAt.Add(-time.Nanosecond), steadyRTT, ms(25), nil); len(lost) != 0 {
		t.Fatalf("lost %v just before the loss time", numbers(lost))
	}
	lost, _ = h.DetectLost(lossAt, steadyRTT, ms(25), nil)
	if got, want := numbers(lost), []pn{0}; !slices.Equal(got, want) {
		t.Fatalf("lost %v at the loss time, want %v", got, want)
	}
	if !h.LossTime().IsZero() {
		t.Errorf("LossTime() = t0+%v after everything was resolved, want zero", h.LossTime().Sub(t0))
	}
}

func TestDetectLostLeavesPacketsAboveLargestAcked(t *testing.T) {
	h := NewSentHistory[int](0)
	sendRange(t, h, 0, 9, t0, ms(1))
	h.OnAck(ackOf(rg(3, 3)), t0.Add(ms(10)), nil)
	lost, _ := h.DetectLost(t0.Add(10*time.Second), steadyRTT, ms(25), nil)
	if got, want := numbers(lost), []pn{0, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("lost %v, want %v: only packets below the largest acknowledged can be lost", got, want)
	}
	if !h.LossTime().IsZero() {
		t.Errorf("LossTime() = t0+%v, want zero", h.LossTime().Sub(t0))
	}
	if h.Len() != 6 {
		t.Errorf("Len() = %d, want 6", h.Len())
	}
}

func TestDetectLostNothingAcked(t *testing.T) {
	h := NewSentHistory[int](0)
	sendRange(t, h, 0, 9, t0, ms(1))
	if lost, _ := h.DetectLost(t0.Add(time.Hour), steadyRTT, ms(25), nil); len(lost) != 0 {
		t.Errorf("lost %v without any ACK", numbers(lost))
	}
}

func TestPTOPeriod(t *testing.T) {
	tests := []struct {
		desc        string
		rtt         fakeRTT
		maxAckDelay time.Duration
		ptoCount    int
		maxInterval time.Duration
		want        time.Duration
	}{
		{desc: "no backoff", rtt: steadyRTT, maxAckDelay: ms(25), want: ms(165)},
		{desc: "Initial space: no max_ack_delay", rtt: steadyRTT, want: ms(140)},
		{desc: "one expiry doubles", rtt: steadyRTT, maxAckDelay: ms(25), ptoCount: 1, want: ms(330)},
		{desc: "four expiries", rtt: steadyRTT, maxAckDelay: ms(25), ptoCount: 4, want: ms(2640)},
		{desc: "capped at the default maximum", rtt: steadyRTT, maxAckDelay: ms(25), ptoCount: 5, want: DefaultMaxPTOInterval},
		{desc: "cap holds for a huge count", rtt: steadyRTT, maxAckDelay: ms(25), ptoCount: 1 << 30, want: DefaultMaxPTOInterval},
		{desc: "configured cap", rtt: steadyRTT, maxAckDelay: ms(25), ptoCount: 3, maxInterval: time.Second, want: time.Second},
		{desc: "below a configured cap", rtt: steadyRTT, maxAckDelay: ms(25), ptoCount: 2, maxInterval: time.Second, want: ms(660)},
		{
			desc: "a base above the cap is not shortened, nor backed off",
			rtt:  fakeRTT{smoothed: 4 * time.Second, rttVar: ms(100)}, ptoCount: 3,
			want: 4*time.Second + ms(400),
		},
		{desc: "variance floor is the granularity", rtt: fakeRTT{smoothed: ms(10)}, want: ms(11)},
		{
			desc: "no overflow with an enormous estimate",
			rtt:  fakeRTT{smoothed: math.MaxInt64 / 4}, ptoCount: 10, maxInterval: math.MaxInt64,
			want: math.MaxInt64,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := PTOPeriod(tt.rtt, tt.maxAckDelay, tt.ptoCount, tt.maxInterval); got != tt.want {
				t.Errorf("PTOPeriod = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPTODeadline(t *testing.T) {
	h := NewSentHistory[int](0)
	if got := h.PTODeadline(steadyRTT, ms(25), 0, 0); !got.IsZero() {
		t.Fatalf("PTODeadline with nothing sent = t0+%v, want zero", got.Sub(t0))
	}
	sendRange(t, h, 0, 1, t0, ms(10))
	// A padding-only packet is in flight but not ack-eliciting: it does not
	// move the PTO.
	if err := h.OnPacketSent(SentPacket[int]{Number: 2, TimeSent: t0.Add(ms(50)), Size: 1200, InFlight: true}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ptoCount int
		want     time.Duration
	}{{0, ms(10 + 165)}, {1, ms(10 + 330)}, {2, ms(10 + 660)}, {10, ms(10) + DefaultMaxPTOInterval}} {
		if got := h.PTODeadline(steadyRTT, ms(25), tt.ptoCount, 0); !got.Equal(t0.Add(tt.want)) {
			t.Errorf("PTODeadline(ptoCount %d) = t0+%v, want t0+%v", tt.ptoCount, got.Sub(t0), tt.want)
		}
	}
	h.OnAck(ackOf(rg(0, 1)), t0.Add(ms(60)), nil)
	if got := h.PTODeadline(steadyRTT, ms(25), 0, 0); !got.IsZero() {
		t.Errorf("PTODeadline with only a padding packet in flight = t0+%v, want zero", got.Sub(t0))
	}
}

func TestPersistentCongestion(t *testing.T) {
	type pkt struct {
		at           time.Duration // send time after t0
		ackEliciting bool
		mtuProbe     bool
	}
	// run makes n ack-eliciting packets sent step apart from t0+200ms.
	run := func(n int, step time.Duration) []pkt {
		var ps []pkt
		for i := 0; i < n; i++ {
			ps = append(ps, pkt{at: ms(200) + time.Duration(i)*step, ackEliciting: true})
		}
		return ps
	}
	tests := []struct {
		desc string
		rtt  fakeRTT
		// earlySample: packet 0 is sent at t0 and acknowledged at
		// t0+100ms, giving the first RTT sample before the run.
		earlySample bool
		packets     []pkt // numbered 1, 2, …
		// The ACK, at last send time + 200ms, covers a packet sent 100ms
		// after the last one and these numbers, making everything else lost.
		alsoAcked      []pn
		wantLost       []pn
		wantPersistent bool
	}{
		{
			desc: "losses spanning more than three PTOs", rtt: steadyRTT, earlySample: true,
			packets: run(10, ms(100)), wantLost: []pn{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, wantPersistent: true,
		},
		{
			desc: "span just above the duration", rtt: steadyRTT, earlySample: true,
			packets: run(6, ms(100)), wantLost: []pn{1, 2, 3, 4, 5, 6}, wantPersistent: true,
		},
		{
			desc: "span exactly the duration is not enough", rtt: steadyRTT, earlySample: true,
			packets: run(6, ms(99)), wantLost: []pn{1, 2, 3, 4, 5, 6}, wantPersistent: false,
		},
		{
			desc: "an acknowledged packet in between splits the run", rtt: steadyRTT, earlySample: true,
			packets: run(10, ms(100)), alsoAcked: []pn{5},
			wantLost: []pn{1, 2, 3, 4, 6, 7, 8, 9, 10}, wantPersistent: false,
		},
		{
			desc: "no RTT sample", rtt: fakeRTT{smoothed: ms(100), rttVar: ms(10), latest: ms(100), noSample: true},
			earlySample: true, packets: run(10, ms(100)),
			wantLost: []pn{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, wantPersistent: false,
		},
		{
			desc: "packets sent before the first RTT sample do not count", rtt: steadyRTT, earlySample: false,
			packets: run(10, ms(100)), wantLost: []pn{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, wantPersistent: false,
		},
		{
			desc: "the ends of the run must be ack-eliciting", rtt: steadyRTT, earlySample: true,
			packets: []pkt{
				{ms(200), false, false}, {ms(300), true, false}, {ms(400), true, false}, {ms(500), true, false},
				{ms(600), true, false}, {ms(700), true, false}, {ms(800), false, false},
			},
			wantLost: []pn{1, 2, 3, 4, 5, 6, 7}, wantPersistent: false,
		},
		{
			desc: "with ack-eliciting ends the same losses are persistent", rtt: steadyRTT, earlySample: true,
			packets: run(7, ms(100)), wantLost: []pn{1, 2, 3, 4, 5, 6, 7}, wantPersistent: true,
		},
		{
			desc: "a lost MTU probe does not start the run", rtt: steadyRTT, earlySample: true,
			packets: []pkt{
				{ms(200), true, true}, {ms(300), true, false}, {ms(400), true, false}, {ms(500), true, false},
				{ms(600), true, false}, {ms(700), true, false},
			},
			wantLost: []pn{1, 2, 3, 4, 5, 6}, wantPersistent: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			h := NewSentHistory[int](0)
			sendRange(t, h, 0, 0, t0, 0)
			if tt.earlySample {
				if _, res := h.OnAck(ackOf(rg(0, 0)), t0.Add(ms(100)), nil); !res.HasRTTSample {
					t.Fatal("setup: no RTT sample from packet 0")
				}
			}
			last := ms(200)
			for i, p := range tt.packets {
				sp := SentPacket[int]{Number: pn(i + 1), TimeSent: t0.Add(p.at), Size: 1000, AckEliciting: p.ackEliciting, InFlight: true, MTUProbe: p.mtuProbe}
				if err := h.OnPacketSent(sp); err != nil {
					t.Fatal(err)
				}
				last = p.at
			}
			final := pn(len(tt.packets) + 1)
			sendRange(t, h, final, final, t0.Add(last+ms(100)), 0)
			ranges := []packet.AckRange{rg(final, final)}
			for i := len(tt.alsoAcked) - 1; i >= 0; i-- {
				ranges = append(ranges, rg(tt.alsoAcked[i], tt.alsoAcked[i]))
			}
			now := t0.Add(last + ms(200))
			h.OnAck(ackOf(ranges...), now, nil)
			lost, persistent := h.DetectLost(now, tt.rtt, ms(25), nil)
			if got := numbers(lost); !slices.Equal(got, tt.wantLost) {
				t.Fatalf("lost %v, want %v", got, tt.wantLost)
			}
			if persistent != tt.wantPersistent {
				t.Errorf("persistent congestion = %v, want %v", persistent, tt.wantPersistent)
			}
		})
	}
}

// TestPersistentCongestionAcrossCompaction checks that an acknowledged
// packet between two losses still splits the run after the ring squeezed
// its tombstone out.
func TestPersistentCongestionAcrossCompaction(t *testing.T) {
	tests := []struct {
		desc           string
		limit          int
		ackMid         pn // acknowledged at 950ms, 0 for none
		wantLost       []pn
		wantPersistent bool
	}{
		{desc: "no ACK in between", limit: 100, wantLost: []pn{1, 2, 3, 4, 5, 6, 7, 8}, wantPersistent: true},
		{desc: "ACK in between, kept as a tombstone", limit: 100, ackMid: 4, wantLost: []pn{1, 2, 3, 5, 6, 7, 8}, wantPersistent: false},
		{desc: "ACK in between, squeezed out", limit: 8, ackMid: 4, wantLost: []pn{1, 2, 3, 5, 6, 7, 8}, wantPersistent: false},
		// 3..8 span 500ms: still persistent, the ACK of 2 only splits off 1.
		{desc: "ACK before a long run, squeezed out", limit: 8, ackMid: 2, wantLost: []pn{1, 3, 4, 5, 6, 7, 8}, wantPersistent: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			h := NewSentHistory[int](tt.limit)
			sendRange(t, h, 0, 0, t0, 0)
			h.OnAck(ackOf(rg(0, 0)), t0.Add(ms(100)), nil)
			sendRange(t, h, 1, 8, t0.Add(ms(200)), ms(100)) // 1 at 200ms … 8 at 900ms
			if tt.ackMid != 0 {
				h.OnAck(ackOf(rg(tt.ackMid, tt.ackMid)), t0.Add(ms(950)), nil)
			}
			// With a limit of 8 the ring is full now, so recording 9 squeezes
			// out the tombstone of the acknowledged packet.
			sendRange(t, h, 9, 9, t0.Add(ms(1000)), 0)
			if tt.limit == 8 && h.n != 8 {
				t.Fatalf("setup: ring holds %d entries, want 8 after compaction", h.n)
			}
			now := t0.Add(ms(1100))
			h.OnAck(ackOf(rg(9, 9)), now, nil)
			lost, persistent := h.DetectLost(now, steadyRTT, ms(25), nil)
			if got := numbers(lost); !slices.Equal(got, tt.wantLost) {
				t.Fatalf("lost %v, want %v", got, tt.wantLost)
			}
			if persistent != tt.wantPersistent {
				t.Errorf("persistent congestion = %v, want %v", persistent, tt.wantPersistent)
			}
		})
	}
}
