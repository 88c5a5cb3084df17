package transport

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// receivingConn is a connection whose peer will send on its first
// bidirectional stream (id), with ACK and credit frames left unchecked.
func receivingConn(t *testing.T, side connSide) (*testConn, packet.StreamID) {
	tc := newTestConn(t, side)
	tc.ignoreFrame(packet.FrameAck)
	tc.ignoreFrame(packet.FrameMaxData)
	tc.ignoreFrame(packet.FrameMaxStreamData)
	return tc, tc.peerStreamID(0, true)
}

// copyTestData is n bytes of a pattern with no zero byte.
func copyTestData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i%251) + 1
	}
	return b
}

// TestPeerStreamWriteTo: io.Copy from a stream writes what the peer sent,
// in order and byte-exact, from the stream's buffer, and answers the reads
// as Read does: a final receipt for the whole stream once it is all written.
func TestPeerStreamWriteTo(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc, id := receivingConn(t, side)
		data := copyTestData(5000)
		frame := func(off int, fin bool) packet.StreamFrame {
			return packet.StreamFrame{StreamID: id, Offset: int64(off), Data: data[off : off+1000], Fin: fin}
		}
		// Out of order: the end (with the FIN) first, then the start.
		tc.writeFrames(frame(3000, false))
		tc.writeFrames(frame(4000, true))
		tc.writeFrames(frame(0, false))
		s := tc.acceptStream(true)
		done := make(chan struct{})
		var got bytes.Buffer
		var n int64
		var err error
		go func() {
			n, err = io.Copy(&got, s)
			close(done)
		}()
		tc.wait()
		if got.Len() != 1000 {
			t.Fatalf("before the gap is filled WriteTo wrote %d bytes, want 1000", got.Len())
		}
		tc.writeFrames(frame(1000, false))
		tc.writeFrames(frame(2000, false))
		<-done
		if err != nil || n != int64(len(data)) || !bytes.Equal(got.Bytes(), data) {
			t.Fatalf("io.Copy = %d, %v (%d bytes, equal %v); want %d, nil, the data", n, err, got.Len(), bytes.Equal(got.Bytes(), data), len(data))
		}
		// Receipts ride with ACKs (one may have gone for the first 1000
		// bytes); the last one covers the whole stream.
		last := int64(-1)
		for {
			f, ok := tc.readFrame()
			if !ok {
				break
			}
			if c, ok := f.(packet.ConsumedFrame); ok {
				if c.StreamID != id || c.Offset <= last {
					t.Fatalf("receipt %s after one for %d", formatFrame(f), last)
				}
				last = c.Offset
			}
		}
		if last != int64(len(data)) {
			t.Fatalf("the last receipt covers %d bytes, want %d", last, len(data))
		}
		if m, err := s.WriteTo(&got); m != 0 || err != nil {
			t.Fatalf("WriteTo after the end = %d, %v; want 0, nil", m, err)
		}
	})
}

// shortWriter takes at most max bytes per call and fails after limit.
type shortWriter struct {
	max, limit int
	got        []byte
}

var errWriterFull = errors.New("writer full")

func (w *shortWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.max, w.limit-len(w.got))
	w.got = append(w.got, p[:n]...)
	if len(w.got) == w.limit {
		return n, errWriterFull
	}
	return n, nil
}

// TestPeerStreamWriteToErrors: WriteTo stops at the writer's error or short
// write, having counted exactly what the writer took (a later Read goes on
// from there), and returns a reset's *StreamError.
func TestPeerStreamWriteToErrors(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc, id := receivingConn(t, side)
		tc.ignoreFrame(packet.FrameConsumed)
		tc.writeFrames(packet.StreamFrame{StreamID: id, Data: []byte("0123456789")})
		s := tc.acceptStream(true)

		w := &shortWriter{max: 100, limit: 4}
		if n, err := s.WriteTo(w); n != 4 || !errors.Is(err, errWriterFull) || string(w.got) != "0123" {
			t.Fatalf("WriteTo into a writer that fails after 4 bytes = %d, %v (%q); want 4, its error", n, err, w.got)
		}
		w = &shortWriter{max: 0, limit: 100} // takes nothing and says nothing: a short write
		if n, err := s.WriteTo(w); n != 0 || !errors.Is(err, io.ErrShortWrite) {
			t.Fatalf("WriteTo into a writer taking nothing = %d, %v; want 0, io.ErrShortWrite", n, err)
		}
		rest := make([]byte, 6)
		if _, err := io.ReadFull(s, rest); err != nil || string(rest) != "456789" {
			t.Fatalf("Read after the failed WriteTo = %q, %v; want \"456789\"", rest, err)
		}

		tc.writeFrames(packet.ResetStreamFrame{StreamID: id, ErrorCode: 9, FinalSize: 20})
		_, err := s.WriteTo(io.Discard)
		var se *StreamError
		if !errors.As(err, &se) || se.Code != 9 || !se.Remote {
			t.Fatalf("WriteTo after the peer's reset = %v, want its *StreamError with code 9", err)
		}
	})
}

// onlyReader hides a reader's WriteTo, so that io.Copy uses the
// destination's ReadFrom.
type onlyReader struct{ io.Reader }

// TestPeerStreamReadFrom: io.Copy into a stream sends every byte of the
// source, in order.
func TestPeerStreamReadFrom(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side)
		tc.ignoreFrame(packet.FrameAck)
		s := tc.openStream(true)
		data := copyTestData(3000)
		n, err := io.Copy(s, onlyReader{bytes.NewReader(data)})
		if err != nil || n != int64(len(data)) {
			t.Fatalf("io.Copy = %d, %v; want %d, nil", n, err, len(data))
		}
		s.CloseWrite()
		tc.wait()
		var sent []byte
		for {
			f, ok := tc.readFrame()
			if !ok {
				break
			}
			if sf, ok := f.(packet.StreamFrame); ok {
				if sf.Offset != int64(len(sent)) {
					t.Fatalf("STREAM frame at %d, want %d", sf.Offset, len(sent))
				}
				sent = append(sent, sf.Data...)
			}
		}
		if !bytes.Equal(sent, data) {
			t.Fatalf("the peer got %d bytes, not the %d written", len(sent), len(data))
		}
	})
}

// blockingWriter holds its first Write until release is closed, then
// takes what p holds at that moment; later Writes go through.
type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
	got     []byte
	held    bool
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	if !w.held {
		w.held = true
		close(w.entered)
		<-w.release
	}
	w.got = append(w.got, p...)
	return len(p), nil
}

// TestPeerStreamWriteToCloseReadDuringWrite: CloseRead while WriteTo's
// writer holds a view of the receive buffer, with more data arriving that
// would land on the view's slots were the unread bytes discarded at once:
// the writer still sees exactly the bytes it was given, WriteTo then
// fails with ErrStreamClosed, and STOP_SENDING goes after a receipt for
// what the writer took.
func TestPeerStreamWriteToCloseReadDuringWrite(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc, id := receivingConn(t, side)
		data := copyTestData(5000)
		tc.writeFrames(packet.StreamFrame{StreamID: id, Data: data[:1000]})
		s := tc.acceptStream(true)
		w := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
		done := make(chan error, 1)
		go func() {
			_, err := s.WriteTo(w)
			done <- err
		}()
		<-w.entered
		s.CloseRead()
		for off := 1000; off < len(data); off += 1000 {
			tc.writeFrames(packet.StreamFrame{StreamID: id, Offset: int64(off), Data: data[off : off+1000]})
		}
		close(w.release)
		if err := <-done; !errors.Is(err, ErrStreamClosed) {
			t.Fatalf("WriteTo after CloseRead = %v, want ErrStreamClosed", err)
		}
		if !bytes.Equal(w.got, data[:1000]) {
			t.Fatalf("the writer's view changed while it held it: got %d bytes, equal %v", len(w.got), bytes.Equal(w.got, data[:1000]))
		}
		tc.wantFrame("a receipt for what the writer took", packet.ConsumedFrame{StreamID: id, Offset: 1000})
		tc.wantFrame("then STOP_SENDING", packet.StopSendingFrame{StreamID: id, ErrorCode: 0})
	})
}

// TestPeerStreamEndRetires: a stream is forgotten once the application has
// seen its end, with Read or with WriteTo: an empty one with a FIN, and one
// the peer reset (whose slot the peer gets back).
func TestPeerStreamEndRetires(t *testing.T) {
	for _, useWriteTo := range []bool{false, true} {
		t.Run(map[bool]string{false: "Read", true: "WriteTo"}[useWriteTo], func(t *testing.T) {
			forBothSides(t, func(t *testing.T, side connSide) {
				tc := newTestConn(t, side)
				tc.ignoreFrame(packet.FrameAck)
				for n, f := range []packet.Frame{
					packet.StreamFrame{StreamID: tc.peerStreamID(0, false), Fin: true},
					packet.ResetStreamFrame{StreamID: tc.peerStreamID(1, false), ErrorCode: 3, FinalSize: 10},
				} {
					tc.writeFrames(f)
					s := tc.acceptStream(false)
					var err error
					if useWriteTo {
						var written int64
						written, err = s.WriteTo(io.Discard)
						if n == 0 && (written != 0 || err != nil) {
							t.Fatalf("WriteTo of an empty stream = %d, %v; want 0, nil", written, err)
						}
					} else {
						var got int
						got, err = s.Read(make([]byte, 10))
						if n == 0 && (got != 0 || err != io.EOF) {
							t.Fatalf("Read of an empty stream = %d, %v; want 0, io.EOF", got, err)
						}
					}
					var se *StreamError
					if n == 1 && (!errors.As(err, &se) || se.Code != 3) {
						t.Fatalf("reading a reset stream: %v, want its *StreamError", err)
					}
					tc.wait()
					tc.conn.streams.mu.Lock()
					_, kept := tc.conn.streams.byID[s.StreamID()]
					tc.conn.streams.mu.Unlock()
					if kept {
						t.Fatalf("stream %d is still held after the application saw its end", s.StreamID())
					}
				}
			})
		})
	}
}

// TestPeerStreamReadDuringWriteTo: a Read while WriteTo's writer holds a
// view waits for it as for data, and its deadline still ends the wait on
// time; once the writer is done, the Read gets the bytes after the view.
func TestPeerStreamReadDuringWriteTo(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side)
		tc.ignoreFrame(packet.FrameAck)
		id := tc.peerStreamID(0, true)
		tc.writeFrames(packet.StreamFrame{StreamID: id, Data: []byte("first")})
		s := tc.acceptStream(true)
		w := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
		go s.WriteTo(w)
		<-w.entered
		tc.writeFrames(packet.StreamFrame{StreamID: id, Offset: 5, Data: []byte("second")})
		start := time.Now()
		s.SetReadDeadline(start.Add(10 * time.Millisecond))
		if n, err := s.Read(make([]byte, 10)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) != 10*time.Millisecond {
			t.Fatalf("Read while a view is out = %d, %v after %v; want 0 and the deadline after 10ms", n, err, time.Since(start))
		}
		s.SetReadDeadline(time.Time{}) // the deadline is the stream's: WriteTo would stop too
		close(w.release)
		tc.wait()
		if string(w.got) != "firstsecond" {
			t.Fatalf("WriteTo wrote %q, want \"firstsecond\"", w.got)
		}
	})
}
