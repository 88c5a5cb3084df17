package transport

import (
	"errors"
	"io"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// TestPeerCloseWithError: CloseWithError sends CONNECTION_CLOSE of type
// 0x1d with the application's code and reason (RFC 9000 §10.2), sends
// nothing else, answers the peer's further packets with the same frame at
// most once per RTT while closing (§10.2.1), and ends with a local
// *ApplicationError carrying the code, which matches net.ErrClosed.
func TestPeerCloseWithError(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side)
		s := tc.openStream(true)
		want := packet.ConnectionCloseFrame{Application: true, ErrorCode: 0x42, Reason: []byte("bye now")}
		if err := tc.conn.CloseWithError(0x42, "bye now"); err != nil {
			t.Fatalf("CloseWithError: %v", err)
		}
		tc.wantFrame("CloseWithError sends an application CONNECTION_CLOSE", want)
		if ft := tc.lastPkt.frames[0].Type(); ft != packet.FrameConnectionCloseApp || tc.lastPkt.kind != kind1RTT {
			t.Fatalf("close sent as frame type %#x in a %v packet, want 0x1d in a 1-RTT packet", uint64(ft), tc.lastPkt.kind)
		}
		tc.wantIdle("CONNECTION_CLOSE is the last thing sent")
		if _, err := s.Write([]byte("late")); err == nil {
			t.Fatalf("Write after CloseWithError succeeded")
		}
		tc.wantIdle("a write after close sends nothing")

		tc.advance(testRTT)
		tc.writeFrames(packet.PingFrame{})
		tc.wantFrame("a packet during the closing period is answered with the close again", want)
		tc.writeFrames(packet.PingFrame{})
		tc.wantIdle("at most one answer per RTT")

		tc.advance(time.Second)
		err := tc.wantConnDone("after the closing period")
		wantErr := &ApplicationError{Code: 0x42, Reason: "bye now"}
		var ce *ApplicationError
		if !errors.As(err, &ce) || !reflect.DeepEqual(ce, wantErr) {
			t.Fatalf("Err() = %#v, want %#v", err, wantErr)
		}
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("errors.Is(%v, net.ErrClosed) = false, want true after a local close", err)
		}
		tc.writeFrames(packet.PingFrame{})
		tc.wantIdle("a closed connection answers nothing")
	})
}

// TestPeerCloseFromPeer: the peer's CONNECTION_CLOSE puts the Conn in the
// draining state (RFC 9000 §10.2.2): it sends nothing more, not even to
// packets that still arrive, blocked stream calls fail at once with the
// peer's error, and Err reports it, with Remote set.
func TestPeerCloseFromPeer(t *testing.T) {
	tests := []struct {
		desc  string
		frame packet.ConnectionCloseFrame
		want  error
	}{{
		desc:  "application close",
		frame: packet.ConnectionCloseFrame{Application: true, ErrorCode: 7, Reason: []byte("done here")},
		want:  &ApplicationError{Code: 7, Reason: "done here", Remote: true},
	}, {
		desc:  "transport close",
		frame: packet.ConnectionCloseFrame{ErrorCode: uint64(packet.InternalError), FrameType: packet.FrameStream, Reason: []byte("oops")},
		want:  &TransportError{Code: packet.InternalError, FrameType: packet.FrameStream, Reason: "oops", Remote: true},
	}}
	for _, test := range tests {
		t.Run(test.desc, func(t *testing.T) {
			forBothSides(t, func(t *testing.T, side connSide) {
				tc := newTestConn(t, side)
				id := tc.peerStreamID(0, true)
				tc.writeFrames(packet.StreamFrame{StreamID: id, Data: []byte("x")})
				s := tc.acceptStream(true)
				if _, err := io.ReadFull(s, make([]byte, 1)); err != nil {
					t.Fatalf("Read: %v", err)
				}
				for tc.readDatagram() != nil { // ACK, CONSUMED
				}
				readErr := make(chan error, 1)
				go func() {
					_, err := s.Read(make([]byte, 1))
					readErr <- err
				}()
				tc.wait()

				tc.writeFrames(test.frame)
				tc.wantIdle("a draining connection sends nothing")
				select {
				case err := <-readErr:
					if !reflect.DeepEqual(err, test.want) || errors.Is(err, net.ErrClosed) {
						t.Fatalf("blocked Read returned %#v, want %#v (not net.ErrClosed: the peer closed)", err, test.want)
					}
				default:
					t.Fatalf("a blocked Read did not return when the peer closed")
				}
				tc.writeFrames(packet.PingFrame{})
				tc.writeFrames(packet.PingFrame{})
				tc.wantIdle("packets during draining are not answered, not even acknowledged")

				tc.advance(time.Second)
				err := tc.wantConnDone("after the draining period")
				if !reflect.DeepEqual(err, test.want) {
					t.Fatalf("Err() = %#v, want %#v", err, test.want)
				}
				tc.wantIdle("nothing after the end either")
			})
		})
	}
}
