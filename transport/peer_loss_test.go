package transport

import (
	"errors"
	"testing"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// TestPeerLossRetransmitsAfterPTO: STREAM data the peer never acknowledges
// is sent again at exactly one probe timeout after it left (RFC 9002 §6.2),
// with the same offset and bytes, in a new packet with a higher number
// (docs/PROTOCOL.md section 3: packets are never resent, frames are).
func TestPeerLossRetransmitsAfterPTO(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side)
		tc.ignoreFrame(packet.FrameAck)
		tc.ignoreFrame(packet.FramePing)
		s := tc.openStream(true)
		id := tc.connStreamID(0, true)
		data := []byte("hello, limpet")
		if _, err := s.Write(data); err != nil {
			t.Fatalf("Write: %v", err)
		}
		want := packet.StreamFrame{StreamID: id, Offset: 0, Data: data}
		tc.wantFrame("the write goes out at once", want)
		firstPN, firstAt := tc.lastPkt.pn, tc.lastDgram.at
		tc.wantIdle("one packet for one write")

		tc.advanceTo(firstAt.Add(testPTO - time.Nanosecond))
		tc.wantIdle("nothing before the PTO (" + testPTO.String() + " with a 10 ms RTT sample)")
		tc.advanceTo(firstAt.Add(testPTO))
		tc.wantFrame("the PTO probe carries the unacknowledged data again", want)
		if tc.lastPkt.pn <= firstPN {
			t.Fatalf("retransmitted in packet %d, want a new number above %d", tc.lastPkt.pn, firstPN)
		}
		// A PTO sends up to two probes (RFC 9002 §6.2.4): read them, then
		// acknowledge everything. Acknowledged data is never sent again and
		// nothing is left to probe for.
		for tc.readDatagram() != nil {
		}
		tc.writeFrames(tc.ackAll())
		tc.wantIdle("an ACK-only packet from the peer needs no answer")
		tc.advance(10 * testPTO)
		tc.wantIdle("no more probes once everything is acknowledged")
	})
}

// TestPeerLossPacketThreshold: when the peer acknowledges three packets sent
// after one it did not acknowledge, that one is lost (RFC 9002 §6.1.1,
// kPacketThreshold = 3) and its data is sent again at once.
func TestPeerLossPacketThreshold(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side, func(c *Config) { c.NoDelay = true })
		tc.ignoreFrame(packet.FrameAck)
		s := tc.openStream(true)
		id := tc.connStreamID(0, true)
		var pns []packet.PacketNumber
		for i, chunk := range []string{"aaaa", "bbbb", "cccc", "dddd"} {
			if _, err := s.Write([]byte(chunk)); err != nil {
				t.Fatalf("Write: %v", err)
			}
			tc.wantFrame("each write leaves in its own packet with NoDelay",
				packet.StreamFrame{StreamID: id, Offset: int64(4 * i), Data: []byte(chunk)})
			pns = append(pns, tc.lastPkt.pn)
		}
		tc.writeFrames(ackFor(pns[1:]...))
		tc.wantFrame("three later packets acknowledged: the first is lost and resent at once",
			packet.StreamFrame{StreamID: id, Offset: 0, Data: []byte("aaaa")})
		if tc.lastPkt.pn <= pns[3] {
			t.Fatalf("resent in packet %d, want a new number above %d", tc.lastPkt.pn, pns[3])
		}
		tc.wantNoFrame("only the lost data is resent")
	})
}

// TestPeerAckOfUnsentPacket: an ACK for a packet number the Conn never sent
// is a PROTOCOL_VIOLATION (RFC 9000 §13.1, docs/PROTOCOL.md section 3); the
// Conn closes with CONNECTION_CLOSE carrying that code and the ACK type.
func TestPeerAckOfUnsentPacket(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side)
		bogus := tc.largestConnPN + 5
		tc.writeFrames(ackFor(bogus))
		f := tc.wantFrameType("an ACK of an unsent packet closes the connection", packet.FrameConnectionClose).(packet.ConnectionCloseFrame)
		if f.Application || packet.TransportErrorCode(f.ErrorCode) != packet.ProtocolViolation || f.FrameType != packet.FrameAck {
			t.Fatalf("got %s, want CONNECTION_CLOSE(0x1c) PROTOCOL_VIOLATION in an ACK frame", formatFrame(f))
		}
		tc.wantIdle("one CONNECTION_CLOSE")
		tc.advance(time.Second)
		err := tc.wantConnDone("the closing period is over")
		var ce *TransportError
		if !errors.As(err, &ce) || ce.Remote || ce.Code != packet.ProtocolViolation || ce.FrameType != packet.FrameAck {
			t.Fatalf("Err() = %#v, want a local *TransportError PROTOCOL_VIOLATION in an ACK frame", err)
		}
	})
}
