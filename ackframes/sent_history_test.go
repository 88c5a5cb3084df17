package ackframes

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// sent is a test packet: ack-eliciting, in flight, 1000 bytes, its Frames
// record ten times its number so tests can see the right record come back.
func sent(n pn, at time.Time) SentPacket[int] {
	return SentPacket[int]{Number: n, TimeSent: at, Size: 1000, AckEliciting: true, InFlight: true, Frames: int(n) * 10}
}

// sendRange records packets from..to (inclusive), packet i sent at
// start + (i-from)·step.
func sendRange(t *testing.T, h *SentHistory[int], from, to pn, start time.Time, step time.Duration) {
	t.Helper()
	for n := from; n <= to; n++ {
		if err := h.OnPacketSent(sent(n, start.Add(time.Duration(n-from)*step))); err != nil {
			t.Fatalf("OnPacketSent(%d): %v", n, err)
		}
	}
}

func ackOf(ranges ...packet.AckRange) packet.AckFrame { return packet.AckFrame{Ranges: ranges} }

func rg(lo, hi pn) packet.AckRange { return packet.AckRange{Smallest: lo, Largest: hi} }

func numbers(ps []SentPacket[int]) []pn {
	out := []pn{}
	for _, p := range ps {
		out = append(out, p.Number)
	}
	return out
}

func TestSentHistoryOnAck(t *testing.T) {
	h := NewSentHistory[int](0)
	sendRange(t, h, 0, 9, t0, ms(1))

	acked, res := h.OnAck(ackOf(rg(7, 9), rg(2, 4)), t0.Add(ms(50)), nil)
	if got, want := numbers(acked), []pn{2, 3, 4, 7, 8, 9}; !slices.Equal(got, want) {
		t.Fatalf("acked %v, want %v", got, want)
	}
	for _, p := range acked {
		if p.Frames != int(p.Number)*10 || !p.TimeSent.Equal(t0.Add(time.Duration(p.Number)*time.Millisecond)) {
			t.Errorf("packet %d came back as %+v", p.Number, p)
		}
	}
	if res.LargestNewlyAcked != 9 || !res.HasRTTSample || res.RTTSample != ms(41) {
		t.Errorf("result = %+v, want largest newly acked 9 and RTT sample 41ms", res)
	}
	if h.BytesInFlight() != 4000 || h.Len() != 4 || h.LargestAcked() != 9 {
		t.Errorf("BytesInFlight() = %d, Len() = %d, LargestAcked() = %d; want 4000, 4, 9",
			h.BytesInFlight(), h.Len(), h.LargestAcked())
	}

	// The same ACK again acknowledges nothing and changes nothing.
	acked, res = h.OnAck(ackOf(rg(7, 9), rg(2, 4)), t0.Add(ms(60)), acked[:0])
	if len(acked) != 0 || res.LargestNewlyAcked != packet.InvalidPacketNumber || res.HasRTTSample {
		t.Errorf("repeated ACK: acked %v, result %+v; want nothing", numbers(acked), res)
	}
	if h.BytesInFlight() != 4000 || h.Len() != 4 {
		t.Errorf("after repeated ACK: BytesInFlight() = %d, Len() = %d; want 4000, 4", h.BytesInFlight(), h.Len())
	}

	// An overlapping ACK acknowledges only what is new, and since its
	// largest (9) is not newly acknowledged it gives no RTT sample.
	acked, res = h.OnAck(ackOf(rg(0, 9)), t0.Add(ms(70)), acked[:0])
	if got, want := numbers(acked), []pn{0, 1, 5, 6}; !slices.Equal(got, want) {
		t.Errorf("acked %v, want %v", got, want)
	}
	if res.LargestNewlyAcked != 6 || res.HasRTTSample {
		t.Errorf("result = %+v, want largest newly acked 6 and no RTT sample", res)
	}
	if h.BytesInFlight() != 0 || h.Len() != 0 || h.HasAckElicitingInFlight() {
		t.Errorf("BytesInFlight() = %d, Len() = %d, HasAckElicitingInFlight() = %v; want 0, 0, false",
			h.BytesInFlight(), h.Len(), h.HasAckElicitingInFlight())
	}
}

func TestSentHistoryRTTSample(t *testing.T) {
	type pkt struct {
		n                      pn
		ackEliciting, inFlight bool
	}
	tests := []struct {
		desc       string
		packets    []pkt // packet i is sent at t0 + i ms
		preAck     []packet.AckRange
		ack        []packet.AckRange // received at t0+100ms
		wantSample time.Duration     // -1: none
	}{
		{
			desc:       "largest newly acknowledged and ack-eliciting",
			packets:    []pkt{{0, true, true}, {1, true, true}},
			ack:        []packet.AckRange{rg(0, 1)},
			wantSample: ms(99),
		},
		{
			desc:       "largest newly acknowledged but nothing ack-eliciting",
			packets:    []pkt{{0, false, true}, {1, false, true}},
			ack:        []packet.AckRange{rg(0, 1)},
			wantSample: -1,
		},
		{
			desc:       "largest not ack-eliciting, a lower one is: sample from the largest",
			packets:    []pkt{{0, true, true}, {1, false, true}},
			ack:        []packet.AckRange{rg(0, 1)},
			wantSample: ms(99),
		},
		{
			desc:       "largest acknowledged before",
			packets:    []pkt{{0, true, true}, {1, true, true}, {2, true, true}},
			preAck:     []packet.AckRange{rg(2, 2)},
			ack:        []packet.AckRange{rg(0, 2)},
			wantSample: -1,
		},
		{
			// RFC 9002 §5.1: the largest acknowledged need not be
			// ack-eliciting; its send time is kept though it is not stored.
			desc:       "largest is the newest ACK-only packet, which is not stored",
			packets:    []pkt{{0, true, true}, {1, false, false}},
			ack:        []packet.AckRange{rg(0, 1)},
			wantSample: ms(99),
		},
		{
			desc:       "largest is an ACK-only packet, but nothing ack-eliciting is newly acknowledged",
			packets:    []pkt{{0, true, true}, {1, false, false}},
			preAck:     []packet.AckRange{rg(0, 0)},
			ack:        []packet.AckRange{rg(0, 1)},
			wantSample: -1,
		},
		{
			desc:       "largest is an older ACK-only packet, whose send time is gone",
			packets:    []pkt{{0, true, true}, {1, false, false}, {2, false, false}},
			ack:        []packet.AckRange{rg(0, 1)},
			wantSample: -1,
		},
		{
			desc:       "the ACK-only packet's sample is taken once",
			packets:    []pkt{{0, true, true}, {1, false, false}, {2, true, true}},
			preAck:     []packet.AckRange{rg(0, 1)},
			ack:        []packet.AckRange{rg(0, 1)},
			wantSample: -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			h := NewSentHistory[int](0)
			for i, p := range tt.packets {
				sp := SentPacket[int]{Number: p.n, TimeSent: t0.Add(ms(i)), Size: 100, AckEliciting: p.ackEliciting, InFlight: p.inFlight}
				if err := h.OnPacketSent(sp); err != nil {
					t.Fatal(err)
				}
			}
			if tt.preAck != nil {
				h.OnAck(ackOf(tt.preAck...), t0.Add(ms(50)), nil)
			}
			_, res := h.OnAck(ackOf(tt.ack...), t0.Add(ms(100)), nil)
			if tt.wantSample < 0 {
				if res.HasRTTSample {
					t.Errorf("RTT sample %v, want none", res.RTTSample)
				}
				return
			}
			if !res.HasRTTSample || res.RTTSample != tt.wantSample {
				t.Errorf("RTT sample = %v (valid %v), want %v", res.RTTSample, res.HasRTTSample, tt.wantSample)
			}
		})
	}
}

func TestSentHistoryOrder(t *testing.T) {
	h := NewSentHistory[int](0)
	steps := []struct {
		p       SentPacket[int]
		wantErr error
	}{
		{sent(5, t0), nil},
		{sent(5, t0), ErrPacketNumberOrder},
		{sent(3, t0), ErrPacketNumberOrder},
		{sent(7, t0), nil},                              // 6 was skipped: fine
		{SentPacket[int]{Number: 8, TimeSent: t0}, nil}, // ACK-only: not stored, but numbered
		{SentPacket[int]{Number: 8, TimeSent: t0}, ErrPacketNumberOrder},
		{sent(8, t0), ErrPacketNumberOrder},
		{sent(9, t0), nil},
	}
	for i, st := range steps {
		if err := h.OnPacketSent(st.p); !errors.Is(err, st.wantErr) || (err != nil) != (st.wantErr != nil) {
			t.Errorf("step %d: OnPacketSent(%d) = %v, want %v", i, st.p.Number, err, st.wantErr)
		}
	}
	if h.Len() != 3 {
		t.Errorf("Len() = %d, want 3 (5, 7, 9)", h.Len())
	}
}

func TestSentHistoryLimit(t *testing.T) {
	h := NewSentHistory[int](4)
	sendRange(t, h, 0, 3, t0, ms(1))
	if !h.Full() {
		t.Fatal("Full() = false with 4 of 4 packets outstanding")
	}
	if err := h.OnPacketSent(sent(4, t0)); !errors.Is(err, ErrHistoryFull) {
		t.Fatalf("fifth packet: error %v, want ErrHistoryFull", err)
	}
	// ACK-only packets are not stored, so they never fill the history.
	for n := pn(4); n < 100; n++ {
		if err := h.OnPacketSent(SentPacket[int]{Number: n, TimeSent: t0}); err != nil {
			t.Fatalf("ACK-only packet %d: %v", n, err)
		}
	}
	// Acknowledging a packet in the middle leaves room once squeezed out.
	h.OnAck(ackOf(rg(2, 2)), t0.Add(ms(10)), nil)
	if h.Full() {
		t.Fatal("Full() = true with 3 of 4 packets outstanding")
	}
	if err := h.OnPacketSent(sent(100, t0)); err != nil {
		t.Fatalf("after ACK of 2: %v", err)
	}
	if err := h.OnPacketSent(sent(101, t0)); !errors.Is(err, ErrHistoryFull) {
		t.Fatalf("error %v, want ErrHistoryFull", err)
	}
	h.OnAck(ackOf(rg(0, 0)), t0.Add(ms(10)), nil)
	if err := h.OnPacketSent(sent(101, t0)); err != nil {
		t.Fatalf("after ACK of 0: %v", err)
	}
	var left []pn
	h.ForEach(func(p *SentPacket[int]) bool { left = append(left, p.Number); return true })
	if want := []pn{1, 3, 100, 101}; !slices.Equal(left, want) {
		t.Errorf("outstanding %v, want %v", left, want)
	}
	if h.BytesInFlight() != 4000 {
		t.Errorf("BytesInFlight() = %d, want 4000", h.BytesInFlight())
	}
}

func TestSentHistoryRemoveAll(t *testing.T) {
	h := NewSentHistory[int](0)
	sendRange(t, h, 0, 4, t0, ms(1))
	h.OnAck(ackOf(rg(1, 1)), t0.Add(ms(10)), nil)
	h.lossTime = t0.Add(ms(20)) // as if DetectLost had set it
	out := h.RemoveAll(nil)
	if got, want := numbers(out), []pn{0, 2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("RemoveAll returned %v, want %v", got, want)
	}
	if h.Len() != 0 || h.BytesInFlight() != 0 || h.HasAckElicitingInFlight() || !h.LossTime().IsZero() {
		t.Errorf("after RemoveAll: Len %d, BytesInFlight %d, ack-eliciting in flight %v, LossTime %v",
			h.Len(), h.BytesInFlight(), h.HasAckElicitingInFlight(), h.LossTime())
	}
	if !h.PTODeadline(fakeRTT{smoothed: ms(100)}, 0, 0, 0).IsZero() {
		t.Error("PTODeadline after RemoveAll is armed")
	}
	if err := h.OnPacketSent(sent(4, t0)); !errors.Is(err, ErrPacketNumberOrder) {
		t.Errorf("reusing number 4 after RemoveAll: %v, want ErrPacketNumberOrder", err)
	}
}

func TestSentHistoryForEach(t *testing.T) {
	h := NewSentHistory[int](0)
	sendRange(t, h, 0, 4, t0, ms(1))
	h.OnAck(ackOf(rg(2, 2)), t0.Add(ms(10)), nil)
	var seen []pn
	h.ForEach(func(p *SentPacket[int]) bool {
		seen = append(seen, p.Number)
		p.Frames = -1
		return len(seen) < 2
	})
	if want := []pn{0, 1}; !slices.Equal(seen, want) {
		t.Errorf("ForEach visited %v, want %v", seen, want)
	}
	acked, _ := h.OnAck(ackOf(rg(0, 4)), t0.Add(ms(20)), nil)
	var frames []int
	for _, p := range acked {
		frames = append(frames, p.Frames)
	}
	if want := []int{-1, -1, 30, 40}; !slices.Equal(frames, want) {
		t.Errorf("frames after ForEach changed them: %v, want %v", frames, want)
	}
}

// TestSentHistoryMatchesModel drives a small history with random sends
// (with skipped numbers) and random ACK frames, and checks every ACK's
// newly acknowledged packets and the in-flight count against a map.
func TestSentHistoryMatchesModel(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		r := rand.New(rand.NewPCG(seed, 99))
		const limit = 12
		h := NewSentHistory[int](limit)
		outstanding := map[pn]int{} // number → size
		next := pn(0)
		now := t0
		var acked []SentPacket[int]
		for op := 0; op < 5000; op++ {
			now = now.Add(time.Millisecond)
			if r.IntN(3) > 0 {
				next += pn(r.IntN(2)) // sometimes skip a number
				p := sent(next, now)
				p.Size = 100 + r.IntN(1000)
				wasFull := h.Full()
				err := h.OnPacketSent(p)
				switch {
				case errors.Is(err, ErrHistoryFull):
					if h.Len() != limit || !h.Full() {
						t.Fatalf("seed %d op %d: ErrHistoryFull with Len() = %d", seed, op, h.Len())
					}
				case err != nil:
					t.Fatalf("seed %d op %d: %v", seed, op, err)
				case wasFull:
					t.Fatalf("seed %d op %d: OnPacketSent succeeded although Full() said true", seed, op)
				default:
					outstanding[next] = p.Size
				}
				next++
				continue
			}
			// A random ACK frame over the recent past, with random gaps;
			// now and then one that covers everything, as the history would
			// otherwise fill up with packets nobody acknowledges.
			var ranges []packet.AckRange
			hi := next - 1 - pn(r.IntN(3))
			if r.IntN(25) == 0 && hi >= 0 {
				ranges = append(ranges, rg(0, hi))
			} else {
				for hi >= 0 && len(ranges) < 6 {
					lo := max(hi-pn(r.IntN(8)), 0)
					ranges = append(ranges, rg(lo, hi))
					hi = lo - 2 - pn(r.IntN(6))
				}
			}
			if len(ranges) == 0 {
				continue
			}
			var want []pn
			for i := len(ranges) - 1; i >= 0; i-- {
				for n := ranges[i].Smallest; n <= ranges[i].Largest; n++ {
					if _, ok := outstanding[n]; ok {
						want = append(want, n)
						delete(outstanding, n)
					}
				}
			}
			acked, _ = h.OnAck(ackOf(ranges...), now, acked[:0])
			if got := numbers(acked); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("seed %d op %d: ACK %v acknowledged %v, want %v", seed, op, ranges, got, want)
			}
			bytes := 0
			for _, size := range outstanding {
				bytes += size
			}
			if h.BytesInFlight() != bytes || h.Len() != len(outstanding) {
				t.Fatalf("seed %d op %d: BytesInFlight() = %d, Len() = %d; want %d, %d",
					seed, op, h.BytesInFlight(), h.Len(), bytes, len(outstanding))
			}
		}
	}
}
