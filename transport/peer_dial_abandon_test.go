package transport

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/limpetnet/limpet/packet"
)

// TestPeerClientDialEndsAtOnce: a Dial that ends before the handshake
// completes returns at that moment, not after a closing period of three
// PTOs: a client without 1-RTT keys has no state a late packet could need
// (RFC 9000 §10.2).
func TestPeerClientDialEndsAtOnce(t *testing.T) {
	t.Run("context cancelled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tc := startTestConn(t, clientSide)
			tc.wantClientHello("Dial sends message 1")
			tc.cancelDial()
			if !tc.dialReturned() {
				t.Fatal("Dial has not returned after its context was cancelled (no time passed)")
			}
			if !errors.Is(tc.dialErr, context.Canceled) || tc.conn != nil {
				t.Fatalf("Dial = %v, %v; want nil, context.Canceled", tc.conn, tc.dialErr)
			}
			f, ok := tc.wantFrameType("the server is told", packet.FrameConnectionClose).(packet.ConnectionCloseFrame)
			if !ok || tc.lastPkt.kind != kindInitial || f.Application || f.ErrorCode != uint64(packet.NoError) {
				t.Fatalf("got %v in a %v packet, want CONNECTION_CLOSE(NO_ERROR) in an Initial", formatFrame(f), tc.lastPkt.kind)
			}
			// A server drops client Initials in smaller datagrams
			// (docs/PROTOCOL.md section 2), and with them the close.
			if tc.lastDgram.size != packet.MinInitialDatagramSize {
				t.Fatalf("the close went in a %d-byte datagram, want %d", tc.lastDgram.size, packet.MinInitialDatagramSize)
			}
		})
	})
	t.Run("server refuses", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tc := startTestConn(t, clientSide)
			tc.wantClientHello("Dial sends message 1")
			tc.writeInitialFrames(packet.ConnectionCloseFrame{ErrorCode: uint64(packet.ConnectionRefused), Reason: []byte("client key not allowed")})
			if !tc.dialReturned() {
				t.Fatal("Dial has not returned after the server closed (no time passed)")
			}
			var ce *TransportError
			if !errors.As(tc.dialErr, &ce) || !ce.Remote || ce.Code != packet.ConnectionRefused || ce.Reason != "client key not allowed" {
				t.Fatalf("Dial error = %v, want the server's CONNECTION_REFUSED with its reason", tc.dialErr)
			}
			tc.wantIdle("a client draining after the server's close sends nothing")
		})
	})
}

// TestPeerServerHearsClientInitialClose: a client that gives up after
// message 2 went out closes in an Initial, which ends the server's half of
// the handshake: a copy of message 1 arriving after it gets no message 2.
// The close must come in a datagram of 1200 bytes or more, as every client
// Initial does; a shorter one is dropped unread, and the handshake goes on.
func TestPeerServerHearsClientInitialClose(t *testing.T) {
	for _, tt := range []struct {
		name     string
		padTo    int  // the close's datagram size; 0: no close at all
		answered bool // whether the copy of message 1 gets message 2 again
	}{
		{"no close", 0, true},
		{"close in 1200 bytes", packet.MinInitialDatagramSize, false},
		{"close in a short datagram", 1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tc := startTestConn(t, serverSide)
				tc.writeClientHello()
				tc.wantServerHello("the server answers message 1")
				tc.discardUnread()
				if tt.padTo > 0 {
					tc.writeDatagram(tc.sealInitial([]packet.Frame{packet.ConnectionCloseFrame{ErrorCode: uint64(packet.NoError)}}, tt.padTo))
				}
				tc.writeClientHello() // a copy of message 1
				if tt.answered {
					tc.wantServerHello("the handshake goes on: the copy of message 1 is answered")
					return
				}
				tc.wantIdle("the server, closed by the client, answers nothing")
			})
		})
	}
}
