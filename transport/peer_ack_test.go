package transport

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// forBothSides runs f as two subtests, with a client Conn and a server Conn.
func forBothSides(t *testing.T, f func(t *testing.T, side connSide)) {
	t.Helper()
	for _, side := range []connSide{clientSide, serverSide} {
		t.Run(side.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { f(t, side) })
		})
	}
}

// TestPeerAckPolicy checks the ACK policy as the peer sees it (RFC 9000
// §13.2.1–13.2.2, ackframes.Receiver): a second ack-eliciting packet or a
// gap makes the ACK go at once; a single packet is acknowledged at exactly
// max_ack_delay, with that delay in the ACK Delay field; a packet that is
// not ack-eliciting is never acknowledged by itself.
func TestPeerAckPolicy(t *testing.T) {
	const maxAckDelay = 25 * time.Millisecond
	t.Run("two ack-eliciting packets are acknowledged at once", func(t *testing.T) {
		forBothSides(t, func(t *testing.T, side connSide) {
			tc := newTestConn(t, side)
			first := tc.peerPN
			tc.writeFrames(packet.PingFrame{})
			tc.wantIdle("after one packet the ACK waits")
			tc.writeFrames(packet.PingFrame{})
			tc.wantAck("the second ack-eliciting packet triggers an ACK of both", first, first+1)
			tc.wantSentAtOnce()
			tc.wantIdle("one ACK")
		})
	})
	t.Run("one ack-eliciting packet is acknowledged at max_ack_delay", func(t *testing.T) {
		forBothSides(t, func(t *testing.T, side connSide) {
			tc := newTestConn(t, side)
			pn := tc.peerPN
			tc.writeFrames(packet.PingFrame{})
			sent := tc.lastWrite
			tc.wantIdle("a single in-order packet does not trigger an ACK at once")
			tc.advanceTo(sent.Add(maxAckDelay - time.Nanosecond))
			tc.wantIdle("the ACK waits until max_ack_delay")
			tc.advanceTo(sent.Add(maxAckDelay))
			f := tc.wantAck("the ACK is due at max_ack_delay", pn)
			// ACK Delay is in microseconds >> ack_delay_exponent (3).
			if got, want := f.Delay, uint64(maxAckDelay/time.Microsecond)>>3; got != want {
				t.Fatalf("ACK Delay field = %d, want %d (25 ms with exponent 3)", got, want)
			}
			tc.wantIdle("one ACK")
		})
	})
	t.Run("a path MTU probe is acknowledged at once", func(t *testing.T) {
		forBothSides(t, func(t *testing.T, side connSide) {
			// A probe can fill the sender's congestion window: waiting
			// max_ack_delay would stall it that long.
			tc := newTestConn(t, side)
			pn := tc.peerPN
			tc.writeFrames(packet.PingFrame{}, packet.PaddingFrame{Size: 1300})
			tc.wantAck("a 1300-byte PING is a probe: acknowledged at once", pn)
			tc.wantSentAtOnce()
			tc.writeFrames(packet.PingFrame{}, packet.PaddingFrame{Size: 1000})
			tc.wantIdle("a PING within 1200 bytes is no probe: its ACK waits")
			tc.advance(maxAckDelay)
			tc.wantAck("acknowledged at max_ack_delay", pn+1)
			tc.writeFrames(packet.MaxDataFrame{Max: 1 << 30}, packet.PaddingFrame{Size: 1300})
			tc.wantIdle("a large packet with other frames is no probe: its ACK waits")
		})
	})
	t.Run("a gap makes the ACK go at once", func(t *testing.T) {
		forBothSides(t, func(t *testing.T, side connSide) {
			tc := newTestConn(t, side)
			tc.skipPeerPacketNumbers(1)
			pn := tc.peerPN
			tc.writeFrames(packet.PingFrame{})
			// wantAck also checks that the skipped number is not acknowledged.
			tc.wantAck("a packet above a gap is acknowledged at once", pn)
			tc.wantIdle("one ACK")
		})
	})
	t.Run("an ACK-only packet is never acknowledged by itself", func(t *testing.T) {
		forBothSides(t, func(t *testing.T, side connSide) {
			tc := newTestConn(t, side)
			tc.writeFrames(tc.ackAll())
			tc.wantIdle("an ACK-only packet does not elicit an ACK")
			tc.advance(time.Second)
			tc.wantIdle("not even later: otherwise two endpoints would acknowledge each other's ACKs forever")
			// It is reported when something else triggers an ACK.
			ackOnly := tc.peerPN - 1
			tc.writeFrames(packet.PingFrame{})
			tc.writeFrames(packet.PingFrame{})
			tc.wantAck("the next ACK covers the ACK-only packet too", ackOnly, ackOnly+1, ackOnly+2)
		})
	})
}

// TestPeerAckFillsDataPackets checks that an ACK riding on stream data takes
// its own length from the datagram and no more: the data packet that
// carries it is as long as those that do not.
func TestPeerAckFillsDataPackets(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side)
		s := tc.openStream(true)
		if _, err := s.Write(randomData(5, 200_000)); err != nil {
			t.Fatal(err)
		}
		full := 0 // the longest datagram with stream data
		for d := tc.readDatagram(); d != nil; d = tc.readDatagram() {
			full = max(full, d.size)
		}
		if full == 0 {
			t.Fatal("no stream data sent")
		}
		// An ACK of that flight opens the window; its PING makes the
		// Conn owe an ACK, which rides on the next data packets.
		tc.writeFrames(tc.ackAll(), packet.PingFrame{})
		withAck, total := 0, 0
		var sent []*testDatagram
		for range 20 { // pacing spreads the packets out
			for d := tc.readDatagram(); d != nil; d = tc.readDatagram() {
				sent = append(sent, d)
			}
			tc.advance(time.Millisecond)
		}
		for _, d := range sent {
			p := d.packets[len(d.packets)-1]
			hasAck, hasData := false, false
			for _, f := range p.frames {
				switch f.(type) {
				case packet.AckFrame:
					hasAck = true
				case packet.StreamFrame:
					hasData = true
				}
			}
			if !hasData {
				continue
			}
			total++
			if hasAck {
				withAck++
				if d.size != full {
					t.Errorf("a data packet with an ACK is %d bytes, want %d like the others", d.size, full)
				}
			}
		}
		if withAck == 0 || total < 2 {
			t.Fatalf("%d data packets after the ACK, %d with an ACK; want an ACK on one of several", total, withAck)
		}
	})
}
