package streams

import (
	"fmt"
	"slices"
	"strconv"
)

// SendState is the state of a stream's sending part (RFC 9000 §3.1).
type SendState uint8

const (
	// SendReady means the stream exists but nothing has been sent yet; the
	// application may already write.
	SendReady SendState = iota
	// SendSend means data is being sent.
	SendSend
	// SendDataSent means every byte and the FIN have been sent at least once;
	// only retransmissions remain.
	SendDataSent
	// SendDataRecvd means the peer acknowledged every byte and the FIN. Terminal.
	SendDataRecvd
	// SendResetSent means the stream was reset and RESET_STREAM is (being) sent.
	SendResetSent
	// SendResetRecvd means the peer acknowledged RESET_STREAM. Terminal.
	SendResetRecvd
)

// String returns the state's name as RFC 9000 spells it, without spaces.
func (s SendState) String() string {
	switch s {
	case SendReady:
		return "Ready"
	case SendSend:
		return "Send"
	case SendDataSent:
		return "DataSent"
	case SendDataRecvd:
		return "DataRecvd"
	case SendResetSent:
		return "ResetSent"
	case SendResetRecvd:
		return "ResetRecvd"
	}
	return "SendState(" + strconv.Itoa(int(s)) + ")"
}

// SendStreamConfig configures a SendStream.
type SendStreamConfig struct {
	// MaxBuffered caps the bytes written but not yet freed, which bounds
	// the stream's memory and is the application's back-pressure: Write
	// accepts only what fits.
	MaxBuffered int

	// PeerMaxData is the peer's initial MAX_STREAM_DATA for this stream,
	// from its transport parameters.
	PeerMaxData int64

	// MaxAheadOfCredit, if positive, caps how far the bytes written may
	// run past the peer's MAX_STREAM_DATA: bytes the peer has not allowed
	// cannot be sent, so a peer that grants no credit holds at most this
	// much of the stream's memory. Zero leaves only MaxBuffered.
	MaxAheadOfCredit int

	// RetainUntilConsumed keeps acknowledged bytes until the peer's
	// application has consumed them (docs/PROTOCOL.md, "Delivery
	// receipts"), so a stream resumed on a new connection can resend
	// everything from the peer's consumed offset. Without it, bytes are
	// freed as soon as they are acknowledged. With it, a peer that never
	// sends CONSUMED stalls the stream once MaxBuffered is reached.
	RetainUntilConsumed bool
}

// SendStream is the sending part of a stream: a buffer of application bytes,
// the bookkeeping of which ranges were sent, acknowledged and lost, the
// peer's flow-control limit for the stream, and the RFC 9000 §3.1 state
// machine.
//
// The application writes with Write and Close; the connection goroutine
// pulls frames with NextFrame and reports each STREAM frame's fate with
// OnAcked or OnLost, passing back the offset, length and FIN it carried.
// Lost bytes are resent before new ones, but never if they were acknowledged
// meanwhile.
//
// A SendStream is not safe for concurrent use; the transport guards it with
// a lock held only for the duration of each call. It references no
// connection state.
type SendStream struct {
	state  SendState
	buf    ring
	window SendWindow

	maxBuffered int
	aheadMax    int64 // MaxAheadOfCredit; 0 for none
	retain      bool

	// Offsets, in increasing order: freed <= ackedPrefix <= sent <= written.
	freed       int64 // bytes below are dropped from buf
	ackedPrefix int64 // bytes below are all acknowledged
	sent        int64 // next offset never sent before
	written     int64 // end of the application's bytes

	acked rangeSet // acknowledged ranges above ackedPrefix
	lost  rangeSet // ranges to resend, never acknowledged ones

	closed   bool // the FIN is at written
	announce bool // an empty frame must open the stream at the peer (Announce)
	finSent  bool
	finAcked bool
	finLost  bool // the FIN must be resent

	peerConsumed int64

	resetCode           uint64
	resetPending        bool // RESET_STREAM must be (re)sent
	stopSendingCode     uint64
	stopSendingReceived bool
}

// NewSendStream returns a stream in the Ready state.
func NewSendStream(cfg SendStreamConfig) *SendStream {
	s := &SendStream{maxBuffered: max(cfg.MaxBuffered, 0), aheadMax: int64(max(cfg.MaxAheadOfCredit, 0)), retain: cfg.RetainUntilConsumed}
	s.window.init(cfg.PeerMaxData)
	return s
}

// State is the current state of the sending part.
func (s *SendStream) State() SendState { return s.state }

// sending reports whether the state still sends stream data.
func (s *SendStream) sending() bool {
	return s.state == SendReady || s.state == SendSend || s.state == SendDataSent
}

// Write copies as much of p as fits in the buffer and returns how much that
// was. It returns 0 once the stream is closed or reset; the transport turns
// that into the error the application sees, and waits for Writable to grow
// when the buffer is full.
func (s *SendStream) Write(p []byte) int {
	n := min(len(p), s.Writable())
	if n == 0 {
		return 0
	}
	s.buf.grow(int(s.written-s.freed)+n, s.maxBuffered, s.freed, s.written)
	s.buf.write(s.written, p[:n])
	s.written += int64(n)
	return n
}

// Writable is how many bytes Write would accept now.
func (s *SendStream) Writable() int {
	if s.closed || (s.state != SendReady && s.state != SendSend) {
		return 0
	}
	n := int64(s.maxBuffered) - (s.written - s.freed)
	if s.aheadMax > 0 {
		n = min(n, s.window.Limit()+s.aheadMax-s.written)
	}
	return int(max(n, 0))
}

// Close marks the end of the stream: the FIN goes after the bytes written so
// far. Writes after Close accept nothing.
func (s *SendStream) Close() {
	if s.state == SendReady || s.state == SendSend {
		s.closed = true
	}
}

// Announce asks for the stream to be opened at the peer before any data:
// while nothing has been written or sent, NextFrame returns an empty frame
// at offset 0, which creates the stream there (RFC 9000 §3.2). Once data or
// the FIN is written it opens the stream anyway, and Announce does nothing.
func (s *SendStream) Announce() {
	if s.state == SendReady && s.written == 0 && !s.closed {
		s.announce = true
	}
}

// SetMaxAheadOfCredit changes SendStreamConfig.MaxAheadOfCredit.
func (s *SendStream) SetMaxAheadOfCredit(n int) { s.aheadMax = int64(max(n, 0)) }

// Closed reports whether Close was called.
func (s *SendStream) Closed() bool { return s.closed }

// SetPeerMaxData applies the peer's MAX_STREAM_DATA. It reports whether the
// limit grew, in which case blocked data may now be sendable.
func (s *SendStream) SetPeerMaxData(limit int64) bool { return s.window.SetLimit(limit) }

// PeerMaxData is the peer's current MAX_STREAM_DATA.
func (s *SendStream) PeerMaxData() int64 { return s.window.Limit() }

// NextFrame returns the next STREAM frame to send, with at most maxDataLen
// bytes of data. Bytes declared lost go first, split if they do not fit;
// then new bytes, limited by the peer's stream limit and by conn, the
// connection's send window (nil for none), both of which it charges. A FIN
// rides on the frame that ends at the final size, or goes alone with no data.
//
// data aliases the stream's buffer: copy it into the packet before calling
// any other method. It may be shorter than possible where the buffer wraps
// around; the next call returns the rest. ok is false when nothing can be
// sent now.
func (s *SendStream) NextFrame(maxDataLen int, conn *SendWindow) (offset int64, data []byte, fin bool, ok bool) {
	if !s.sending() {
		return 0, nil, false, false
	}
	maxDataLen = max(maxDataLen, 0)

	// Retransmissions first: they are the oldest data the peer is missing,
	// and their flow-control credit was charged when first sent.
	if len(s.lost) > 0 {
		if maxDataLen == 0 {
			return 0, nil, false, false
		}
		r := s.lost[0]
		data = s.buf.view(r.start, int(min(r.end-r.start, int64(maxDataLen))))
		end := r.start + int64(len(data))
		s.lost.remove(r.start, end)
		fin = s.closed && !s.finAcked && end == s.written
		if fin {
			s.finLost = false
			s.markSent(true)
		}
		return r.start, data, fin, true
	}
	if s.finLost {
		// Every byte is out; only the FIN went missing.
		s.finLost = false
		return s.written, nil, true, true
	}

	if unsent := s.written - s.sent; unsent > 0 {
		n := min(unsent, int64(maxDataLen), s.window.Available())
		if conn != nil {
			n = min(n, conn.Available())
		}
		if n > 0 {
			data = s.buf.view(s.sent, int(n))
			offset = s.sent
			s.window.Use(int64(len(data)))
			if conn != nil {
				conn.Use(int64(len(data)))
			}
			s.sent += int64(len(data))
		}
		// Data still waits: a window this frame emptied (or found empty)
		// is blocked, even when the packet's room was the tighter limit,
		// so that STREAM_DATA_BLOCKED or DATA_BLOCKED goes out as the
		// credit runs out. NoteBlocked ignores windows with credit left.
		if s.written > s.sent {
			s.window.NoteBlocked()
			if conn != nil {
				conn.NoteBlocked()
			}
		}
		if n == 0 {
			return 0, nil, false, false
		}
		fin = s.closed && s.sent == s.written
		s.markSent(fin)
		return offset, data, fin, true
	}

	if s.closed && !s.finSent {
		s.markSent(true)
		return s.written, nil, true, true
	}
	if s.announce {
		s.announce = false
		s.markSent(false)
		return 0, nil, false, true
	}
	return 0, nil, false, false
}

func (s *SendStream) markSent(fin bool) {
	if s.state == SendReady {
		s.state = SendSend
	}
	if fin {
		s.finSent = true
		s.state = SendDataSent
	}
}

// HasData reports whether NextFrame would return a frame, given enough
// room and connection-level credit.
func (s *SendStream) HasData() bool {
	if !s.sending() {
		return false
	}
	if len(s.lost) > 0 || s.finLost {
		return true
	}
	if s.written > s.sent {
		return s.window.Available() > 0
	}
	return (s.closed && !s.finSent) || s.announce
}

// Unsent is how many written bytes have never been sent.
func (s *SendStream) Unsent() int64 { return s.written - s.sent }

// Written is the stream offset the application has written up to.
func (s *SendStream) Written() int64 { return s.written }

// HasRetransmission reports whether lost data or a lost FIN waits to be
// sent again; a sender that coalesces small writes never holds these back.
func (s *SendStream) HasRetransmission() bool {
	return s.sending() && (len(s.lost) > 0 || s.finLost)
}

// Blocked reports the limit to put in a STREAM_DATA_BLOCKED frame: once per
// limit, when bytes are waiting and NextFrame found no stream credit left.
func (s *SendStream) Blocked() (limit int64, ok bool) {
	if !s.sending() || s.written == s.sent {
		return 0, false
	}
	return s.window.Blocked()
}

// HasUnsent reports whether written bytes have not been sent yet on a
// stream still sending (a reset one has none to send).
func (s *SendStream) HasUnsent() bool { return s.sending() && s.written > s.sent }

// CreditBlocked reports whether written bytes wait for the peer's stream
// credit. Unlike Blocked it reports the state, not a frame to send.
func (s *SendStream) CreditBlocked() bool {
	return s.sending() && s.written > s.sent && s.window.Available() == 0
}

// OnBlockedLost re-arms a lost STREAM_DATA_BLOCKED if still blocked at limit.
func (s *SendStream) OnBlockedLost(limit int64) { s.window.OnBlockedLost(limit) }

// RepeatBlocked re-arms STREAM_DATA_BLOCKED at the current limit if the
// stream still waits for credit, reporting whether it did: a blocked
// sender repeats it periodically.
func (s *SendStream) RepeatBlocked() bool {
	return s.CreditBlocked() && s.window.RepeatBlocked()
}

// OnAcked records that a STREAM frame carrying [offset, offset+length), and
// the FIN if fin, was acknowledged. The contiguous acknowledged prefix is
// freed from the buffer (or kept until consumed, see RetainUntilConsumed).
func (s *SendStream) OnAcked(offset int64, length int, fin bool) {
	if !s.sending() {
		return
	}
	s.markAcked(offset, offset+int64(length))
	if fin && s.finSent {
		s.finAcked = true
		s.finLost = false
	}
	s.free()
}

func (s *SendStream) markAcked(start, end int64) {
	start, end = max(start, s.ackedPrefix), min(end, s.sent)
	if start >= end {
		return
	}
	s.lost.remove(start, end)
	if start == s.ackedPrefix {
		s.ackedPrefix = end
	} else {
		s.acked.add(start, end)
	}
	n := 0
	for n < len(s.acked) && s.acked[n].start <= s.ackedPrefix {
		s.ackedPrefix = max(s.ackedPrefix, s.acked[n].end)
		n++
	}
	s.acked = slices.Delete(s.acked, 0, n)
}

// free drops bytes nobody can ask for again and detects the end of the
// stream.
func (s *SendStream) free() {
	freeTo := s.ackedPrefix
	if s.retain {
		freeTo = s.peerConsumed
	}
	s.freed = max(s.freed, freeTo)
	if s.closed && s.finAcked && s.ackedPrefix == s.written {
		s.state = SendDataRecvd
		s.acked, s.lost = nil, nil
		if s.freed == s.written {
			s.buf.release()
		}
	}
}

// OnLost records that a STREAM frame carrying [offset, offset+length), and
// the FIN if fin, was declared lost. The parts not acknowledged since are
// queued for NextFrame to resend.
func (s *SendStream) OnLost(offset int64, length int, fin bool) {
	if !s.sending() {
		return
	}
	start, end := max(offset, s.ackedPrefix), min(offset+int64(length), s.sent)
	if start < end {
		s.lost.addExcept(start, end, s.acked)
	}
	if fin && s.finSent && !s.finAcked {
		s.finLost = true
	}
	if length == 0 && !fin && s.sent == 0 && !s.closed && s.state == SendSend {
		s.announce = true // the empty frame that opens the stream was lost
	}
}

// BytesSent is the highest offset sent: the stream's flow-control usage and,
// after a reset, its final size.
func (s *SendStream) BytesSent() int64 { return s.sent }

// BytesAcked is the length of the acknowledged prefix of the stream.
func (s *SendStream) BytesAcked() int64 { return s.ackedPrefix }

// Buffered is the number of bytes held in the buffer: written and not yet
// freed.
func (s *SendStream) Buffered() int { return int(s.written - s.freed) }

// PeerConsumed is the highest offset the peer's application has read, as
// reported by its delivery receipts.
func (s *SendStream) PeerConsumed() int64 { return s.peerConsumed }

// OnPeerConsumed applies a delivery receipt (CONSUMED frame): the peer's
// application has read every byte below offset. Receipts may arrive out of
// order, so an older one is ignored. A receipt also proves delivery, so those
// bytes count as acknowledged. It returns an error wrapping
// ErrConsumedBeyondSent, and changes nothing, if offset exceeds what was sent.
func (s *SendStream) OnPeerConsumed(offset int64) error {
	if offset > s.sent {
		return fmt.Errorf("%w: consumed offset %d, sent %d", ErrConsumedBeyondSent, offset, s.sent)
	}
	if offset <= s.peerConsumed {
		return nil
	}
	s.peerConsumed = offset
	if s.sending() {
		s.markAcked(0, offset)
		s.free()
	}
	return nil
}

// Reset abandons the stream with an application error code (CancelWrite):
// buffered bytes are dropped and RESET_STREAM, carrying the final size
// BytesSent, must be sent (RFC 9000 §3.1, §19.4). It reports false, and does
// nothing, once every byte was acknowledged or the stream was already reset.
func (s *SendStream) Reset(code uint64) bool {
	if !s.sending() {
		return false
	}
	s.state = SendResetSent
	s.resetCode = code
	s.resetPending = true
	s.buf.release()
	s.acked, s.lost = nil, nil
	s.freed = s.written
	s.finLost = false
	return true
}

// OnStopSending handles the peer's STOP_SENDING: the stream is reset with
// the peer's code, as RFC 9000 §3.5 requires. It reports whether that reset
// happened now.
func (s *SendStream) OnStopSending(code uint64) bool {
	if !s.stopSendingReceived {
		s.stopSendingReceived = true
		s.stopSendingCode = code
	}
	return s.Reset(code)
}

// StopSendingCode is the code of the peer's STOP_SENDING, if one arrived.
func (s *SendStream) StopSendingCode() (code uint64, ok bool) {
	return s.stopSendingCode, s.stopSendingReceived
}

// ResetCode is the code the stream was reset with, if it was.
func (s *SendStream) ResetCode() (code uint64, ok bool) {
	return s.resetCode, s.state == SendResetSent || s.state == SendResetRecvd
}

// ResetToSend returns the RESET_STREAM frame's fields when one must be sent,
// once per call to Reset or OnResetLost.
func (s *SendStream) ResetToSend() (code uint64, finalSize int64, ok bool) {
	if !s.resetPending {
		return 0, 0, false
	}
	s.resetPending = false
	return s.resetCode, s.sent, true
}

// OnResetAcked records that the peer acknowledged RESET_STREAM.
func (s *SendStream) OnResetAcked() {
	if s.state == SendResetSent {
		s.state = SendResetRecvd
		s.resetPending = false
	}
}

// OnResetLost re-arms RESET_STREAM after the packet carrying it was lost.
func (s *SendStream) OnResetLost() {
	if s.state == SendResetSent {
		s.resetPending = true
	}
}

// Done reports whether the sending part reached a terminal state, after
// which the transport may forget it (RFC 9000 §3.1).
func (s *SendStream) Done() bool {
	return s.state == SendDataRecvd || s.state == SendResetRecvd
}
