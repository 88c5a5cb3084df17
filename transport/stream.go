package transport

import (
	"context"
	"io"
	"net"
	"sync"
	"time"

	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/streams"
	"github.com/limpetnet/limpet/transport/internal/deadline"
)

// Stream is one ordered byte stream of a connection. It implements net.Conn:
// Close half-closes (sends FIN after the buffered data) and leaves the read
// side open until the peer finishes. Read and Write may be called from
// different goroutines at once.
//
// Beyond net.Conn, a Stream reports delivery receipts: Consumed is how many
// bytes the peer application has read, and WaitConsumed blocks until a given
// number has been.
type Stream struct {
	c  *Conn
	id packet.StreamID

	// mu guards send, recv and the error fields. The connection loop holds it
	// only for the duration of one call into send or recv.
	mu      sync.Mutex
	send    *streams.SendStream // nil on a receive-only stream
	recv    *streams.RecvStream // nil on a send-only stream
	sendErr error               // why writes fail; nil while they may succeed
	recvErr error               // why reads fail (after buffered data is read)
	// consumedCh is closed, and replaced, whenever PeerConsumed grows or the
	// stream fails, waking WaitConsumed callers.
	consumedCh chan struct{}

	readable chan struct{} // one-slot signal: data, FIN or an error arrived
	writable chan struct{} // one-slot signal: buffer space freed or an error

	readDeadline  *deadline.Deadline
	writeDeadline *deadline.Deadline

	// flushTo is the offset up to which the application asked for
	// immediate sending (guarded by mu).
	flushTo int64

	// Owned by the connection loop.
	queuedCtrl bool      // in the loop's list of streams with control frames due
	finished   bool      // both directions done and accounted for
	heldSince  time.Time // when coalescing started holding a partial packet
}

func newStream(c *Conn, id packet.StreamID, send *streams.SendStream, recv *streams.RecvStream) *Stream {
	return &Stream{
		c: c, id: id, send: send, recv: recv,
		consumedCh:    make(chan struct{}),
		readable:      make(chan struct{}, 1),
		writable:      make(chan struct{}, 1),
		readDeadline:  deadline.New(),
		writeDeadline: deadline.New(),
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// StreamID is the stream's ID (docs/PROTOCOL.md section 5, "Stream IDs").
func (s *Stream) StreamID() packet.StreamID { return s.id }

// Read reads data in order. It returns io.EOF after the peer's FIN, a
// *StreamError after a reset, and the connection's error if it failed.
func (s *Stream) Read(p []byte) (int, error) {
	if s.recv == nil {
		return 0, &StreamError{StreamID: s.id, Code: 0, Remote: false}
	}
	for {
		s.mu.Lock()
		n, fin := s.recv.Read(p)
		err := s.recvErr
		s.mu.Unlock()
		if n > 0 {
			s.c.onRead(s, n)
			if fin {
				return n, io.EOF
			}
			return n, nil
		}
		if fin {
			return 0, io.EOF
		}
		if err != nil {
			return 0, err
		}
		if len(p) == 0 {
			return 0, nil
		}
		select {
		case <-s.readable:
		case <-s.readDeadline.Wait():
			return 0, errDeadline
		}
	}
}

// Write queues p for sending, blocking while the send buffer is full.
func (s *Stream) Write(p []byte) (int, error) {
	if s.send == nil {
		return 0, ErrStreamClosed
	}
	written := 0
	for {
		s.mu.Lock()
		if s.sendErr != nil {
			err := s.deliveryErrorLocked(s.sendErr)
			s.mu.Unlock()
			return written, err
		}
		if s.send.Closed() {
			s.mu.Unlock()
			return written, ErrStreamClosed
		}
		n := s.send.Write(p[written:])
		s.mu.Unlock()
		if n > 0 {
			written += n
			s.c.onWrite(s)
		}
		if written == len(p) {
			return written, nil
		}
		select {
		case <-s.writable:
		case <-s.writeDeadline.Wait():
			return written, errDeadline
		}
	}
}

// Flush sends everything written so far without waiting to coalesce it
// with later writes. It does not wait for delivery.
func (s *Stream) Flush() error {
	if s.send == nil {
		return nil
	}
	s.mu.Lock()
	if s.sendErr != nil {
		err := s.deliveryErrorLocked(s.sendErr)
		s.mu.Unlock()
		return err
	}
	s.flushTo = s.send.Written()
	s.mu.Unlock()
	s.c.onWrite(s)
	return nil
}

// Close half-closes the stream: a FIN follows the data already written. It
// does not wait for delivery; use WaitConsumed for that.
func (s *Stream) Close() error {
	if s.send == nil {
		return nil
	}
	s.mu.Lock()
	if s.sendErr != nil || s.send.Closed() {
		s.mu.Unlock()
		return nil
	}
	s.send.Close()
	s.mu.Unlock()
	s.c.onWrite(s)
	return nil
}

// CancelWrite abandons sending: the peer gets RESET_STREAM with code, and
// data not yet delivered is discarded.
func (s *Stream) CancelWrite(code ApplicationErrorCode) {
	if s.send == nil {
		return
	}
	s.mu.Lock()
	if s.send.Reset(uint64(code)) && s.sendErr == nil {
		s.sendErr = &StreamError{StreamID: s.id, Code: code}
	}
	s.mu.Unlock()
	signal(s.writable)
	s.c.onControl(s)
}

// CancelRead tells the peer to stop sending (STOP_SENDING with code) and
// discards unread data.
func (s *Stream) CancelRead(code ApplicationErrorCode) {
	if s.recv == nil {
		return
	}
	s.mu.Lock()
	discarded := s.recv.StopSending(uint64(code))
	if s.recvErr == nil {
		s.recvErr = &StreamError{StreamID: s.id, Code: code}
	}
	s.mu.Unlock()
	signal(s.readable)
	s.c.onDiscard(s, discarded)
}

// Consumed is how many bytes of this stream the peer application has read,
// as reported by its delivery receipts (docs/PROTOCOL.md, "Delivery receipts").
func (s *Stream) Consumed() int64 {
	if s.send == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.send.PeerConsumed()
}

// WaitConsumed blocks until the peer application has read at least n bytes of
// the stream. If the stream or connection fails first it returns a
// *DeliveryError saying how far the data got.
func (s *Stream) WaitConsumed(ctx context.Context, n int64) error {
	if s.send == nil {
		return ErrStreamClosed
	}
	for {
		s.mu.Lock()
		if s.send.PeerConsumed() >= n {
			s.mu.Unlock()
			return nil
		}
		if s.sendErr != nil {
			err := s.deliveryErrorLocked(s.sendErr)
			s.mu.Unlock()
			return err
		}
		ch := s.consumedCh
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// deliveryErrorLocked wraps cause with the stream's delivery counters.
func (s *Stream) deliveryErrorLocked(cause error) error {
	if _, ok := cause.(*DeliveryError); ok {
		return cause
	}
	return &DeliveryError{
		Err:      cause,
		Sent:     s.send.BytesSent(),
		Acked:    s.send.BytesAcked(),
		Consumed: s.send.PeerConsumed(),
	}
}

// wakeConsumedLocked wakes WaitConsumed callers.
func (s *Stream) wakeConsumedLocked() {
	close(s.consumedCh)
	s.consumedCh = make(chan struct{})
}

// fail ends both directions with err (connection failure). Buffered data
// already received stays readable.
func (s *Stream) fail(err error) {
	s.mu.Lock()
	if s.sendErr == nil && s.send != nil {
		s.sendErr = err
	}
	if s.recvErr == nil {
		s.recvErr = err
	}
	s.wakeConsumedLocked()
	s.mu.Unlock()
	signal(s.readable)
	signal(s.writable)
	s.readDeadline.Stop()
	s.writeDeadline.Stop()
}

// LocalAddr is the connection's local UDP address.
func (s *Stream) LocalAddr() net.Addr { return s.c.LocalAddr() }

// RemoteAddr is the peer's current UDP address (it changes on migration).
func (s *Stream) RemoteAddr() net.Addr { return s.c.RemoteAddr() }

// SetDeadline sets both the read and write deadlines.
func (s *Stream) SetDeadline(t time.Time) error {
	s.readDeadline.Set(t)
	s.writeDeadline.Set(t)
	return nil
}

// SetReadDeadline makes a blocked or future Read fail with an error wrapping
// os.ErrDeadlineExceeded once t passes.
func (s *Stream) SetReadDeadline(t time.Time) error { s.readDeadline.Set(t); return nil }

// SetWriteDeadline does the same for Write.
func (s *Stream) SetWriteDeadline(t time.Time) error { s.writeDeadline.Set(t); return nil }

var _ net.Conn = (*Stream)(nil)
