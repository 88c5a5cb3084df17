package transport

import (
	"testing"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// TestPeerAckFrequency checks that the Conn acknowledges as the peer's
// ACK_FREQUENCY asks (docs/PROTOCOL.md section 5, "ACK frequency"): at once
// only after more ack-eliciting packets than the threshold, otherwise at the
// requested delay, at once for a gap with reordering threshold 1 and for
// IMMEDIATE_ACK, and never by an older frame than the one applied.
func TestPeerAckFrequency(t *testing.T) {
	const delay = 10 * time.Millisecond
	freq := func(seq, threshold uint64) packet.AckFrequencyFrame {
		return packet.AckFrequencyFrame{Sequence: seq, AckElicitingThreshold: threshold, RequestedMaxAckDelay: delay, ReorderingThreshold: 1}
	}
	t.Run("the Conn announces min_ack_delay", func(t *testing.T) {
		forBothSides(t, func(t *testing.T, side connSide) {
			tc := newTestConn(t, side)
			if !tc.connParams.HasMinAckDelay || tc.connParams.MinAckDelay != minAckDelay {
				t.Fatalf("min_ack_delay = %v (present %v), want %v", tc.connParams.MinAckDelay, tc.connParams.HasMinAckDelay, minAckDelay)
			}
		})
	})
	t.Run("ten packets for an ACK at once", func(t *testing.T) {
		forBothSides(t, func(t *testing.T, side connSide) {
			tc := newTestConn(t, side)
			first := tc.peerPN
			tc.writeFrames(freq(0, 9)) // the first of ten ack-eliciting packets
			for range 8 {
				tc.writeFrames(packet.PingFrame{})
			}
			tc.wantIdle("nine ack-eliciting packets with threshold 9")
			tc.writeFrames(packet.PingFrame{})
			tc.wantAck("the tenth makes the ACK go at once", first, first+9)
			tc.wantSentAtOnce()
			tc.wantIdle("one ACK")

			pn := tc.peerPN
			tc.writeFrames(packet.PingFrame{})
			sent := tc.lastWrite
			tc.advanceTo(sent.Add(delay - time.Nanosecond))
			tc.wantIdle("a lone packet waits for the requested delay, not 25 ms")
			tc.advanceTo(sent.Add(delay))
			tc.wantAck("the ACK is due at the requested delay", pn)
			tc.wantIdle("one ACK")
		})
	})
	t.Run("a gap and IMMEDIATE_ACK make the ACK go at once", func(t *testing.T) {
		forBothSides(t, func(t *testing.T, side connSide) {
			tc := newTestConn(t, side)
			tc.writeFrames(freq(0, 9))
			tc.advance(delay)
			tc.wantFrameType("the frame's own packet, after the delay", packet.FrameAck)
			tc.skipPeerPacketNumbers(1)
			pn := tc.peerPN
			tc.writeFrames(packet.PingFrame{})
			tc.wantAck("a packet above a gap is acknowledged at once (reordering threshold 1)", pn)
			pn = tc.peerPN
			tc.writeFrames(packet.ImmediateAckFrame{})
			tc.wantAck("IMMEDIATE_ACK is acknowledged at once", pn)
			tc.wantSentAtOnce()
			tc.wantIdle("one ACK each")
		})
	})
	t.Run("an older frame is ignored", func(t *testing.T) {
		forBothSides(t, func(t *testing.T, side connSide) {
			tc := newTestConn(t, side)
			first := tc.peerPN
			tc.writeFrames(freq(5, 9))
			tc.writeFrames(freq(4, 0)) // arrived late: threshold 0 must not apply
			tc.wantIdle("two packets under threshold 9")
			for range 7 {
				tc.writeFrames(packet.PingFrame{})
			}
			tc.wantIdle("nine packets under threshold 9")
			tc.writeFrames(freq(6, 1)) // the tenth, and back to RFC 9000's policy
			tc.wantAck("the tenth", first, first+9)
			pn := tc.peerPN
			tc.writeFrames(packet.PingFrame{})
			tc.wantIdle("one packet under threshold 1")
			tc.writeFrames(packet.PingFrame{})
			tc.wantAck("the second under threshold 1", pn, pn+1)
		})
	})
}

// TestPeerProbeAsksForImmediateAck: to a peer that announced min_ack_delay
// a PTO probe carries IMMEDIATE_ACK, so that its ACK does not wait for a
// threshold or delay the Conn asked for (docs/PROTOCOL.md section 5, "ACK
// frequency"); to one that did not, it carries none.
func TestPeerProbeAsksForImmediateAck(t *testing.T) {
	for _, announced := range []bool{true, false} {
		forBothSides(t, func(t *testing.T, side connSide) {
			tc := newTestConn(t, side, func(p *packet.TransportParameters) {
				p.MinAckDelay, p.HasMinAckDelay = time.Millisecond, announced
			})
			tc.ignoreFrame(packet.FrameAck)
			tc.ignoreFrame(packet.FramePing)
			s := tc.openStream(true)
			data := []byte("probe me")
			if _, err := s.Write(data); err != nil {
				t.Fatalf("Write: %v", err)
			}
			want := packet.StreamFrame{StreamID: tc.connStreamID(0, true), Data: data}
			tc.wantFrame("the write goes out at once", want)
			firstAt := tc.lastDgram.at
			tc.wantIdle("one packet")
			tc.advanceTo(firstAt.Add(testPTO))
			tc.wantFrame("the PTO probe carries the data again", want)
			if announced {
				tc.wantFrameType("and asks for an immediate ACK", packet.FrameImmediateAck)
			} else {
				tc.wantNoFrame("and nothing else to a peer without the extension")
			}
		})
	}
}

// TestPeerCEAcknowledgedAtOnce: an ack-eliciting packet marked CE is
// acknowledged at once (RFC 9000 §13.2.1), and under a peer's ACK_FREQUENCY
// only the first of a run of marks is (docs/PROTOCOL.md section 5, "ACK
// frequency"); a packet that is not ack-eliciting is never answered by
// itself, marked or not.
func TestPeerCEAcknowledgedAtOnce(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side)
		tc.peerECN = packet.ECNCE
		tc.writeFrames(packet.PaddingFrame{Size: 20})
		tc.wantIdle("a CE-marked packet that is not ack-eliciting gets no ACK of its own")
		pn := tc.peerPN
		tc.writeFrames(packet.PingFrame{})
		tc.wantAck("a CE-marked PING is acknowledged at once", pn)

		tc.peerECN = packet.ECNNotECT
		tc.writeFrames(packet.AckFrequencyFrame{Sequence: 0, AckElicitingThreshold: 9, RequestedMaxAckDelay: 10 * time.Millisecond, ReorderingThreshold: 1})
		tc.wantIdle("one packet under threshold 9")
		tc.peerECN = packet.ECNCE
		pn = tc.peerPN
		tc.writeFrames(packet.PingFrame{})
		tc.wantAck("the first CE mark after an unmarked packet", pn-1, pn)
		tc.writeFrames(packet.PingFrame{})
		tc.wantIdle("a second mark in a row waits for the threshold or the delay")
	})
}
