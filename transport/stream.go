package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/limpetnet/limpet/streams"
	"github.com/limpetnet/limpet/transport/internal/deadline"
)

// Stream is one ordered byte stream of a connection. It is a net.Conn:
// Close closes both directions, CloseWrite and CloseRead one each, and
// deadlines apply before any progress. Read and Write may be called from
// different goroutines at once.
//
// Beyond net.Conn, a Stream reports delivery receipts: Consumed is how many
// bytes the peer application has read, and WaitConsumed blocks until a given
// number has been.
type Stream struct {
	c  *Conn
	id StreamID

	// mu guards send, recv and the fields below it. The connection loop
	// holds it only for the duration of one call into send or recv.
	mu      sync.Mutex
	send    *streams.SendStream // nil on a receive-only stream
	recv    *streams.RecvStream // nil on a send-only stream
	sendErr error               // why writes fail; nil while they may succeed
	recvErr error               // why reads fail (after buffered data is read)
	// readClosed and writeClosed record the application's Close,
	// CloseRead and CloseWrite: reads and writes after them fail with
	// ErrStreamClosed.
	readClosed, writeClosed bool
	// viewOut: WriteTo is writing a view of the receive buffer; other
	// Reads and WriteTos wait for it as for data. A StopSending meanwhile
	// would move the read offset past bytes the view shows, and new data
	// could land on them, so CloseRead and CancelRead leave it to WriteTo
	// (stopDeferred, with stopCode).
	viewOut, stopDeferred bool
	stopCode              ApplicationErrorCode
	// consumedCh is closed whenever PeerConsumed grows or the stream
	// fails, waking WaitConsumed callers; nil while no one waits, so that
	// receipts cost no allocation.
	consumedCh chan struct{}

	readable chan struct{} // one-slot signal: data, FIN, an error or a close
	writable chan struct{} // one-slot signal: buffer space freed, an error or a close

	readDeadline  *deadline.Deadline
	writeDeadline *deadline.Deadline

	// flushTo is the offset up to which the application asked for
	// immediate sending.
	flushTo int64

	// Owned by the connection loop.
	queuedCtrl bool // in the loop's list of streams with control frames due
	// queuedReceipt: in the loop's list of streams whose receipt waits to
	// ride with an ACK (conn_receipts.go)
	queuedReceipt bool
	finished      bool      // both directions done and accounted for
	heldSince     time.Time // when coalescing started holding a partial packet
}

func newStream(c *Conn, id StreamID, send *streams.SendStream, recv *streams.RecvStream) *Stream {
	return &Stream{
		c: c, id: id, send: send, recv: recv,
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

// errSendOnly and errReceiveOnly are for the missing direction of a
// unidirectional stream.
var (
	errSendOnly    = errors.New("limpet: read on a send-only stream")
	errReceiveOnly = errors.New("limpet: write on a receive-only stream")
)

// StreamID is the stream's ID (docs/PROTOCOL.md section 5, "Stream IDs").
func (s *Stream) StreamID() StreamID { return s.id }

// Read reads data in order. It returns io.EOF after the peer's FIN, a
// *StreamError after a reset, ErrStreamClosed after Close or CloseRead, an
// error wrapping os.ErrDeadlineExceeded once the read deadline has passed
// (even with data waiting), and the connection's error if it failed.
func (s *Stream) Read(p []byte) (int, error) {
	if s.recv == nil {
		return 0, errSendOnly
	}
	for {
		if s.readDeadline.Expired() {
			return 0, errDeadline
		}
		s.mu.Lock()
		if s.readClosed {
			s.mu.Unlock()
			return 0, ErrStreamClosed
		}
		if s.viewOut {
			// A WriteTo on another goroutine is writing the bytes that
			// come next; wait for it, as for data.
			s.mu.Unlock()
			select {
			case <-s.readable:
			case <-s.readDeadline.Wait():
			}
			continue
		}
		wasDone := s.recv.Done()
		n, fin := s.recv.Read(p)
		err := s.recvErr
		// The end (the FIN, or a reset the application now sees) lets the
		// stream finish and its slot go back to the peer.
		ended := !wasDone && s.recv.Done()
		s.mu.Unlock()
		if n > 0 || ended {
			// The loop credits flow control, reports the receipt and, at
			// the end, lets the stream finish.
			s.c.onRead(s, n)
		}
		switch {
		case fin:
			return n, io.EOF
		case n > 0:
			return n, nil
		case err != nil:
			return 0, err
		case len(p) == 0:
			return 0, nil
		}
		select {
		case <-s.readable:
		case <-s.readDeadline.Wait():
		}
	}
}

// firstWriteSlice is how much of a Write is copied before the loop is
// told of it: about an initial congestion window.
const firstWriteSlice = 16 << 10

// Write queues p for sending, blocking while the send buffer is full. It
// fails with ErrStreamClosed after Close or CloseWrite, with an error
// wrapping os.ErrDeadlineExceeded once the write deadline has passed, and
// with a *DeliveryError once the stream or connection failed.
func (s *Stream) Write(p []byte) (int, error) {
	if s.send == nil {
		return 0, errReceiveOnly
	}
	written := 0
	for {
		if s.writeDeadline.Expired() {
			return written, errDeadline
		}
		s.mu.Lock()
		if s.sendErr != nil {
			err := s.deliveryErrorLocked(s.sendErr)
			s.mu.Unlock()
			return written, err
		}
		if s.writeClosed {
			s.mu.Unlock()
			return written, ErrStreamClosed
		}
		chunk := p[written:]
		want := int64(len(chunk))
		sliced := false
		if written == 0 && want > firstWriteSlice && s.c.sendRoom() > firstWriteSlice {
			// Hand the loop a first flight before copying the rest: an
			// idle connection starts sending while a large write is
			// still being copied in.
			want, sliced = firstWriteSlice, true
		}
		room := s.c.reserveUnsent(want)
		chunk = chunk[:room]
		s.send.SetMaxAheadOfCredit(int(s.c.streams.aheadCap.Load()))
		n := s.send.Write(chunk)
		if int64(n) < room {
			s.c.addUnsent(int64(n) - room)
		}
		s.mu.Unlock()
		if n > 0 {
			written += n
			s.c.onWrite(s)
		}
		if written == len(p) {
			return written, nil
		}
		if sliced && n == len(chunk) {
			continue
		}
		var roomFreed <-chan struct{}
		if n == len(chunk) {
			// The stream had room; the connection did not.
			roomFreed = s.c.waitRoom()
			if roomFreed == nil {
				continue
			}
		}
		select {
		case <-s.writable:
		case <-roomFreed:
		case <-s.writeDeadline.Wait():
		}
	}
}

// Flush sends everything written so far without waiting to coalesce it
// with later writes. It does not wait for delivery. On a stream nothing
// was written to yet, it opens the stream at the peer, whose AcceptStream
// otherwise learns of it only with its first data or FIN.
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
	s.send.Announce()
	s.mu.Unlock()
	s.c.onWrite(s)
	return nil
}

// Close closes both directions, as net.Conn requires: blocked and later
// Reads and Writes fail with ErrStreamClosed; what was written is still
// sent, followed by a FIN (use WaitConsumed to learn that the peer
// application read it); and reading stops: unread data is discarded and,
// unless everything was read, the peer is told with STOP_SENDING (code 0).
// It returns ErrStreamClosed if the stream was closed already.
func (s *Stream) Close() error {
	s.mu.Lock()
	closed := s.readClosed && s.writeClosed
	s.mu.Unlock()
	if closed {
		return ErrStreamClosed
	}
	s.closeRead(0)
	s.closeWrite()
	return nil
}

// CloseWrite closes the sending direction, the half-close of
// *net.TCPConn: a FIN follows what was written, later Writes fail, and
// reading goes on. WaitConsumed still waits for the peer application's
// reads.
func (s *Stream) CloseWrite() error {
	if s.send == nil {
		return errReceiveOnly
	}
	s.closeWrite()
	return nil
}

// CloseRead closes the receiving direction: blocked and later Reads fail
// with ErrStreamClosed, unread data is discarded, and the peer is told to
// stop sending (STOP_SENDING with code 0) unless it had finished and
// everything was read. Writing goes on.
func (s *Stream) CloseRead() error {
	if s.recv == nil {
		return errSendOnly
	}
	s.closeRead(0)
	return nil
}

func (s *Stream) closeWrite() {
	s.mu.Lock()
	s.writeClosed = true
	if s.send == nil {
		s.mu.Unlock()
		return
	}
	if s.sendErr == nil {
		s.send.Close()
	}
	s.mu.Unlock()
	signal(s.writable)
	s.c.onWrite(s)
}

func (s *Stream) closeRead(code ApplicationErrorCode) {
	s.mu.Lock()
	s.readClosed = true
	if s.recv == nil {
		s.mu.Unlock()
		return
	}
	discarded := s.stopSendingLocked(code)
	s.mu.Unlock()
	signal(s.readable)
	s.c.onDiscard(s, discarded)
}

// stopSendingLocked stops the receiving side with code and returns the
// bytes it discarded, unless WriteTo holds a view, which then does it when
// the view ends.
func (s *Stream) stopSendingLocked(code ApplicationErrorCode) int64 {
	if s.viewOut {
		if !s.stopDeferred {
			s.stopDeferred, s.stopCode = true, code
		}
		return 0
	}
	return s.recv.StopSending(uint64(code))
}

// CancelWrite abandons sending: the peer gets RESET_STREAM with code, and
// data not yet delivered is discarded. Writes then fail with a
// *StreamError.
func (s *Stream) CancelWrite(code ApplicationErrorCode) {
	if s.send == nil {
		return
	}
	s.mu.Lock()
	unsent := s.send.Unsent()
	if s.send.Reset(uint64(code)) {
		s.c.addUnsent(-unsent)
		if s.sendErr == nil {
			s.sendErr = &StreamError{StreamID: s.id, Code: code}
		}
	}
	s.mu.Unlock()
	signal(s.writable)
	s.c.onControl(s)
}

// CancelRead tells the peer to stop sending (STOP_SENDING with code) and
// discards unread data. Reads then fail with a *StreamError.
func (s *Stream) CancelRead(code ApplicationErrorCode) {
	if s.recv == nil {
		return
	}
	s.mu.Lock()
	discarded := s.stopSendingLocked(code)
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
// *DeliveryError saying how far the data got. A limpet peer reports a read
// at once when it reaches the end of the stream or frees flow-control
// credit, and otherwise with its next ACK, at most an eighth of the RTT
// (1 to 25 ms) later.
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
		if s.consumedCh == nil {
			s.consumedCh = make(chan struct{})
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
	if s.consumedCh != nil {
		close(s.consumedCh)
		s.consumedCh = nil
	}
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
// os.ErrDeadlineExceeded once t passes; a time in the past fails the next
// Read at once, even with data waiting. The zero time clears it.
func (s *Stream) SetReadDeadline(t time.Time) error { s.readDeadline.Set(t); return nil }

// SetWriteDeadline does the same for Write: past the deadline, Write
// queues nothing more.
func (s *Stream) SetWriteDeadline(t time.Time) error { s.writeDeadline.Set(t); return nil }

var _ net.Conn = (*Stream)(nil)
