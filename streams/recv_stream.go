package streams

import (
	"fmt"
	"strconv"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// RecvState is the state of a stream's receiving part (RFC 9000 §3.2).
type RecvState uint8

const (
	// RecvRecv means data is arriving and the final size is unknown.
	RecvRecv RecvState = iota
	// RecvSizeKnown means a FIN fixed the final size; some bytes are missing.
	RecvSizeKnown
	// RecvDataRecvd means every byte up to the final size has arrived.
	RecvDataRecvd
	// RecvDataRead means the application read (or discarded) every byte.
	// Terminal.
	RecvDataRead
	// RecvResetRecvd means the peer reset the stream; unread bytes are dropped.
	RecvResetRecvd
	// RecvResetRead means the application has seen the reset. Terminal.
	RecvResetRead
)

// String returns the state's name as RFC 9000 spells it, without spaces.
func (s RecvState) String() string {
	switch s {
	case RecvRecv:
		return "Recv"
	case RecvSizeKnown:
		return "SizeKnown"
	case RecvDataRecvd:
		return "DataRecvd"
	case RecvDataRead:
		return "DataRead"
	case RecvResetRecvd:
		return "ResetRecvd"
	case RecvResetRead:
		return "ResetRead"
	}
	return "RecvState(" + strconv.Itoa(int(s)) + ")"
}

// RecvStream is the receiving part of a stream: out-of-order reassembly,
// the stream's receive window, final-size checks and the RFC 9000 §3.2 state
// machine. The connection goroutine feeds it frames with HandleFrame and
// HandleReset; the application reads with Read.
//
// Connection-level flow control is the caller's RecvWindow, passed to the
// calls made on the connection goroutine, which charge it for new bytes and
// credit it for bytes discarded by a reset. Bytes the application reads are
// credited by the caller: Read returns the count, and the transport passes it
// to the connection window's Consume on its own goroutine. StopSending
// returns the bytes it discarded for the same purpose.
//
// A RecvStream is not safe for concurrent use; the transport guards it with
// a lock held only for the duration of each call. It references no
// connection state.
type RecvStream struct {
	state  RecvState
	buf    reassembly
	window RecvWindow

	highest    int64 // highest end offset seen in any frame
	finalSize  int64
	finalKnown bool
	credited   int64 // bytes released to connection-level flow control

	resetCode uint64

	cancelled          bool // the application stopped reading (CancelRead)
	stopSendingCode    uint64
	stopSendingPending bool
	stopSendingWanted  bool // STOP_SENDING was due; a lost one is sent again

	// appRead is the offset the application has read up to; bytes
	// discarded by StopSending are not counted, since no one read them.
	appRead          int64
	consumedReported int64
	consumedResend   bool
}

// NewRecvStream returns a stream in the Recv state whose window starts at
// initialWindow bytes (our initial MAX_STREAM_DATA) and may auto-tune up to
// maxWindow.
func NewRecvStream(initialWindow, maxWindow int64) *RecvStream {
	s := new(RecvStream)
	s.window.init(initialWindow, maxWindow)
	return s
}

// State is the current state of the receiving part.
func (s *RecvStream) State() RecvState { return s.state }

// HandleFrame processes a STREAM frame. It copies the parts of data not
// already held, so data may be reused when it returns; duplicate and
// overlapping bytes are dropped, keeping the first copy. New bytes are
// charged to the stream's window and to conn (nil for none).
//
// It returns an error wrapping ErrFlowControl or ErrFinalSize, and changes
// nothing, when the frame breaks the rules of RFC 9000 §4.1 or §4.5. Frames
// arriving after a reset or once every byte was received only have their
// sizes checked.
func (s *RecvStream) HandleFrame(offset int64, data []byte, fin bool, conn *RecvWindow) error {
	if offset < 0 || offset > packet.MaxVarint-int64(len(data)) {
		return fmt.Errorf("%w: frame at %d of %d bytes ends beyond 2^62-1", ErrFlowControl, offset, len(data))
	}
	end := offset + int64(len(data))
	if err := s.checkFinalSize(end, fin); err != nil {
		return err
	}
	newBytes := max(end-s.highest, 0)
	if err := s.window.check(newBytes); err != nil {
		return err
	}
	if conn != nil {
		if err := conn.check(newBytes); err != nil {
			return err
		}
		conn.received += newBytes
	}
	s.window.received += newBytes
	s.highest += newBytes
	if fin && !s.finalKnown {
		s.finalKnown, s.finalSize = true, end
		if s.state == RecvRecv {
			s.state = RecvSizeKnown
		}
	}
	if s.state != RecvRecv && s.state != RecvSizeKnown {
		return nil
	}
	s.buf.insert(offset, data, int(s.window.size))
	if s.cancelled {
		s.discard(conn)
	}
	s.checkComplete()
	return nil
}

func (s *RecvStream) checkFinalSize(end int64, fin bool) error {
	switch {
	case s.finalKnown && end > s.finalSize:
		return fmt.Errorf("%w: data up to %d beyond final size %d", ErrFinalSize, end, s.finalSize)
	case s.finalKnown && fin && end != s.finalSize:
		return fmt.Errorf("%w: final size changed from %d to %d", ErrFinalSize, s.finalSize, end)
	case !s.finalKnown && fin && end < s.highest:
		return fmt.Errorf("%w: final size %d below data received up to %d", ErrFinalSize, end, s.highest)
	}
	return nil
}

// discard drops contiguous bytes the application no longer wants, crediting
// them to both windows.
func (s *RecvStream) discard(conn *RecvWindow) int64 {
	n := s.buf.discard()
	s.window.Consume(n)
	s.credited += n
	if conn != nil {
		conn.Consume(n)
	}
	return n
}

// checkComplete advances the state once every byte arrived or was read.
func (s *RecvStream) checkComplete() {
	if !s.finalKnown {
		return
	}
	if s.state == RecvSizeKnown && s.buf.contiguousEnd == s.finalSize {
		s.state = RecvDataRecvd
	}
	if s.state == RecvDataRecvd && s.buf.readOffset == s.finalSize {
		if s.cancelled {
			s.state = RecvDataRead
		}
		s.buf.release()
	}
}

// Read copies contiguous bytes into p. fin reports that the application has
// now read the whole stream; later calls return (0, true). After a reset it
// returns (0, false), and ResetCode tells why. The caller credits n to the
// connection's RecvWindow.
func (s *RecvStream) Read(p []byte) (n int, fin bool) {
	if over, fin := s.readingOver(); over {
		return 0, fin
	}
	n = s.buf.read(p)
	return n, s.countRead(n)
}

// Peek returns contiguous bytes ready for the application without copying
// them: a view of the stream's buffer that stays valid, and unchanged,
// until Consume, however the stream's buffer grows or is dropped
// meanwhile. Consume must follow every Peek that returned bytes, before
// the next Read, Peek or StopSending (which would move the read offset
// past the view, so that new data could land on it). fin and the reset
// cases are as for Read: fin reports the whole stream read (nothing was
// left), later calls return (nil, true); after a reset it returns
// (nil, false).
func (s *RecvStream) Peek() (p []byte, fin bool) {
	if over, fin := s.readingOver(); over {
		return nil, fin
	}
	if p = s.buf.peek(); len(p) > 0 {
		return p, false
	}
	return nil, s.countRead(0)
}

// Consume ends the view Peek returned and counts its first n bytes read,
// as Read would have (the caller credits n to the connection's
// RecvWindow); fin is as for Read. A reset since the Peek leaves nothing
// to count: Consume then returns 0, false.
func (s *RecvStream) Consume(n int) (counted int, fin bool) {
	s.buf.unpin()
	// Only the application's own calls end the reading states, so the
	// stream is still in one of them unless a reset or StopSending came.
	if s.cancelled || s.state == RecvResetRecvd || s.state == RecvResetRead {
		return 0, false
	}
	n = int(min(int64(n), s.buf.readable()))
	s.buf.skip(int64(n))
	return n, s.countRead(n)
}

// readingOver reports whether the application can get no more bytes: the
// whole stream was read (fin), or it was reset (the first such call moves
// ResetRecvd to ResetRead: the application has seen the reset) or
// cancelled.
func (s *RecvStream) readingOver() (over, fin bool) {
	switch s.state {
	case RecvDataRead:
		return true, true
	case RecvResetRecvd:
		s.state = RecvResetRead
		return true, false
	case RecvResetRead:
		return true, false
	}
	return s.cancelled, false
}

// countRead accounts n bytes the application has just taken (already past
// readOffset) and reports whether that was the end of the stream, which
// frees the buffer.
func (s *RecvStream) countRead(n int) (fin bool) {
	s.appRead = s.buf.readOffset
	s.window.Consume(int64(n))
	s.credited += int64(n)
	if s.finalKnown && s.buf.readOffset == s.finalSize {
		s.state = RecvDataRead
		s.buf.release()
		return true
	}
	return false
}

// Readable is the number of bytes Read would return now.
func (s *RecvStream) Readable() int {
	if s.cancelled || (s.state != RecvRecv && s.state != RecvSizeKnown && s.state != RecvDataRecvd) {
		return 0
	}
	return int(s.buf.readable())
}

// Buffered is the number of bytes held for reading, in order or not.
func (s *RecvStream) Buffered() int { return int(s.buf.buffered) }

// Consumed is the offset the application has read up to, not counting
// what StopSending discarded. Delivery receipts report it to the peer.
func (s *RecvStream) Consumed() int64 { return s.appRead }

// HighestReceived is the highest offset the peer has sent: the stream's
// flow-control usage.
func (s *RecvStream) HighestReceived() int64 { return s.highest }

// FinalSize is the stream's final size, once a FIN or RESET_STREAM fixed it.
func (s *RecvStream) FinalSize() (size int64, ok bool) { return s.finalSize, s.finalKnown }

// HandleReset processes RESET_STREAM (RFC 9000 §3.2, §19.4). Unread bytes are
// dropped, and every byte up to the final size is credited to conn (nil for
// none), so the connection window does not leak. It returns an error
// wrapping ErrFinalSize or ErrFlowControl, and changes nothing, if the final
// size contradicts what was received or exceeds a limit. A reset after every
// byte arrived is ignored, as RFC 9000 §3.2 allows.
func (s *RecvStream) HandleReset(code uint64, finalSize int64, conn *RecvWindow) error {
	if finalSize < 0 || finalSize > packet.MaxVarint {
		return fmt.Errorf("%w: final size %d beyond 2^62-1", ErrFlowControl, finalSize)
	}
	switch {
	case s.finalKnown && finalSize != s.finalSize:
		return fmt.Errorf("%w: reset final size %d, known final size %d", ErrFinalSize, finalSize, s.finalSize)
	case finalSize < s.highest:
		return fmt.Errorf("%w: reset final size %d below data received up to %d", ErrFinalSize, finalSize, s.highest)
	}
	newBytes := finalSize - s.highest
	if err := s.window.check(newBytes); err != nil {
		return err
	}
	if conn != nil {
		if err := conn.check(newBytes); err != nil {
			return err
		}
		conn.received += newBytes
	}
	s.window.received += newBytes
	s.highest = finalSize
	s.finalKnown, s.finalSize = true, finalSize
	if s.state != RecvRecv && s.state != RecvSizeKnown {
		return nil
	}
	s.resetCode = code
	s.state = RecvResetRecvd
	if s.cancelled {
		// The application already gave up; nobody will read the reset.
		s.state = RecvResetRead
	}
	s.stopSendingPending = false
	if conn != nil {
		conn.Consume(finalSize - s.credited)
	}
	s.credited = finalSize
	s.buf.release()
	return nil
}

// ResetCode is the peer's RESET_STREAM error code, if it reset the stream.
func (s *RecvStream) ResetCode() (code uint64, ok bool) {
	return s.resetCode, s.state == RecvResetRecvd || s.state == RecvResetRead
}

// StopSending abandons reading with an application error code (CancelRead):
// buffered bytes and bytes arriving later are discarded, and a STOP_SENDING
// frame asks the peer to reset (RFC 9000 §3.5). It returns the bytes it
// discarded, which the caller credits to the connection's RecvWindow;
// discards made later by HandleFrame credit the window passed to it.
func (s *RecvStream) StopSending(code uint64) (discarded int64) {
	if s.cancelled {
		return 0
	}
	switch s.state {
	case RecvRecv, RecvSizeKnown:
		s.stopSendingPending = true
		s.stopSendingCode = code
	case RecvDataRecvd:
		// Everything arrived, so there is nothing to stop; but if some of
		// it was never read, STOP_SENDING tells the sender that its
		// receipts will not cover it (docs/PROTOCOL.md section 7).
		if s.buf.readOffset < s.finalSize {
			s.stopSendingPending = true
			s.stopSendingCode = code
		}
	case RecvResetRecvd:
		// The peer reset it already, dropping what was buffered:
		// nothing to ask of it, but the application will not read the
		// reset, so the stream is done.
		s.cancelled = true
		return 0
	default:
		return 0
	}
	s.cancelled = true
	s.stopSendingWanted = s.stopSendingPending
	n := s.discard(nil)
	s.checkComplete()
	return n
}

// StopSendingToSend returns the code for a STOP_SENDING frame when one must
// be sent, once per StopSending or OnStopSendingLost.
//
// Every STOP_SENDING goes with a CONSUMED frame (ConsumedToReport reports
// again), which the transport puts before it in the same packet: the sender
// then learns how far the application read before it learns that reading
// stopped, whichever packets are lost.
func (s *RecvStream) StopSendingToSend() (code uint64, ok bool) {
	if !s.stopSendingPending {
		return 0, false
	}
	s.stopSendingPending = false
	if s.appRead > 0 {
		s.consumedResend = true
	}
	return s.stopSendingCode, true
}

// OnStopSendingLost re-arms STOP_SENDING while the peer may still be sending.
func (s *RecvStream) OnStopSendingLost() {
	if s.stopSendingWanted && s.state != RecvResetRecvd && s.state != RecvResetRead {
		s.stopSendingPending = true
	}
}

// WindowUpdate reports a MAX_STREAM_DATA limit to send, if one is due; see
// RecvWindow.Update. No updates are sent once the final size is known or the
// application stopped reading (RFC 9000 §3.2).
func (s *RecvStream) WindowUpdate(now time.Time, rtt time.Duration) (limit int64, ok bool) {
	if s.state != RecvRecv || s.cancelled {
		return 0, false
	}
	return s.window.Update(now, rtt)
}

// WindowUpdateDue reports whether WindowUpdate would report a limit now.
func (s *RecvStream) WindowUpdateDue() bool { return s.window.UpdateDue() }

// AllRead reports whether the application has read every byte up to the
// final size.
func (s *RecvStream) AllRead() bool { return s.finalKnown && s.appRead == s.finalSize }

// OnWindowUpdateLost re-arms a lost MAX_STREAM_DATA carrying limit.
func (s *RecvStream) OnWindowUpdateLost(limit int64) { s.window.OnUpdateLost(limit) }

// Limit is the MAX_STREAM_DATA limit currently granted to the peer.
func (s *RecvStream) Limit() int64 { return s.window.Limit() }

// WindowSize is the stream's current auto-tuned window. The transport
// compares it across WindowUpdate calls to grow the connection window with
// RecvWindow.EnsureMinimum.
func (s *RecvStream) WindowSize() int64 { return s.window.Size() }

// ConsumedToReport returns the offset for a CONSUMED frame (docs/PROTOCOL.md,
// "Delivery receipts") when the application has read more since the last
// report, or the last report must go again (lost, or beside STOP_SENDING).
// Receipts stop after the peer's reset: it no longer waits for them.
func (s *RecvStream) ConsumedToReport() (offset int64, ok bool) {
	if s.state == RecvResetRecvd || s.state == RecvResetRead {
		return 0, false
	}
	c := s.appRead
	if c <= s.consumedReported && !s.consumedResend {
		return 0, false
	}
	s.consumedReported = c
	s.consumedResend = false
	return c, true
}

// OnConsumedLost re-arms a lost CONSUMED frame carrying offset, unless a
// later report superseded it.
func (s *RecvStream) OnConsumedLost(offset int64) {
	if offset == s.consumedReported {
		s.consumedResend = true
	}
}

// Done reports whether the receiving part reached a terminal state, after
// which the transport may forget it and, for a peer-initiated stream, count
// it closed towards MAX_STREAMS (RFC 9000 §3.2).
//
// A stream the application stopped reading (StopSending) is done once the
// peer's reset arrives, without a Read to see it.
func (s *RecvStream) Done() bool {
	return s.state == RecvDataRead || s.state == RecvResetRead || (s.cancelled && s.state == RecvResetRecvd)
}
