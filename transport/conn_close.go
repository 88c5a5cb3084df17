package transport

import (
	"context"
	"time"

	"github.com/limpetnet/limpet/ackframes"
	"github.com/limpetnet/limpet/packet"
)

// onTimers runs every timer that has expired by now.
func (c *Conn) onTimers(now time.Time) {
	switch c.state {
	case stateClosing, stateDraining:
		if !now.Before(c.closeUntil) {
			c.state = stateClosed
		}
		return
	case stateHandshake:
		if !now.Before(c.handshakeDeadline) {
			c.terminate(ErrHandshakeTimeout)
			return
		}
	}
	if c.isServer && !c.confirmed && !now.Before(c.handshakeDeadline) {
		c.terminate(ErrHandshakeTimeout)
		return
	}
	if !now.Before(c.idleBase.Add(c.idleTimeoutNow())) {
		c.terminate(ErrIdleTimeout)
		return
	}
	if c.keys == nil {
		return
	}
	if dl := c.loss.Deadline(&c.rtt); !dl.IsZero() && !now.Before(dl) {
		var to ackframes.Timeout
		c.lostBuf, to = c.loss.OnTimeout(now, &c.rtt, c.lostBuf[:0])
		switch to.Kind {
		case ackframes.TimeoutLoss:
			c.onLost(c.lostBuf, to.PersistentCongestion, now)
		case ackframes.TimeoutPTO:
			// Two probes, each ack-eliciting, carrying new or lost data if
			// there is any (RFC 9002 §6.2.4).
			c.probes = 2
			c.stats.ptoCount.Add(1)
			// No ACK came to settle held FEC packets: send them again,
			// and protect what the open group has so far.
			c.fecReleaseHeld(now)
			if c.fec.enc != nil {
				c.fec.enc.Flush()
			}
			c.requeueOldestForProbe()
		}
	}
	c.checkPathTimers(now)
	c.maybeMigrate(now, nil)
	if c.cfg.KeepAlivePeriod > 0 && !now.Before(c.keepAliveAt()) {
		c.pingDue = true
	}
	c.keys.DiscardExpiredKeys(now)
}

// requeueOldestForProbe makes a probe carry data that may have been lost,
// so a PTO after a blackout resends it without waiting another round.
func (c *Conn) requeueOldestForProbe() {
	h := c.loss.History(ackframes.SpaceApplication)
	done := false
	h.ForEach(func(p *ackframes.SentPacket[sentFrames]) bool {
		if done || !p.AckEliciting {
			return !done
		}
		p.Frames.each(func(f *sentFrame) {
			if f.kind == sentStream {
				if s := c.streams[f.id]; s != nil {
					s.mu.Lock()
					s.send.OnLost(f.offset, f.length, f.fin)
					s.mu.Unlock()
					c.sched.Push(f.id)
				}
			}
		})
		done = true
		return false
	})
}

// idleTimeoutNow is the negotiated idle timeout, but never less than three
// probe timeouts (RFC 9000 §10.1).
func (c *Conn) idleTimeoutNow() time.Duration {
	return max(c.idleTimeout, 3*c.rtt.PTO(c.peerParams.MaxAckDelay))
}

// keepAliveAt is when a PING is due to keep NAT mappings and the peer's
// idle timer alive.
func (c *Conn) keepAliveAt() time.Time {
	last := c.lastRecv
	if c.lastAckElicit.After(last) {
		last = c.lastAckElicit
	}
	return last.Add(c.cfg.KeepAlivePeriod)
}

// nextDeadline is when the loop must next wake up without input.
func (c *Conn) nextDeadline(now time.Time) time.Time {
	next := now.Add(time.Hour)
	earlier := func(t time.Time) {
		if !t.IsZero() && t.Before(next) {
			next = t
		}
	}
	switch c.state {
	case stateClosing, stateDraining:
		return c.closeUntil
	case stateHandshake:
		earlier(c.handshakeDeadline)
		earlier(c.initialResendAt)
		return next
	}
	if c.isServer && !c.confirmed {
		earlier(c.handshakeDeadline)
	}
	earlier(c.idleBase.Add(c.idleTimeoutNow()))
	if c.keys == nil {
		return next
	}
	earlier(c.loss.Deadline(&c.rtt))
	if c.sendBudget() < minAppPacket {
		// Nothing can be sent on this unvalidated path until the peer
		// sends more; do not spin on ACK or pacing deadlines meanwhile.
		return next
	}
	earlier(c.recv.AckDeadline())
	if c.cfg.KeepAlivePeriod > 0 {
		earlier(c.keepAliveAt())
	}
	earlier(c.holdUntil)
	if c.path.challengePending {
		earlier(c.path.challengeDeadline)
	}
	if c.sched.Len() > 0 && c.cc.CanSend(c.loss.BytesInFlight()) {
		// Pacing holds data back: wake when the pacer allows the next send.
		earlier(now.Add(c.pacer.TimeUntilSend(now)))
	}
	if pe := c.keys.PreviousKeysExpiry(); !pe.IsZero() {
		earlier(pe)
	}
	return next
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
	c.closeFrame = f.Append(nil)
	c.sendClose(now)
	c.enterClosingState(stateClosing, err, now)
}

// sendClose sends the CONNECTION_CLOSE frame in the packet type the peer can
// open.
func (c *Conn) sendClose(now time.Time) {
	if c.txBufs == nil {
		c.send(now) // allocates buffers; sends nothing once closing
	}
	b := c.txBufs[0].Buf[:0]
	if c.keys != nil {
		pn, err := c.pnGen.Pop()
		if err != nil {
			return
		}
		pnLen := packet.PacketNumberLen(pn, c.loss.History(ackframes.SpaceApplication).LargestAcked())
		var pnOffset int
		b, pnOffset = packet.AppendShortHeader(b, c.remoteCID, c.keys.KeyPhase(), pnLen)
		b = packet.AppendPacketNumber(b, pn, pnLen)
		b = append(b, c.closeFrame...)
		for len(b)-pnOffset < 4 {
			b = append(b, 0)
		}
		if b, err = c.keys.Seal(b, pnOffset, pnLen, uint64(pn)); err != nil {
			return
		}
	} else if c.initSeal != nil {
		// Before 1-RTT keys only a transport close may be sent, and only in
		// an Initial packet (docs/PROTOCOL.md section 2.1).
		f, _, err := packet.ParseConnectionCloseFrame(c.closeFrame)
		if err != nil {
			return
		}
		if f.Application {
			f = packet.ConnectionCloseFrame{ErrorCode: uint64(packet.ApplicationError)}
		}
		saved := c.cryptoOut
		c.cryptoOut = nil
		b = c.buildInitialClose(b, f)
		c.cryptoOut = saved
	} else {
		return
	}
	c.txBufs[0].Buf = b
	c.flush(1)
	c.closeSentAt = now
}

// buildInitialClose builds an Initial packet with only CONNECTION_CLOSE.
func (c *Conn) buildInitialClose(b []byte, f packet.ConnectionCloseFrame) []byte {
	pnLen := 4
	payloadLen := max(f.Len(), 4)
	h := c.initialHeader()
	b, pnOffset := packet.AppendLongHeader(b, h, pnLen, payloadLen+16)
	b = packet.AppendPacketNumber(b, c.pnInitial, pnLen)
	start := len(b)
	b = f.Append(b)
	for len(b)-start < payloadLen {
		b = append(b, 0)
	}
	b = c.initSeal.Seal(b, pnOffset, pnLen, uint64(c.pnInitial))
	c.pnInitial++
	return b
}

// enterDraining: the peer closed; stay silent for three PTOs so its late
// packets are absorbed, then end.
func (c *Conn) enterDraining(err error, now time.Time) {
	c.enterClosingState(stateDraining, err, now)
}

func (c *Conn) enterClosingState(st connState, err error, now time.Time) {
	c.state = st
	c.closeUntil = now.Add(3 * c.rtt.PTO(c.peerParams.MaxAckDelay))
	if !c.isServer && c.keys == nil {
		// A client still in its handshake has nothing a late packet could
		// need (RFC 9000 §10.2 lets such an endpoint skip the closing
		// period), and Dial is waiting to return the error.
		c.closeUntil = now
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
	c.streamsMu.Lock()
	all := make([]*Stream, 0, len(c.streams))
	for _, s := range c.streams {
		all = append(all, s)
	}
	c.streamsMu.Unlock()
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
	c.ep.unregister(c)
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
	c.run(context.Background(), func() {
		c.closeWith(packet.ConnectionCloseFrame{ErrorCode: uint64(packet.NoError)}, err, time.Now())
		c.state = stateClosed
	})
}

func (c *Conn) closeLocal(f packet.ConnectionCloseFrame, err error) error {
	c.run(context.Background(), func() {
		c.closeWith(f, err, time.Now())
	})
	return nil
}
