package ackframes

import (
	"testing"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// BenchmarkReceiverOnPacketReceivedBuildAck measures the receive path of
// one packet: recording it, checking the ACK policy and, every second
// packet, building the ACK frame. A gap every 50 packets keeps several
// ranges in play, and ack-of-acks prune them as on a real connection.
func BenchmarkReceiverOnPacketReceivedBuildAck(b *testing.B) {
	r := NewReceiver(DefaultMaxAckDelay, 0)
	buf := make([]packet.AckRange, 0, DefaultMaxAckRanges)
	now := t0
	n := pn(0)
	acks := 0
	b.ReportAllocs()
	for b.Loop() {
		if n%50 == 0 {
			n++
		}
		if r.OnPacketReceived(n, true, now) {
			b.Fatal("duplicate")
		}
		n++
		now = now.Add(10 * time.Microsecond)
		if r.ShouldAckNow(now) {
			f, ok := r.BuildAck(now, 3, 1000, buf)
			if !ok {
				b.Fatal("no ACK")
			}
			r.OnAckSent()
			if acks++; acks%64 == 0 {
				// The peer acknowledged an ACK sent a while ago.
				r.OnAckAcked(f.Ranges[0].Largest - 500)
			}
		}
	}
}

// BenchmarkSentHistoryOnAck measures the send path per packet: recording
// it, processing an ACK for an older packet, and loss detection. Every
// tenth packet is never acknowledged and is declared lost by the packet
// threshold, so tombstones, losses and the RTT sample are all exercised.
func BenchmarkSentHistoryOnAck(b *testing.B) {
	const window = 100
	h := NewSentHistory[int](0)
	rtt := &fakeRTT{smoothed: ms(100), rttVar: ms(10), latest: ms(100)}
	now := t0
	for n := pn(0); n < window; n++ {
		if err := h.OnPacketSent(sent(n, now)); err != nil {
			b.Fatal(err)
		}
	}
	acked := make([]SentPacket[int], 0, 16)
	lost := make([]SentPacket[int], 0, 16)
	ranges := make([]packet.AckRange, 1)
	next := pn(window)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(10 * time.Microsecond)
		if err := h.OnPacketSent(sent(next, now)); err != nil {
			b.Fatal(err)
		}
		old := next - window
		next++
		if old%10 == 0 {
			continue
		}
		ranges[0] = packet.AckRange{Smallest: old, Largest: old}
		acked, _ = h.OnAck(packet.AckFrame{Ranges: ranges}, now, acked[:0])
		lost, _ = h.DetectLost(now, rtt, DefaultMaxAckDelay, lost[:0])
	}
	if h.Len() > window+1 {
		b.Fatalf("history grew to %d packets", h.Len())
	}
}

// BenchmarkRangeSetAdd measures recording packet numbers that arrive
// slightly out of order.
func BenchmarkRangeSetAdd(b *testing.B) {
	s := NewRangeSet(0)
	n := pn(0)
	b.ReportAllocs()
	for b.Loop() {
		// 0, 2, 1, 3, 5, 4, …: every other pair swapped.
		switch n % 3 {
		case 1:
			s.Add(n + 1)
		case 2:
			s.Add(n - 1)
		default:
			s.Add(n)
		}
		n++
	}
}
