package transport

import (
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// TestPeerStreamCancelWrite: CancelWrite sends RESET_STREAM with the code
// and the final size, the bytes sent so far (RFC 9000 §19.4); after it no
// STREAM frame for the stream goes out, not even when the earlier data is
// never acknowledged and the PTO fires; Write fails with a local
// *StreamError.
func TestPeerStreamCancelWrite(t *testing.T) {
	tests := []struct {
		desc  string
		write string
	}{
		{desc: "after data was sent", write: "0123456789"},
		{desc: "before any data was sent", write: ""},
	}
	for _, test := range tests {
		t.Run(test.desc, func(t *testing.T) {
			forBothSides(t, func(t *testing.T, side connSide) {
				tc := newTestConn(t, side)
				tc.ignoreFrame(packet.FrameAck)
				tc.ignoreFrame(packet.FramePing)
				s := tc.openStream(true)
				id := tc.connStreamID(0, true)
				if test.write != "" {
					if _, err := s.Write([]byte(test.write)); err != nil {
						t.Fatalf("Write: %v", err)
					}
					tc.wantFrame("the data goes out", packet.StreamFrame{StreamID: id, Data: []byte(test.write)})
				}
				s.CancelWrite(5)
				tc.wantFrame("CancelWrite sends RESET_STREAM with the final size",
					packet.ResetStreamFrame{StreamID: id, ErrorCode: 5, FinalSize: int64(len(test.write))})
				tc.wantNoFrame("one RESET_STREAM")

				_, err := s.Write([]byte("more"))
				var se *StreamError
				if !errors.As(err, &se) || se.Code != 5 || se.Remote || se.StreamID != id {
					t.Fatalf("Write after CancelWrite = %v, want a local *StreamError with code 5", err)
				}
				tc.wantNoFrame("a write after CancelWrite sends nothing")

				// Nothing was acknowledged: the PTO fires. Probes may repeat
				// RESET_STREAM but never the abandoned data.
				for i := 0; i < 3; i++ {
					tc.advanceToTimer()
					for {
						f, ok := tc.readFrame()
						if !ok {
							break
						}
						if f.Type().IsStream() {
							t.Fatalf("BUG: after RESET_STREAM the %v sent %s (RFC 9000 §3.1: no STREAM frames after RESET_STREAM)", side, formatFrame(f))
						}
						if !framesEqual(f, packet.ResetStreamFrame{StreamID: id, ErrorCode: 5, FinalSize: int64(len(test.write))}) {
							t.Fatalf("after RESET_STREAM: got %s, want only PING, ACK or the same RESET_STREAM", formatFrame(f))
						}
					}
				}
			})
		})
	}
}

// TestPeerStreamCancelRead: CancelRead sends STOP_SENDING with the code
// (RFC 9000 §19.5), stops delivery receipts for the stream, and makes Read
// fail with a local *StreamError.
func TestPeerStreamCancelRead(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side)
		tc.ignoreFrame(packet.FrameAck)
		tc.ignoreFrame(packet.FrameMaxData) // the discarded bytes return connection credit
		id := tc.peerStreamID(0, true)
		tc.writeFrames(packet.StreamFrame{StreamID: id, Data: []byte("abc")})
		s := tc.acceptStream(true)
		s.CancelRead(6)
		tc.wantFrame("CancelRead sends STOP_SENDING", packet.StopSendingFrame{StreamID: id, ErrorCode: 6})
		tc.wantNoFrame("no CONSUMED for discarded data")
		_, err := s.Read(make([]byte, 8))
		var se *StreamError
		if !errors.As(err, &se) || se.Code != 6 || se.Remote || se.StreamID != id {
			t.Fatalf("Read after CancelRead = %v, want a local *StreamError with code 6", err)
		}
		tc.writeFrames(packet.StreamFrame{StreamID: id, Offset: 3, Data: []byte("def")})
		tc.wantNoFrame("data arriving after CancelRead is dropped without a receipt")
	})
}

// TestPeerStreamResetByPeer: the peer's RESET_STREAM wakes a blocked Read,
// which returns a *StreamError with Remote set and the peer's code.
func TestPeerStreamResetByPeer(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side)
		id := tc.peerStreamID(0, true)
		tc.writeFrames(packet.StreamFrame{StreamID: id, Data: []byte("abc")})
		s := tc.acceptStream(true)
		buf := make([]byte, 8)
		if n, err := s.Read(buf); err != nil || string(buf[:n]) != "abc" {
			t.Fatalf("Read = %q, %v; want \"abc\", nil", buf[:n], err)
		}
		readErr := make(chan error, 1)
		go func() {
			_, err := s.Read(buf)
			readErr <- err
		}()
		tc.wait()
		tc.writeFrames(packet.ResetStreamFrame{StreamID: id, ErrorCode: 9, FinalSize: 3})
		want := &StreamError{StreamID: id, Code: 9, Remote: true}
		select {
		case err := <-readErr:
			var se *StreamError
			if !errors.As(err, &se) || !reflect.DeepEqual(se, want) {
				t.Fatalf("Read after RESET_STREAM = %#v, want %#v", err, want)
			}
		default:
			t.Fatalf("a blocked Read did not return after RESET_STREAM")
		}
		tc.wantConnOpen("a stream reset does not end the connection")
	})
}

// TestPeerStreamConsumed: CONSUMED (docs/PROTOCOL.md section 7) is sent only
// once the application has read, with the offset read so far, and for the
// end of the stream once the application reads up to the FIN. A receipt
// that nothing else answers at once (no new credit, not the last byte)
// waits up to max_ack_delay for a packet to ride with.
func TestPeerStreamConsumed(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side)
		tc.ignoreFrame(packet.FrameAck)
		tc.ignoreFrame(packet.FrameMaxData)
		tc.ignoreFrame(packet.FrameMaxStreamData)
		id := tc.peerStreamID(0, true)
		tc.writeFrames(packet.StreamFrame{StreamID: id, Data: []byte("hello")})
		s := tc.acceptStream(true)
		tc.wantNoFrame("no receipt before the application reads")

		buf := make([]byte, 2)
		if _, err := io.ReadFull(s, buf); err != nil {
			t.Fatalf("Read: %v", err)
		}
		tc.wantFrame("a receipt for the 2 bytes read", packet.ConsumedFrame{StreamID: id, Offset: 2})
		tc.wantNoFrame("one receipt per read")
		buf = make([]byte, 3)
		if _, err := io.ReadFull(s, buf); err != nil {
			t.Fatalf("Read: %v", err)
		}
		readAt := time.Now()
		tc.wantNoFrame("a receipt alone waits for a packet to ride with")
		// An eighth of the smoothed RTT, at least 1 ms (conn_receipts.go).
		wait := max(tc.conn.Stats().SmoothedRTT/8, time.Millisecond)
		tc.advanceTo(readAt.Add(wait - time.Nanosecond))
		tc.wantNoFrame("a receipt alone waits up to an eighth of the RTT")
		tc.advanceTo(readAt.Add(wait))
		tc.wantFrame("a receipt for all 5 bytes", packet.ConsumedFrame{StreamID: id, Offset: 5})

		tc.writeFrames(packet.StreamFrame{StreamID: id, Offset: 5, Data: []byte("!"), Fin: true})
		tc.wantNoFrame("no receipt for unread data, FIN or not")
		rest, err := io.ReadAll(s)
		if err != nil || string(rest) != "!" {
			t.Fatalf("ReadAll = %q, %v; want \"!\", nil", rest, err)
		}
		tc.wantFrame("a final receipt for the whole stream", packet.ConsumedFrame{StreamID: id, Offset: 6})
		tc.wantNoFrame("one final receipt")
	})
}

// readWithWaitingReceipt has the peer open a stream with 12 bytes and the
// application read 2 of them, whose receipt goes at once (the first read
// starts the window's epoch), and then 2 more, whose receipt waits. It
// returns the stream's ID.
func readWithWaitingReceipt(t *testing.T, tc *testConn) packet.StreamID {
	t.Helper()
	tc.ignoreFrame(packet.FrameMaxData)
	tc.ignoreFrame(packet.FrameMaxStreamData)
	id := tc.peerStreamID(0, true)
	tc.writeFrames(packet.StreamFrame{StreamID: id, Data: []byte("hello, world")})
	s := tc.acceptStream(true)
	buf := make([]byte, 2)
	if _, err := io.ReadFull(s, buf); err != nil {
		t.Fatalf("Read: %v", err)
	}
	tc.wantFrame("the first read's receipt goes at once", packet.ConsumedFrame{StreamID: id, Offset: 2})
	for { // and the ACK with it
		if _, ok := tc.readFrame(); !ok {
			break
		}
	}
	if _, err := io.ReadFull(s, buf); err != nil {
		t.Fatalf("Read: %v", err)
	}
	tc.wantIdle("the second receipt waits")
	return id
}

// TestPeerStreamReceiptRidesWithAck: a waiting receipt goes in the packet
// of the next ACK (docs/PROTOCOL.md section 7).
func TestPeerStreamReceiptRidesWithAck(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side)
		id := readWithWaitingReceipt(t, tc)
		pn := tc.peerPN
		tc.writeFrames(packet.PingFrame{})
		tc.writeFrames(packet.PingFrame{})
		tc.wantFrame("two packets make the ACK due, and the receipt rides with it", packet.ConsumedFrame{StreamID: id, Offset: 4})
		tc.wantAck("the ACK", pn, pn+1)
		tc.wantSentAtOnce()
		tc.wantIdle("one packet")
	})
}

// TestPeerStreamReceiptBeforeClose: a receipt still waiting for a packet to
// ride with goes before the CONNECTION_CLOSE of a local Close, so that the
// peer's DeliveryError counts every byte the application read.
func TestPeerStreamReceiptBeforeClose(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side)
		id := readWithWaitingReceipt(t, tc)
		tc.ignoreFrame(packet.FrameAck)
		tc.conn.Close()
		tc.wantFrame("the waiting receipt goes before the close", packet.ConsumedFrame{StreamID: id, Offset: 4})
		tc.wantFrameType("then the close", packet.FrameConnectionClose)
	})
}
