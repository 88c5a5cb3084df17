package ackframes

import (
	"testing"

	"github.com/limpetnet/limpet/packet"
)

// sendMarked sends n packets from pn on, marked while the validator says so,
// and returns the next packet number and how many were marked.
func sendMarked(v *ECNValidator, pn packet.PacketNumber, n int) (packet.PacketNumber, int) {
	marked := 0
	for range n {
		m := v.ShouldMark()
		v.OnSent(pn, m)
		if m {
			marked++
		}
		pn++
	}
	return pn, marked
}

func ackECN(ect0, ect1, ce uint64) *packet.AckFrame {
	return &packet.AckFrame{HasECN: true, ECN: packet.ECNCounts{ECT0: ect0, ECT1: ect1, CE: ce}}
}

func TestECNValidation(t *testing.T) {
	for _, tc := range []struct {
		desc      string
		ack       *packet.AckFrame // acknowledging the first 4 test packets
		wantState ECNState
		wantCE    uint64
	}{
		{"marks arrive intact", ackECN(4, 0, 0), ECNCapable, 0},
		{"some CE among ECT(0)", ackECN(3, 0, 1), ECNCapable, 1},
		{"no counts: bleached or an ECN-blind peer", &packet.AckFrame{}, ECNFailed, 0},
		{"counts short of the packets acknowledged: bleached", ackECN(2, 0, 0), ECNFailed, 0},
		{"ECT(1) we never sent: mangled", ackECN(3, 1, 0), ECNFailed, 0},
		{"more marks than we sent", ackECN(20, 0, 0), ECNFailed, 0},
		{"all CE so far: still testing", ackECN(0, 0, 4), ECNTesting, 4},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			v := NewECNValidator(false)
			if v.State() != ECNTesting || !v.ShouldMark() {
				t.Fatalf("new validator: state %v, ShouldMark %v", v.State(), v.ShouldMark())
			}
			sendMarked(v, 0, 4)
			ce := v.OnAck(tc.ack, 4, 4)
			if v.State() != tc.wantState || ce != tc.wantCE {
				t.Fatalf("state %v, new CE %d; want %v, %d", v.State(), ce, tc.wantState, tc.wantCE)
			}
			if v.State() == ECNFailed && v.ShouldMark() {
				t.Fatal("a failed path still marks")
			}
		})
	}
}

func TestECNTestingEndsAfterTenPackets(t *testing.T) {
	v := NewECNValidator(false)
	pn, marked := sendMarked(v, 0, 25)
	if marked != ECNTestingPackets || v.State() != ECNUnknown {
		t.Fatalf("marked %d, state %v; want %d, unknown", marked, v.State(), ECNTestingPackets)
	}
	// Confirmation turns marking back on for good.
	v.OnAck(ackECN(10, 0, 0), 10, 10)
	if _, m := sendMarked(v, pn, 5); m != 5 || v.State() != ECNCapable {
		t.Fatalf("after confirmation: marked %d of 5, state %v", m, v.State())
	}
}

func TestECNEveryPacketCEFails(t *testing.T) {
	v := NewECNValidator(false)
	sendMarked(v, 0, ECNTestingPackets)
	if ce := v.OnAck(ackECN(0, 0, 6), 6, 6); ce != 6 || v.State() != ECNUnknown {
		t.Fatalf("first ACK: new CE %d, state %v", ce, v.State())
	}
	if ce := v.OnAck(ackECN(0, 0, 10), 4, 4); ce != 0 || v.State() != ECNFailed {
		t.Fatalf("all test packets CE: new CE %d, state %v; want 0, failed", ce, v.State())
	}
}

func TestECNAllTestPacketsLostFails(t *testing.T) {
	v := NewECNValidator(false)
	sendMarked(v, 0, ECNTestingPackets)
	for pn := range packet.PacketNumber(ECNTestingPackets) {
		v.OnMarkedLost(pn)
	}
	if v.State() != ECNFailed {
		t.Fatalf("state %v after every test packet was lost, want failed", v.State())
	}
}

func TestECNCountsAreCumulative(t *testing.T) {
	v := NewECNValidator(false)
	sendMarked(v, 0, 4)
	v.OnAck(ackECN(4, 0, 0), 4, 4)
	sendMarked(v, 4, 4)
	if ce := v.OnAck(ackECN(6, 0, 2), 4, 0); ce != 2 || v.State() != ECNCapable {
		t.Fatalf("new CE %d, state %v; want 2, capable", ce, v.State())
	}
	// A reordered older frame is ignored, not taken for a decrease.
	if ce := v.OnAck(ackECN(5, 0, 1), 0, 0); ce != 0 || v.State() != ECNCapable {
		t.Fatalf("reordered frame: new CE %d, state %v", ce, v.State())
	}
}

func TestECNRestartAndDisabled(t *testing.T) {
	v := NewECNValidator(false)
	sendMarked(v, 0, 4)
	v.OnAck(&packet.AckFrame{}, 4, 4)
	if v.State() != ECNFailed {
		t.Fatalf("state %v", v.State())
	}
	v.Restart(false)
	if v.State() != ECNTesting || !v.ShouldMark() {
		t.Fatalf("after Restart: state %v", v.State())
	}
	if d := NewECNValidator(true); d.ShouldMark() || d.State() != ECNFailed {
		t.Fatal("a disabled validator marks")
	}
}

// TestECNOlderRangesAreNotHeldToTheShortfall: an ACK that only fills in
// ranges below the largest already acknowledged may follow counts that
// covered those packets, so it cannot fail validation (RFC 9000
// §13.4.2.1).
func TestECNOlderRangesAreNotHeldToTheShortfall(t *testing.T) {
	v := NewECNValidator(false)
	sendMarked(v, 0, 8)
	newest := &packet.AckFrame{Ranges: []packet.AckRange{{Smallest: 4, Largest: 7}}, HasECN: true, ECN: packet.ECNCounts{ECT0: 8}}
	v.OnAck(newest, 4, 4)
	older := &packet.AckFrame{Ranges: []packet.AckRange{{Smallest: 4, Largest: 7}, {Smallest: 0, Largest: 2}}, HasECN: true, ECN: packet.ECNCounts{ECT0: 8}}
	if v.OnAck(older, 3, 3); v.State() != ECNCapable {
		t.Fatalf("state %v after an ACK of older packets, want capable", v.State())
	}
	// An ACK that does raise the largest is held to it.
	sendMarked(v, 8, 2)
	raised := &packet.AckFrame{Ranges: []packet.AckRange{{Smallest: 0, Largest: 9}}, HasECN: true, ECN: packet.ECNCounts{ECT0: 8}}
	if v.OnAck(raised, 2, 0); v.State() != ECNFailed {
		t.Fatalf("state %v after a new ACK whose counts did not grow, want failed", v.State())
	}
}
