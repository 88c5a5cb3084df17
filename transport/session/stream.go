package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"time"

	"github.com/limpetnet/limpet/transport"
	"github.com/limpetnet/limpet/transport/internal/deadline"
)

// Stream is one ordered byte stream of a session, a net.Conn that carries
// on across the session's connections. Close closes both directions,
// CloseWrite and CloseRead one each. Consumed and WaitConsumed are
// delivery receipts: how much the peer application has read.
//
// Each connection carries a stream on a limpet stream of its own (its
// carrier); the stream keeps every byte written until the peer
// application has read it, and a new carrier starts at the first byte the
// peer had not read.
type Stream struct {
	s  *Session
	id uint64

	// readMu is held across a read from the carrier and the count of
	// what it returned, so that a resumption, which waits for it, sees
	// every byte the application was given.
	readMu sync.Mutex

	readDeadline  *deadline.Deadline
	writeDeadline *deadline.Deadline

	// Guarded by s.mu.
	wake          chan struct{} // closed and replaced on any change
	readDeadlineT time.Time
	carrier       *transport.Stream
	carrierGen    uint64
	carrierCancel context.CancelFunc
	carrierFailed bool  // the carrier's reads failed; wait for the next one
	carrierBase   int64 // the stream offset of the carrier's first data byte
	carrierHdr    int64 // this end's preamble on it
	// lastCarrier is the carrier of an ended connection, until its
	// figures are collected (collectWireLocked).
	lastCarrier *transport.Stream

	buf          sendBuffer // written, not yet read by the peer application
	consumed     int64      // bytes the peer application has read (delivery receipts)
	sent         int64      // highest offset handed to a carrier
	wireSent     int64      // highest offset an ended carrier had put on the wire
	acked        int64      // highest offset a carrier's peer acknowledged
	finRequested bool
	hasReset     bool
	resetCode    uint64
	sendDone     bool // the peer has finished reading
	sendErr      error

	// pumps counts the pump goroutines alive, and busyLo..busyHi is the
	// range pump busyGen is copying to its carrier: sendBuffer.trim
	// recycles a chunk only when no other pump could still read it.
	pumps          int
	busyLo, busyHi int64
	busyGen        uint64

	readOff  int64
	recvEOF  bool
	recvErr  error
	recvDone bool
	stop     uint64 // 0, or 1 + the code this end stopped reading with
	// doneAcked says the peer's session has read that this end finished
	// reading: its RECV_DONE, or a state that listed it, at offset
	// doneAckAt of connection doneAckGen's control stream. Only then may
	// the stream be forgotten, or the peer could not learn how it ended.
	doneAcked  bool
	doneAckGen uint64
	doneAckAt  int64

	readClosed, writeClosed bool
	retired                 bool
}

func newStream(s *Session, id uint64) *Stream {
	return &Stream{
		s: s, id: id,
		wake:          make(chan struct{}),
		readDeadline:  deadline.New(),
		writeDeadline: deadline.New(),
	}
}

func (st *Stream) wakeLocked() {
	close(st.wake)
	st.wake = make(chan struct{})
}

// StreamID is the stream's ID in the session (not the carrier's).
func (st *Stream) StreamID() uint64 { return st.id }

// attach makes c the stream's carrier on connection generation gen.
// hdrLen is the preamble this end wrote on it, which the peer's receipts
// count.
func (st *Stream) attach(c *transport.Stream, gen uint64, hdrLen int64) {
	s := st.s
	s.mu.Lock()
	if s.gen != gen || st.retired || s.conn == nil {
		s.mu.Unlock()
		c.CancelRead(0)
		c.CancelWrite(0)
		return
	}
	if st.carrier != nil && st.carrierGen == gen {
		s.mu.Unlock()
		s.protocolError(errors.New("two carriers for one stream"))
		return
	}
	connCtx := s.conn.Context()
	ctx, cancel := context.WithCancel(connCtx)
	st.carrier, st.carrierGen, st.carrierCancel = c, gen, cancel
	st.carrierFailed = false
	// The carrier's data starts where the peer application stopped
	// reading (after a reset there is none).
	st.carrierBase, st.carrierHdr = st.consumed, hdrLen
	if !st.readDeadlineT.IsZero() {
		c.SetReadDeadline(st.readDeadlineT)
	}
	base := st.carrierBase
	recvDone := st.recvDone
	st.pumps++ // the pump started below
	st.wakeLocked()
	s.mu.Unlock()
	if recvDone {
		c.CancelRead(0)
	}
	go st.pump(connCtx, c, gen, base)
	go st.receipts(ctx, c, gen, base, hdrLen)
}

// detachLocked drops the carrier.
func (st *Stream) detachLocked() {
	if st.carrier != nil {
		st.carrierCancel()
		st.lastCarrier = st.carrier
		st.carrier, st.carrierCancel = nil, nil
	}
	st.wakeLocked()
}

// collectWireLocked takes in how far the carrier of an ended connection
// got on the wire, once that connection has failed its streams: handing
// data to a carrier is not sending it.
func (st *Stream) collectWireLocked() {
	c := st.lastCarrier
	if c == nil {
		return
	}
	st.lastCarrier = nil
	done, cancel := context.WithCancel(context.Background())
	cancel()
	var de *transport.DeliveryError
	if errors.As(c.WaitConsumed(done, math.MaxInt64), &de) {
		st.wireSent = max(st.wireSent, st.carrierBase+max(0, de.Sent-st.carrierHdr))
		st.acked = max(st.acked, st.carrierBase+max(0, de.Acked-st.carrierHdr))
	} else {
		// The connection is not known to have failed: assume the worst.
		st.wireSent = max(st.wireSent, st.sent)
	}
}

// pump sends the stream's data on carrier c from offset off: first what
// an earlier connection left unread, then each write as it comes, then
// the FIN.
func (st *Stream) pump(ctx context.Context, c *transport.Stream, gen uint64, off int64) {
	s := st.s
	defer func() {
		s.mu.Lock()
		st.pumps--
		s.mu.Unlock()
	}()
	finSent := false
	for {
		s.mu.Lock()
		if st.carrierGen != gen || st.carrier != c {
			s.mu.Unlock()
			return
		}
		switch {
		case st.sendDone:
			s.mu.Unlock()
			if !finSent {
				c.CloseWrite()
			}
			return
		case st.hasReset:
			code := st.resetCode
			s.mu.Unlock()
			c.CancelWrite(transport.ApplicationErrorCode(code))
			return
		case off < st.buf.end:
			chunk := st.buf.slice(off, maxChunk)
			st.busyLo, st.busyHi, st.busyGen = off, off+int64(len(chunk)), gen
			s.mu.Unlock()
			n, err := c.Write(chunk)
			s.mu.Lock()
			if st.busyGen == gen {
				st.busyLo, st.busyHi = 0, 0
			}
			off += int64(n)
			st.sent = max(st.sent, off)
			s.mu.Unlock()
			if err != nil {
				// The connection is ending, or the peer stopped
				// reading; either is handled elsewhere.
				return
			}
		case st.finRequested && !finSent:
			s.mu.Unlock()
			c.CloseWrite()
			finSent = true
		default:
			ch := st.wake
			s.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return
			}
		}
	}
}

// receipts follows the peer's delivery receipts on carrier c, whose
// first data byte is the stream's byte base, and frees what the peer
// application has read. It ends with ctx: when the carrier is dropped or
// the stream finishes.
func (st *Stream) receipts(ctx context.Context, c *transport.Stream, gen uint64, base, hdrLen int64) {
	s := st.s
	var last int64
	for {
		err := c.WaitConsumed(ctx, last+1)
		if err != nil {
			var de *transport.DeliveryError
			if errors.As(err, &de) {
				s.mu.Lock()
				st.acked = max(st.acked, base+max(0, de.Acked-hdrLen))
				s.mu.Unlock()
			}
			return
		}
		last = c.Consumed()
		s.mu.Lock()
		if st.carrierGen != gen {
			s.mu.Unlock()
			return
		}
		st.onConsumedLocked(base + max(0, last-hdrLen))
		s.mu.Unlock()
	}
}

// onConsumedLocked records that the peer application has read the
// stream up to off.
func (st *Stream) onConsumedLocked(off int64) {
	if off <= st.consumed {
		return
	}
	s := st.s
	st.consumed = off
	s.buffered -= st.buf.trim(off, st.pumps <= 1, st.busyLo, st.busyHi)
	st.acked = max(st.acked, off)
	st.sent = max(st.sent, off)
	st.wakeLocked()
	s.wakeLocked()
}

// onPeerRecvDoneLocked records that the peer has finished reading, its
// application having read readOff bytes: stop is 0 if it read to the end
// (or took a reset), else 1 + the code it stopped with. The offset makes
// the receipts exact whichever of this message and the carrier's own
// receipts arrives first.
func (st *Stream) onPeerRecvDoneLocked(stop uint64, readOff int64) error {
	if readOff > st.buf.end || readOff < 0 {
		return fmt.Errorf("%w: peer read stream %d to %d of %d bytes", errProtocol, st.id, readOff, st.buf.end)
	}
	st.onConsumedLocked(readOff)
	if st.sendDone {
		return nil
	}
	st.sendDone = true
	if stop != 0 && st.sendErr == nil {
		st.sendErr = &transport.StreamError{StreamID: transport.StreamID(st.id), Code: transport.ApplicationErrorCode(stop - 1), Remote: true}
	}
	st.s.buffered -= st.buf.reset()
	st.wakeLocked()
	st.s.wakeLocked()
	return nil
}

// setRecvDoneLocked records that this end has finished reading.
func (st *Stream) setRecvDoneLocked(stop uint64) {
	if st.recvDone {
		return
	}
	st.recvDone, st.stop = true, stop
	if !st.s.mine(st.id) {
		st.s.peerReading--
	}
	st.wakeLocked()
}

// checkDoneAckedLocked notes that the peer has read this end's
// RECV_DONE, if the control stream's receipts say so.
func (st *Stream) checkDoneAckedLocked() {
	s := st.s
	if st.recvDone && !st.doneAcked && st.doneAckGen == s.gen && st.doneAckGen != 0 && s.ctrlConsumed >= st.doneAckAt {
		st.doneAcked = true
		st.maybeRetireLocked()
	}
}

// maybeRetireLocked forgets a stream finished in both directions, once
// the peer knows this end finished reading.
func (st *Stream) maybeRetireLocked() {
	if st.retired || !st.recvDone || !st.sendDone || !st.doneAcked {
		return
	}
	s := st.s
	st.retired = true
	delete(s.streams, st.id)
	if s.mine(st.id) {
		s.myOpen--
	}
	if st.carrierCancel != nil {
		// Stops the receipts; the pump, woken, sends the FIN and ends.
		st.carrierCancel()
	}
	st.wakeLocked()
	s.wakeLocked()
}

// deliveryLocked is how far the stream got.
func (st *Stream) deliveryLocked() StreamDelivery {
	return StreamDelivery{
		StreamID: st.id,
		Written:  st.buf.end,
		Sent:     max(st.wireSent, st.acked, st.consumed),
		Acked:    max(st.acked, st.consumed),
		Consumed: st.consumed,
		Received: st.readOff,
	}
}

func (st *Stream) deliveryErrorLocked(cause error) error {
	d := st.deliveryLocked()
	return &transport.DeliveryError{Err: cause, Sent: d.Sent, Acked: d.Acked, Consumed: d.Consumed}
}

// Read reads data in order, waiting across reconnections. It returns
// io.EOF after the peer's CloseWrite, a *transport.StreamError after its
// CancelWrite, ErrStreamClosed after Close or CloseRead, an error
// wrapping os.ErrDeadlineExceeded past the read deadline, and the
// session's error once it has ended.
func (st *Stream) Read(p []byte) (int, error) {
	s := st.s
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if deadline.IsClosed(st.readDeadline.Wait()) {
			return 0, errDeadline
		}
		st.readMu.Lock()
		s.mu.Lock()
		switch {
		case st.readClosed:
			s.mu.Unlock()
			st.readMu.Unlock()
			return 0, ErrStreamClosed
		case st.recvEOF:
			s.mu.Unlock()
			st.readMu.Unlock()
			return 0, io.EOF
		case st.recvErr != nil:
			err := st.recvErr
			s.mu.Unlock()
			st.readMu.Unlock()
			return 0, err
		case s.err != nil:
			err := s.err
			s.mu.Unlock()
			st.readMu.Unlock()
			return 0, err
		}
		c := st.carrier
		if c == nil || st.carrierFailed {
			ch := st.wake
			s.mu.Unlock()
			st.readMu.Unlock()
			select {
			case <-ch:
			case <-st.readDeadline.Wait():
			}
			continue
		}
		s.mu.Unlock()
		n, err := c.Read(p)
		s.mu.Lock()
		st.readOff += int64(n)
		eof := false
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			st.recvEOF, eof = true, true
			st.setRecvDoneLocked(0)
			st.maybeRetireLocked()
		case errors.Is(err, os.ErrDeadlineExceeded):
			err = errDeadline
		default:
			// The carrier or its connection failed: the next
			// connection's carrier goes on from here.
			if st.carrier == c {
				st.carrierFailed = true
			}
			err = nil
		}
		s.mu.Unlock()
		st.readMu.Unlock()
		if eof {
			s.sendRecvDone(st)
			return n, io.EOF
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// Write buffers p to be sent, on this connection or the next. It waits
// while the session holds MaxBuffered bytes the peer application has not
// read. Past the write deadline it buffers nothing more. Once the stream
// or session has failed it returns a *transport.DeliveryError.
func (st *Stream) Write(p []byte) (int, error) {
	s := st.s
	written := 0
	for len(p) > 0 {
		if deadline.IsClosed(st.writeDeadline.Wait()) {
			return written, errDeadline
		}
		s.mu.Lock()
		if err := st.writeErrLocked(); err != nil {
			s.mu.Unlock()
			return written, err
		}
		space := s.cfg.MaxBuffered - s.buffered
		if space <= 0 {
			ch := s.wake
			s.mu.Unlock()
			select {
			case <-ch:
			case <-st.writeDeadline.Wait():
			}
			continue
		}
		n := int(min(int64(len(p)), space))
		st.buf.append(p[:n])
		s.buffered += int64(n)
		st.wakeLocked()
		suspended := s.listener != nil && s.conn == nil
		s.mu.Unlock()
		if suspended {
			s.listener.grew(s, int64(n))
		}
		p = p[n:]
		written += n
	}
	return written, nil
}

func (st *Stream) writeErrLocked() error {
	switch {
	case st.writeClosed:
		return ErrStreamClosed
	case st.sendErr != nil:
		return st.deliveryErrorLocked(st.sendErr)
	case st.s.err != nil:
		return st.deliveryErrorLocked(st.s.err)
	case st.sendDone:
		// The peer finished reading; nothing more would reach it.
		return st.deliveryErrorLocked(ErrStreamClosed)
	}
	return nil
}

// CloseWrite sends the end of the stream after the data written.
func (st *Stream) CloseWrite() error {
	s := st.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st.writeClosed = true
	if !st.finRequested {
		st.finRequested = true
		st.wakeLocked()
	}
	return nil
}

// CloseRead stops reading: the peer's writes fail with a
// *transport.StreamError of code 0.
func (st *Stream) CloseRead() error {
	st.CancelRead(0)
	return nil
}

// Close closes both directions. Data written stays buffered until the
// peer application reads it.
func (st *Stream) Close() error {
	st.CloseWrite()
	return st.CloseRead()
}

// CancelWrite abandons the data not yet read by the peer; its reads fail
// with a *transport.StreamError carrying code.
func (st *Stream) CancelWrite(code transport.ApplicationErrorCode) {
	s := st.s
	s.mu.Lock()
	st.writeClosed = true
	if st.sendDone || st.hasReset {
		s.mu.Unlock()
		return
	}
	code = clampCode(code)
	st.hasReset, st.resetCode = true, uint64(code)
	s.buffered -= st.buf.reset()
	c := st.carrier
	st.wakeLocked()
	s.wakeLocked()
	s.mu.Unlock()
	if c != nil {
		// At once, not by the pump, which may be blocked writing.
		c.CancelWrite(code)
	}
	s.sendControl(msgReset, (&reset{id: st.id, code: uint64(code)}).append(nil))
}

// maxCode is the largest application error code a session carries: a
// varint holds less than 2^62, and a stop code is sent plus one.
const maxCode = 1<<62 - 2

func clampCode(c transport.ApplicationErrorCode) transport.ApplicationErrorCode {
	return min(c, maxCode)
}

// CancelRead stops reading with code: the peer's writes fail with a
// *transport.StreamError carrying it.
func (st *Stream) CancelRead(code transport.ApplicationErrorCode) {
	s := st.s
	s.mu.Lock()
	st.readClosed = true
	if st.recvDone {
		st.wakeLocked()
		s.mu.Unlock()
		return
	}
	code = clampCode(code)
	st.setRecvDoneLocked(uint64(code) + 1)
	c := st.carrier
	s.mu.Unlock()
	if c != nil {
		c.CancelRead(code)
	}
	s.sendRecvDone(st)
}

// Consumed is how many bytes of this stream the peer application has
// read.
func (st *Stream) Consumed() int64 {
	st.s.mu.Lock()
	defer st.s.mu.Unlock()
	return st.consumed
}

// WaitConsumed blocks until the peer application has read at least n
// bytes of the stream, across reconnections. If the stream or session
// fails first it returns a *transport.DeliveryError saying how far the
// data got.
func (st *Stream) WaitConsumed(ctx context.Context, n int64) error {
	s := st.s
	for {
		s.mu.Lock()
		if st.consumed >= n {
			s.mu.Unlock()
			return nil
		}
		err := st.sendErr
		if err == nil {
			err = s.err
		}
		if err == nil && (st.hasReset || st.sendDone) {
			// Reset, or the peer finished reading short of n.
			err = ErrStreamClosed
		}
		if err != nil {
			err = st.deliveryErrorLocked(err)
			s.mu.Unlock()
			return err
		}
		ch := st.wake
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// LocalAddr and RemoteAddr are the session's.
func (st *Stream) LocalAddr() net.Addr  { return st.s.LocalAddr() }
func (st *Stream) RemoteAddr() net.Addr { return st.s.RemoteAddr() }

// SetDeadline sets both deadlines.
func (st *Stream) SetDeadline(t time.Time) error {
	st.SetReadDeadline(t)
	return st.SetWriteDeadline(t)
}

// SetReadDeadline makes a blocked or future Read fail with an error
// wrapping os.ErrDeadlineExceeded once t passes; the zero time clears it.
func (st *Stream) SetReadDeadline(t time.Time) error {
	st.readDeadline.Set(t)
	s := st.s
	s.mu.Lock()
	st.readDeadlineT = t
	c := st.carrier
	s.mu.Unlock()
	if c != nil {
		c.SetReadDeadline(t)
	}
	return nil
}

// SetWriteDeadline does the same for Write's wait for buffer space.
func (st *Stream) SetWriteDeadline(t time.Time) error {
	st.writeDeadline.Set(t)
	return nil
}

var _ net.Conn = (*Stream)(nil)

// deadlineError wraps os.ErrDeadlineExceeded and is a net.Error with
// Timeout.
type deadlineError struct{}

func (deadlineError) Error() string   { return "limpet/session: i/o deadline exceeded" }
func (deadlineError) Timeout() bool   { return true }
func (deadlineError) Temporary() bool { return true }
func (deadlineError) Unwrap() error   { return os.ErrDeadlineExceeded }

var errDeadline error = deadlineError{}

// readFull is io.ReadFull.
func readFull(r io.Reader, b []byte) (int, error) { return io.ReadFull(r, b) }
