package ackframes

import (
	"slices"
	"testing"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// reorderOnce sends packets 0..19 a millisecond apart, acknowledges 1..10
// at t0+20ms, which declares packet 0 lost by the packet threshold, and
// then 0..12 at t0+25ms: packet 0 arrived after twelve later ones.
func reorderOnce(t *testing.T, h *SentHistory[int]) AckResult {
	t.Helper()
	sendRange(t, h, 0, 19, t0, ms(1))
	h.OnAck(ackOf(rg(1, 10)), t0.Add(ms(20)), nil)
	lost, _ := h.DetectLost(t0.Add(ms(20)), steadyRTT, ms(25), nil)
	if got, want := numbers(lost), []pn{0}; !slices.Equal(got, want) {
		t.Fatalf("lost %v, want %v", got, want)
	}
	acked, res := h.OnAck(ackOf(rg(0, 12)), t0.Add(ms(25)), nil)
	if got, want := numbers(acked), []pn{11, 12}; !slices.Equal(got, want) {
		t.Fatalf("acked %v, want %v: a packet declared lost is not acknowledged again", got, want)
	}
	return res
}

func TestSpuriousLossReported(t *testing.T) {
	h := NewSentHistory[int](0)
	res := reorderOnce(t, h)
	want := []SpuriousLoss{{
		Number:     0,
		TimeSent:   t0,
		LostAt:     t0.Add(ms(20)),
		Size:       1000,
		InFlight:   true,
		Reordering: 12,
		Late:       ms(5),
	}}
	if !slices.Equal(res.Spurious, want) {
		t.Fatalf("Spurious = %+v, want %+v", res.Spurious, want)
	}
	// The same range again reports nothing: a loss is spurious once.
	if _, res = h.OnAck(ackOf(rg(0, 12)), t0.Add(ms(26)), nil); len(res.Spurious) != 0 {
		t.Errorf("repeated ACK: Spurious = %+v, want none", res.Spurious)
	}
}

func TestSpuriousLossRaisesPacketThreshold(t *testing.T) {
	h := NewSentHistory[int](0)
	if got := h.PacketThreshold(); got != PacketThreshold {
		t.Fatalf("PacketThreshold() = %d before any reordering, want %d", got, PacketThreshold)
	}
	reorderOnce(t, h)
	if got, want := h.PacketThreshold(), pn(13); got != want {
		t.Fatalf("PacketThreshold() = %d after a reordering by 12, want %d", got, want)
	}
	if got, want := h.LossDelay(steadyRTT), LossDelay(steadyRTT); got != want {
		t.Errorf("LossDelay = %v, want %v: the time threshold did not declare the loss", got, want)
	}

	// Packet 20 is overtaken by the twelve packets after it, the same
	// depth: with the raised threshold it is not declared lost, and when
	// it arrives it is simply acknowledged.
	sendRange(t, h, 20, 40, t0.Add(ms(30)), ms(1))
	h.OnAck(ackOf(rg(13, 19), rg(21, 32)), t0.Add(ms(50)), nil)
	if lost, _ := h.DetectLost(t0.Add(ms(50)), steadyRTT, ms(25), nil); len(lost) != 0 {
		t.Fatalf("lost %v, want none: the reordering is within the threshold", numbers(lost))
	}
	acked, res := h.OnAck(ackOf(rg(13, 33)), t0.Add(ms(55)), nil)
	if got, want := numbers(acked), []pn{20, 33}; !slices.Equal(got, want) {
		t.Errorf("acked %v, want %v", got, want)
	}
	if len(res.Spurious) != 0 {
		t.Errorf("Spurious = %+v, want none", res.Spurious)
	}

	// A deeper reordering is still a loss, and raises the threshold again.
	sendRange(t, h, 41, 60, t0.Add(ms(60)), ms(1))
	h.OnAck(ackOf(rg(35, 50)), t0.Add(ms(90)), nil)
	lost, _ := h.DetectLost(t0.Add(ms(90)), steadyRTT, ms(25), nil)
	if got, want := numbers(lost), []pn{34}; !slices.Equal(got, want) {
		t.Fatalf("lost %v, want %v", got, want)
	}
	h.OnAck(ackOf(rg(34, 52)), t0.Add(ms(91)), nil)
	if got, want := h.PacketThreshold(), pn(19); got != want {
		t.Errorf("PacketThreshold() = %d after a reordering by 18, want %d", got, want)
	}
}

func TestSpuriousLossPacketThresholdCapped(t *testing.T) {
	h := NewSentHistory[int](0)
	sendRange(t, h, 0, 1000, t0, time.Microsecond)
	h.OnAck(ackOf(rg(1, 1000)), t0.Add(ms(10)), nil)
	if lost, _ := h.DetectLost(t0.Add(ms(10)), steadyRTT, ms(25), nil); len(lost) != 1 {
		t.Fatalf("lost %v, want packet 0", numbers(lost))
	}
	h.OnAck(ackOf(rg(0, 1000)), t0.Add(ms(11)), nil)
	if got := h.PacketThreshold(); got != MaxPacketThreshold {
		t.Errorf("PacketThreshold() = %d after a reordering by 1000, want the cap %d", got, MaxPacketThreshold)
	}
}

// TestSpuriousLossWidensTimeThreshold: a packet declared lost by the time
// threshold (only one later packet acknowledged) and acknowledged later
// widens the loss delay by a quarter RTT per spurious loss, up to 2 RTT,
// and leaves the packet threshold alone.
func TestSpuriousLossWidensTimeThreshold(t *testing.T) {
	h := NewSentHistory[int](0)
	wantEighths := []time.Duration{11, 13, 15, 16, 16}
	start := t0
	for i, eighths := range wantEighths {
		n := pn(2 * i)
		sendRange(t, h, n, n+1, start, ms(10))
		delay := h.LossDelay(steadyRTT)
		h.OnAck(ackOf(rg(n+1, n+1)), start.Add(delay), nil)
		lost, _ := h.DetectLost(start.Add(delay), steadyRTT, ms(25), nil)
		if got, want := numbers(lost), []pn{n}; !slices.Equal(got, want) {
			t.Fatalf("round %d: lost %v, want %v", i, got, want)
		}
		_, res := h.OnAck(ackOf(rg(n, n+1)), start.Add(delay+ms(5)), nil)
		if len(res.Spurious) != 1 {
			t.Fatalf("round %d: Spurious = %+v, want packet %d", i, res.Spurious, n)
		}
		if got, want := h.LossDelay(steadyRTT), eighths*steadyRTT.smoothed/8; got != want {
			t.Errorf("round %d: LossDelay = %v, want %v", i, got, want)
		}
		start = start.Add(ms(300))
	}
	if got := h.PacketThreshold(); got != PacketThreshold {
		t.Errorf("PacketThreshold() = %d, want %d: the packet threshold declared nothing", got, PacketThreshold)
	}
}

// TestReorderingThresholdsDecay: after reorderingDecayEvents loss events,
// at least a smoothed RTT apart, with no spurious loss among them, the
// thresholds return to their defaults.
func TestReorderingThresholdsDecay(t *testing.T) {
	h := NewSentHistory[int](0)
	reorderOnce(t, h)
	h.OnAck(ackOf(rg(0, 19)), t0.Add(ms(30)), nil)

	start := t0.Add(ms(100))
	n := pn(20)
	for i := 1; i <= reorderingDecayEvents; i++ {
		// Packet n is really lost: n+1 is acknowledged and n goes past the
		// time threshold. Two such losses within an RTT count once.
		sendRange(t, h, n, n+2, start, ms(1))
		h.OnAck(ackOf(rg(n+2, n+2)), start.Add(ms(150)), nil)
		lost, _ := h.DetectLost(start.Add(ms(150)), steadyRTT, ms(25), nil)
		if got, want := numbers(lost), []pn{n, n + 1}; !slices.Equal(got, want) {
			t.Fatalf("event %d: lost %v, want %v", i, got, want)
		}
		wantThreshold := pn(13)
		if i == reorderingDecayEvents {
			wantThreshold = PacketThreshold
		}
		if got := h.PacketThreshold(); got != wantThreshold {
			t.Fatalf("after %d loss events: PacketThreshold() = %d, want %d", i, got, wantThreshold)
		}
		// A loss within the same RTT does not count as another event.
		if i == 1 {
			sendRange(t, h, n+3, n+4, start.Add(ms(10)), ms(1))
			h.OnAck(ackOf(rg(n+4, n+4)), start.Add(ms(200)), nil)
			if lost, _ := h.DetectLost(start.Add(ms(200)), steadyRTT, ms(25), nil); len(lost) != 1 {
				t.Fatalf("lost %v, want packet %d", numbers(lost), n+3)
			}
			n += 2
		}
		n += 3
		start = start.Add(ms(300))
	}
}

// TestSpuriousLossResetsDecay: a spurious loss restarts the count of loss
// events towards the decay.
func TestSpuriousLossResetsDecay(t *testing.T) {
	h := NewSentHistory[int](0)
	// The time threshold is widened and one event short of decaying; the
	// loss reorderOnce declares is the last event, its being spurious
	// starts the count again.
	h.reo.timeEighths = timeThresholdDefault + timeThresholdStep
	h.reo.lossEvents = reorderingDecayEvents - 2
	h.reo.lastLossEvent = t0.Add(-time.Hour)
	reorderOnce(t, h)
	if h.reo.lossEvents != 0 || h.PacketThreshold() != 13 || h.reo.timeEighths != timeThresholdDefault+timeThresholdStep {
		t.Errorf("lossEvents = %d, PacketThreshold() = %d, time threshold %d/8; want 0, 13, %d/8",
			h.reo.lossEvents, h.PacketThreshold(), h.reo.timeEighths, timeThresholdDefault+timeThresholdStep)
	}
}

// TestSpuriousLossForgotten: a packet acknowledged more than the persistent
// congestion duration after it was declared lost is not reported: that
// is a blackout's late delivery rather than reordering.
func TestSpuriousLossForgotten(t *testing.T) {
	h := NewSentHistory[int](0)
	sendRange(t, h, 0, 9, t0, ms(1))
	h.OnAck(ackOf(rg(1, 9)), t0.Add(ms(20)), nil)
	h.DetectLost(t0.Add(ms(20)), steadyRTT, ms(25), nil)
	sendRange(t, h, 10, 10, t0.Add(ms(600)), 0)
	h.OnAck(ackOf(rg(1, 10)), t0.Add(ms(600)), nil)
	h.DetectLost(t0.Add(ms(600)), steadyRTT, ms(25), nil) // 580 ms > 495 ms
	if _, res := h.OnAck(ackOf(rg(0, 10)), t0.Add(ms(601)), nil); len(res.Spurious) != 0 {
		t.Errorf("Spurious = %+v, want none", res.Spurious)
	}
	if got := h.PacketThreshold(); got != PacketThreshold {
		t.Errorf("PacketThreshold() = %d, want %d", got, PacketThreshold)
	}
}

// TestSpuriousLossDetectorPassesThrough: LossDetector.OnAck returns the
// history's spurious losses, and RemoveAll forgets the lost packets.
func TestSpuriousLossDetectorPassesThrough(t *testing.T) {
	d := newTestDetector(t, LossConfig{})
	for n := pn(0); n < 5; n++ {
		sendIn(t, d, sent(n, t0.Add(ms(int(n)))))
	}
	d.OnAck(ackOf(rg(1, 4)), t0.Add(ms(10)), nil)
	if lost, _ := d.DetectLost(t0.Add(ms(10)), steadyRTT, nil); len(lost) != 1 {
		t.Fatalf("lost %v, want packet 0", numbers(lost))
	}
	_, res := d.OnAck(ackOf(rg(0, 4)), t0.Add(ms(12)), nil)
	if len(res.Spurious) != 1 || res.Spurious[0].Number != 0 {
		t.Fatalf("Spurious = %+v, want packet 0", res.Spurious)
	}
	if got, want := d.History().PacketThreshold(), pn(5); got != want {
		t.Errorf("PacketThreshold() = %d, want %d", got, want)
	}
}

func TestSpuriousLossOnAckDoesNotAllocate(t *testing.T) {
	h := NewSentHistory[int](0)
	acked := make([]SentPacket[int], 0, 16)
	ranges := make([]packet.AckRange, 1)
	rtt := &steadyRTT // a pointer, so passing it as an RTT does not allocate
	n := pn(0)
	now := t0
	round := func() {
		// Packet n is overtaken by ten packets, declared lost, and then
		// arrives: each round has a spurious loss.
		for i := pn(0); i < 12; i++ {
			if err := h.OnPacketSent(sent(n+i, now)); err != nil {
				t.Fatal(err)
			}
		}
		h.reo.reset()
		ranges[0] = rg(n+1, n+11)
		acked, _ = h.OnAck(packet.AckFrame{Ranges: ranges}, now, acked[:0])
		acked, _ = h.DetectLost(now, rtt, ms(25), acked[:0])
		var res AckResult
		ranges[0] = rg(n, n+11)
		acked, res = h.OnAck(packet.AckFrame{Ranges: ranges}, now, acked[:0])
		if len(res.Spurious) != 1 {
			t.Fatalf("Spurious = %+v", res.Spurious)
		}
		n += 12
		now = now.Add(ms(1))
	}
	round() // warm up the buffers
	if allocs := testing.AllocsPerRun(100, round); allocs != 0 {
		t.Errorf("%v allocations per round, want 0", allocs)
	}
}
