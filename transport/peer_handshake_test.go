package transport

import (
	"bytes"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// TestPeerClientHandshake walks a client through the handshake of
// docs/PROTOCOL.md section 4.5 one datagram at a time: message 1 in a padded
// Initial, message 2 from the harness, the client's first 1-RTT packet at
// once, HANDSHAKE_DONE, and silence after it.
func TestPeerClientHandshake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, clientSide)

		d := tc.readDatagram()
		if d == nil {
			t.Fatal("Dial sent nothing")
		}
		if d.size < packet.MinInitialDatagramSize {
			t.Fatalf("first datagram is %d bytes, want at least %d (docs/PROTOCOL.md section 2)", d.size, packet.MinInitialDatagramSize)
		}
		if d.to != tc.peerAddr {
			t.Fatalf("first datagram sent to %v, want %v", d.to, tc.peerAddr)
		}
		if len(d.packets) != 1 || d.packets[0].kind != kindInitial || d.packets[0].pn != 0 {
			t.Fatalf("first datagram holds %v, want one Initial packet with pn 0", d.packets)
		}
		if got := d.packets[0].dcid.Len(); got < packet.DefaultConnIDLen {
			t.Fatalf("original DCID is %d bytes, want at least %d", got, packet.DefaultConnIDLen)
		}
		msg1 := tc.wantClientHello("the first Initial carries message 1 in a CRYPTO frame at offset 0")
		tc.wantNoFrame("message 1 is all the first Initial carries besides PADDING")

		if tc.dialReturned() {
			t.Fatalf("Dial returned before message 2: %v, %v", tc.conn, tc.dialErr)
		}
		tc.writeServerHello(msg1)
		tc.waitDial()
		if tc.dialErr != nil {
			t.Fatalf("Dial after message 2: %v", tc.dialErr)
		}
		if got, want := tc.connParams.InitialSrcConnID, tc.connCID; got != want {
			t.Fatalf("client's initial_source_connection_id = %v, want its Initial SCID %v", got, want)
		}

		p := tc.readPacket()
		if p == nil || p.kind != kind1RTT {
			t.Fatalf("after message 2: got %v, want a 1-RTT packet at once", p)
		}
		if !p.ackEliciting() {
			t.Fatalf("the client's first 1-RTT packet %v is not ack-eliciting; the server needs it to confirm the handshake", p)
		}
		tc.wantNoFrame("after its first 1-RTT packet the client has nothing more to send")

		tc.advance(testRTT)
		hsDonePN := tc.peerPN
		tc.writeFrames(tc.ackAll(), packet.HandshakeDoneFrame{})
		tc.wantIdle("one ack-eliciting packet is acknowledged after max_ack_delay, not at once")
		tc.advance(25*time.Millisecond - time.Nanosecond)
		tc.wantIdle("the ACK of HANDSHAKE_DONE waits for max_ack_delay")
		tc.advance(time.Nanosecond)
		tc.wantFrame("the client acknowledges HANDSHAKE_DONE at max_ack_delay", ackFor(hsDonePN))
		tc.wantIdle("an ACK is all the client sends")

		tc.advance(5 * time.Second)
		tc.wantIdle("with message 2 in hand the client never sends message 1 again")
	})
}

// TestPeerClientInitialRetransmission checks the client's schedule for
// resending message 1 when message 2 never comes (docs/PROTOCOL.md section
// 4.5): 300 ms after the first Initial, then at doubling intervals capped at
// 3 s, each time in a new Initial packet, until Dial fails with
// ErrHandshakeTimeout at exactly HandshakeTimeout.
func TestPeerClientInitialRetransmission(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 10 * time.Second
		tc := startTestConn(t, clientSide, func(c *Config) { c.HandshakeTimeout = timeout })
		sendTimes := []time.Duration{
			0,
			300 * time.Millisecond,
			900 * time.Millisecond,  // +600 ms
			2100 * time.Millisecond, // +1.2 s
			4500 * time.Millisecond, // +2.4 s
			7500 * time.Millisecond, // +3 s (the cap)
		}
		var msg1 []byte
		for i, at := range sendTimes {
			if at > 0 {
				tc.advanceTo(tc.start.Add(at - time.Nanosecond))
				tc.wantIdle("no Initial before " + at.String())
				tc.advanceTo(tc.start.Add(at))
			}
			d := tc.readDatagram()
			if d == nil {
				t.Fatalf("Initial #%d: nothing sent at %v", i, at)
			}
			if d.size < packet.MinInitialDatagramSize {
				t.Fatalf("Initial #%d: datagram of %d bytes, want at least %d", i, d.size, packet.MinInitialDatagramSize)
			}
			if got, want := d.packets[0].pn, packet.PacketNumber(i); d.packets[0].kind != kindInitial || got != want {
				t.Fatalf("Initial #%d: got %v, want an Initial with pn %d (a new packet number each time)", i, d.packets[0], want)
			}
			f := tc.wantFrameType("every Initial carries message 1", packet.FrameCrypto).(packet.CryptoFrame)
			if i == 0 {
				msg1 = bytes.Clone(f.Data)
			}
			if f.Offset != 0 || !bytes.Equal(f.Data, msg1) {
				t.Fatalf("Initial #%d: CRYPTO{off=%d, %d bytes}, want message 1 again at offset 0 (%d bytes)", i, f.Offset, len(f.Data), len(msg1))
			}
			tc.wantIdle("one Initial per retransmission")
		}
		tc.advanceTo(tc.start.Add(timeout - time.Nanosecond))
		tc.wantIdle("the next retransmission (10.5 s) lies past the handshake timeout")
		if tc.dialReturned() {
			t.Fatalf("Dial returned before HandshakeTimeout: %v", tc.dialErr)
		}
		tc.advance(time.Nanosecond)
		if !tc.dialReturned() {
			t.Fatalf("Dial has not returned at HandshakeTimeout (%v)", timeout)
		}
		if !errors.Is(tc.dialErr, ErrHandshakeTimeout) {
			t.Fatalf("Dial error = %v, want ErrHandshakeTimeout", tc.dialErr)
		}
		if tc.conn != nil {
			t.Fatalf("Dial returned a connection with its error")
		}
		tc.wantIdle("a handshake timeout ends the attempt silently")
	})
}

// TestPeerClientDiscardsInitialKeys checks that once HANDSHAKE_DONE has
// confirmed the handshake the client no longer opens Initial packets
// (docs/PROTOCOL.md section 4.6): an Initial CONNECTION_CLOSE is ignored.
func TestPeerClientDiscardsInitialKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := newTestConn(t, clientSide)
		tc.writeInitialFrames(packet.ConnectionCloseFrame{ErrorCode: uint64(packet.ProtocolViolation), Reason: []byte("stale")})
		tc.wantIdle("an Initial after confirmation is dropped unread")
		tc.advance(time.Second)
		tc.wantConnOpen("an Initial CONNECTION_CLOSE after confirmation must not end the connection")
		tc.wantIdle("nothing to send after a dropped Initial")
	})
}

// TestPeerServerHandshake checks the server's side: message 2 in an Initial
// to the client's address, nothing in 1-RTT before the client proves it has
// the keys, then HANDSHAKE_DONE (with an ACK) at once when it does, and
// Accept returning the connection only then.
func TestPeerServerHandshake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, serverSide)
		tc.writeClientHello()
		d := tc.readDatagram()
		if d == nil || d.to != tc.peerAddr {
			t.Fatalf("server answered message 1 with %v, want a datagram to %v", d, tc.peerAddr)
		}
		if len(d.packets) != 1 || d.packets[0].kind != kindInitial || d.packets[0].dcid != tc.peerCID {
			t.Fatalf("server's first datagram: %v, want one Initial to the client's SCID %v", d.packets, tc.peerCID)
		}
		tc.wantServerHello("message 2 is in a CRYPTO frame at offset 0")
		if got, want := tc.connParams.InitialSrcConnID, tc.connCID; got != want {
			t.Fatalf("server's initial_source_connection_id = %v, want its Initial SCID %v", got, want)
		}
		tc.wantIdle("the server sends nothing more until the client speaks")

		ctx, cancel := contextCancelled()
		defer cancel()
		if c, err := tc.listener.Accept(ctx); err == nil {
			t.Fatalf("Accept returned %v before the handshake was confirmed", c)
		}

		pingPN := tc.peerPN
		tc.writeFrames(packet.PingFrame{})
		tc.ignoreFrame(packet.FrameAck)
		tc.wantFrame("the client's first 1-RTT packet confirms the handshake", packet.HandshakeDoneFrame{})
		if !slicesContainsAck(tc.lastPkt.frames, ackFor(pingPN)) {
			t.Fatalf("HANDSHAKE_DONE packet %v does not acknowledge the client's PING (pn %d)", tc.lastPkt, pingPN)
		}
		c, err := tc.listener.Accept(ctx)
		if err != nil {
			t.Fatalf("Accept after confirmation: %v", err)
		}
		tc.conn = c
	})
}

// slicesContainsAck reports whether frames hold an ACK with want's ranges.
func slicesContainsAck(frames []packet.Frame, want packet.AckFrame) bool {
	for _, f := range frames {
		if framesEqual(f, want) {
			return true
		}
	}
	return false
}

// TestPeerServerAntiAmplification checks the 3× limit of docs/PROTOCOL.md
// section 9: until the client's first 1-RTT packet, the server sends the
// client's address at most three times the bytes it received from there,
// however often the client repeats message 1 and however long it waits.
//
// The server is configured with the largest transport parameters it can
// announce, so its message 2 (about 180 bytes) is more than three times the
// smallest Initial a client can send (50 bytes): answering every repeat would
// break the limit after about a hundred of them, and only the limit stops it.
func TestPeerServerAntiAmplification(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, serverSide, func(c *Config) {
			c.MaxIdleTimeout = 1 << 30 * time.Millisecond // 8-byte varints
			c.InitialConnWindow = 1 << 40
			c.InitialStreamWindow = 1 << 40
			c.MaxIncomingStreams = 1 << 40
			c.MaxIncomingUniStreams = 1 << 40
		})
		check := func(when string) {
			t.Helper()
			tc.wait()
			sent, recv := tc.bind.bytesSentTo(tc.peerAddr), tc.bind.bytesReceivedFrom(tc.peerAddr)
			if sent > 3*recv {
				t.Fatalf("%s: server sent %d bytes to the unvalidated client address, more than 3 × %d received", when, sent, recv)
			}
		}
		tc.writeClientHello()
		if got := tc.bind.bytesReceivedFrom(tc.peerAddr); got != packet.MinInitialDatagramSize {
			t.Fatalf("harness sent %d bytes, want one %d-byte Initial", got, packet.MinInitialDatagramSize)
		}
		check("after one 1200-byte Initial")
		tc.wantServerHello("message 2 answers message 1")
		msg2Size := tc.lastDgram.size
		tc.wantIdle("one answer to one Initial")

		// The client did not get message 2 and repeats message 1, in the
		// smallest Initials it can build (a 1-byte CRYPTO frame each).
		small := len(tc.sealInitial([]packet.Frame{packet.CryptoFrame{Offset: 0, Data: tc.msg1[:1]}}, 0))
		if 3*small >= msg2Size {
			t.Fatalf("setup: message 2 datagram is %d bytes, not more than 3 × %d; the limit would never bind", msg2Size, small)
		}
		answers := 0
		for i := 0; i < 150; i++ {
			tc.writeDatagram(tc.sealInitial([]packet.Frame{packet.CryptoFrame{Offset: 0, Data: tc.msg1[:1]}}, 0))
			check("after a repeated message 1")
			for d := tc.readDatagram(); d != nil; d = tc.readDatagram() {
				answers++
			}
		}
		t.Logf("message 2 is %d bytes; the server answered %d of 150 repeats of %d bytes", msg2Size, answers, small)
		tc.advance(5 * time.Second)
		check("after 5 s of waiting")
		for d := tc.readDatagram(); d != nil; d = tc.readDatagram() {
			for _, p := range d.packets {
				if p.kind != kindInitial {
					t.Fatalf("server sent %v before the client proved its address", p)
				}
			}
		}
	})
}

// TestPeerServerDropsSmallInitial: RFC 9000 §14.1 makes a server discard an
// Initial packet carried in a datagram smaller than 1200 bytes, so a repeat
// of message 1 in a short datagram must not be answered; a padded repeat is.
func TestPeerServerDropsSmallInitial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, serverSide)
		tc.writeClientHello()
		tc.wantServerHello("message 2 answers message 1")
		tc.wantIdle("one answer to one Initial")

		short := tc.sealInitial([]packet.Frame{packet.CryptoFrame{Offset: 0, Data: tc.msg1}}, 0)
		tc.writeDatagram(short)
		if d := tc.readDatagram(); d != nil {
			t.Fatalf("BUG: the server answered a repeated message 1 in a %d-byte datagram with %s; "+
				"RFC 9000 §14.1: a server MUST discard an Initial in a datagram of less than 1200 bytes",
				len(short), describeDatagram(d))
		}
		tc.writeClientHello()
		tc.wantServerHello("a padded repeat of message 1 is answered with message 2 again")
	})
}
