package transport

import (
	"context"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// lifetimeState is how a connection ends: the CONNECTION_CLOSE we repeat
// while closing, and when the closing or draining period ends (RFC 9000
// §10.2).
type lifetimeState struct {
	closeUntil  time.Time // end of closing/draining
	closeFrame  []byte    // CONNECTION_CLOSE payload to resend while closing
	closeSentAt time.Time
}

// closeTransport closes the connection because of a protocol error we
// detected (or an application close, via closeWith).
func (c *Conn) closeTransport(code packet.TransportErrorCode, ft packet.FrameType, reason string, now time.Time) {
	f := packet.ConnectionCloseFrame{ErrorCode: uint64(code), FrameType: ft, Reason: []byte(reason)}
	c.closeWith(f, &ConnError{Local: true, Code: code, FrameType: ft, Reason: reason}, now)
}

// closeWith sends CONNECTION_CLOSE and enters the closing state for three
// PTOs, answering any further packet with the same frame.
func (c *Conn) closeWith(f packet.ConnectionCloseFrame, err error, now time.Time) {
	if c.state == stateClosing || c.state == stateDraining || c.state == stateClosed {
		return
	}
	if len(f.Reason) > 256 {
		f.Reason = f.Reason[:256]
	}
	c.lifetime.closeFrame = f.Append(nil)
	c.sendClose(now)
	c.enterClosingState(stateClosing, err, now)
}

// sendClose sends the CONNECTION_CLOSE frame in the packet type the peer can
// open.
func (c *Conn) sendClose(now time.Time) {
	if c.tx.bufs == nil {
		c.send(now) // allocates buffers; sends nothing once closing
	}
	b := c.tx.bufs[0].Buf[:0]
	if c.keys != nil {
		pn, err := c.loss.pnGen.Pop()
		if err != nil {
			return
		}
		pnLen := packet.PacketNumberLen(pn, c.loss.History().LargestAcked())
		var pnOffset int
		b, pnOffset = packet.AppendShortHeader(b, c.ids.remoteCID, c.keys.KeyPhase(), pnLen)
		b = packet.AppendPacketNumber(b, pn, pnLen)
		b = append(b, c.lifetime.closeFrame...)
		for len(b)-pnOffset < 4 {
			b = append(b, 0)
		}
		if b, err = c.keys.Seal(b, pnOffset, pnLen, uint64(pn)); err != nil {
			return
		}
	} else if c.hs.initSeal != nil {
		// Before 1-RTT keys only a transport close may be sent, and only in
		// an Initial packet (docs/PROTOCOL.md section 2.1).
		f, _, err := packet.ParseConnectionCloseFrame(c.lifetime.closeFrame)
		if err != nil {
			return
		}
		if f.Application {
			f = packet.ConnectionCloseFrame{ErrorCode: uint64(packet.ApplicationError)}
		}
		saved := c.hs.out
		c.hs.out = nil
		b = c.buildInitialClose(b, f)
		c.hs.out = saved
	} else {
		return
	}
	c.tx.bufs[0].Buf = b
	c.flush(1, now)
	c.lifetime.closeSentAt = now
}

// enterDraining: the peer closed; stay silent for three PTOs so its late
// packets are absorbed, then end.
func (c *Conn) enterDraining(err error, now time.Time) {
	c.enterClosingState(stateDraining, err, now)
}

func (c *Conn) enterClosingState(st connState, err error, now time.Time) {
	c.state = st
	c.lifetime.closeUntil = now.Add(3 * c.loss.rtt.PTO(c.peerParams.MaxAckDelay))
	if !c.isServer && c.keys == nil {
		// A client still in its handshake has nothing a late packet could
		// need (RFC 9000 §10.2 lets such an endpoint skip the closing
		// period), and Dial is waiting to return the error.
		c.lifetime.closeUntil = now
	}
	c.setCloseErr(err)
}

// setCloseErr records why the connection ended and fails every stream,
// so blocked application calls return at once.
func (c *Conn) setCloseErr(err error) {
	if c.closeErr != nil {
		return
	}
	c.closeErr = err
	c.streams.mu.Lock()
	all := make([]*Stream, 0, len(c.streams.byID))
	for _, s := range c.streams.byID {
		all = append(all, s)
	}
	c.streams.mu.Unlock()
	for _, s := range all {
		s.fail(err)
	}
}

// terminate ends the connection at once without telling the peer (idle
// timeout, handshake timeout, stateless reset).
func (c *Conn) terminate(err error) {
	c.setCloseErr(err)
	c.state = stateClosed
}

// abort ends the connection from inside the loop because of a local
// failure (a broken invariant, the socket gone).
func (c *Conn) abort(err error) {
	if err == nil {
		err = &ConnError{Local: true, Code: packet.InternalError, Reason: "internal error"}
	}
	c.terminate(err)
}

// finish runs once the loop has stopped: unroute the connection and release
// everyone waiting on it.
func (c *Conn) finish() {
	if c.closeErr == nil {
		c.closeErr = ErrConnClosed
	}
	c.ep.connDone(c)
	close(c.done)
	for {
		select {
		case rx := <-c.rxCh:
			rxPool.Put(rx)
		default:
			return
		}
	}
}

// Close closes the connection with NO_ERROR. Data not yet delivered is
// abandoned; use Stream.WaitConsumed first to know it arrived.
func (c *Conn) Close() error {
	return c.closeLocal(packet.ConnectionCloseFrame{ErrorCode: uint64(packet.NoError)},
		&ConnError{Local: true, Code: packet.NoError})
}

// CloseWithError closes the connection with an application error code and
// reason, which the peer sees in its ConnError.
func (c *Conn) CloseWithError(code ApplicationErrorCode, reason string) error {
	return c.closeLocal(packet.ConnectionCloseFrame{Application: true, ErrorCode: uint64(code), Reason: []byte(reason)},
		&ConnError{Local: true, App: true, AppCode: code, Reason: reason})
}

// closeForShutdown sends CONNECTION_CLOSE and ends at once: the socket is
// about to close, so there is no point in a closing period that answers
// late packets.
func (c *Conn) closeForShutdown() {
	err := &ConnError{Local: true, Code: packet.NoError, Reason: "listener closed"}
	c.run(context.Background(), func(now time.Time) {
		c.closeWith(packet.ConnectionCloseFrame{ErrorCode: uint64(packet.NoError)}, err, now)
		c.state = stateClosed
	})
}

func (c *Conn) closeLocal(f packet.ConnectionCloseFrame, err error) error {
	c.run(context.Background(), func(now time.Time) {
		c.closeWith(f, err, now)
	})
	return nil
}
