package transport

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/qlog"
)

// lifetimeState is how a connection ends (RFC 9000 §10.2). The
// connection's loop exits as soon as it closes or learns the peer closed,
// so every blocked call returns at once; the closing or draining period
// that follows is kept by the endpoint (closedConn), which answers late
// packets with the CONNECTION_CLOSE saved here, or absorbs them.
type lifetimeState struct {
	closePacket []byte    // the datagram carrying our CONNECTION_CLOSE; nil if we sent none
	closeUntil  time.Time // end of the closing or draining period
}

// closeTransport closes the connection because of a protocol error we
// detected (or an application close, via closeWith).
func (c *Conn) closeTransport(code packet.TransportErrorCode, ft packet.FrameType, reason string, now time.Time) {
	f := packet.ConnectionCloseFrame{ErrorCode: uint64(code), FrameType: ft, Reason: []byte(reason)}
	c.closeWith(f, &TransportError{Code: code, FrameType: ft, Reason: reason}, now)
}

// closeWith sends CONNECTION_CLOSE and ends the connection; for three PTOs
// its endpoint answers further packets with the same datagram.
func (c *Conn) closeWith(f packet.ConnectionCloseFrame, err error, now time.Time) {
	if c.state == stateClosed {
		return
	}
	if len(f.Reason) > maxCloseReason {
		f.Reason = f.Reason[:maxCloseReason]
	}
	c.sendClose(f, now)
	c.endWithPeriod(err, now)
}

// sendClose sends the CONNECTION_CLOSE frame f in the packet type the peer
// can open, and keeps the datagram to repeat it.
func (c *Conn) sendClose(f packet.ConnectionCloseFrame, now time.Time) {
	b := make([]byte, 0, 64+f.Len()+crypto.TagLen)
	if c.keys != nil {
		// An address not yet validated gets at most three times what it
		// sent (docs/PROTOCOL.md section 9): the reason is cut to fit,
		// and with no room at all nothing is sent.
		room := c.sendBudget() - closeOverhead
		for len(f.Reason) > 0 && f.Len() > room {
			f.Reason = f.Reason[:len(f.Reason)-1]
		}
		if f.Len() > room {
			return
		}
		pn, err := c.loss.pnGen.Pop()
		if err != nil {
			return
		}
		pnLen := packet.PacketNumberLen(pn, c.loss.History().LargestAcked())
		var pnOffset int
		b, pnOffset = packet.AppendShortHeader(b, c.ids.remoteCID, c.keys.KeyPhase(), pnLen)
		b = packet.AppendPacketNumber(b, pn, pnLen)
		payloadStart := len(b)
		b = f.Append(b)
		for len(b)-pnOffset < 4 {
			b = append(b, 0)
		}
		frames := c.qlogFramesOf(b[payloadStart:])
		if b, err = c.keys.Seal(b, pnOffset, pnLen, uint64(pn)); err != nil {
			return
		}
		c.qlogPacket(qlog.PacketSent, pn, len(b), frames)
	} else if c.hs.initSeal != nil {
		// Before 1-RTT keys only a transport close may be sent, and only in
		// an Initial packet (docs/PROTOCOL.md section 2.1).
		if f.Application {
			f = packet.ConnectionCloseFrame{ErrorCode: uint64(packet.ApplicationError)}
		}
		b = c.buildInitialClose(b, f)
	} else {
		return
	}
	c.lifetime.closePacket = b
	c.path.bytesSent += int64(len(b))
	c.stats.bytesSent.Add(uint64(len(b)))
	c.stats.packetsSent.Add(1)
	if err := c.ep.bind().WriteBatch([]Datagram{{Buf: b, N: len(b), Addr: c.path.peer}}); err != nil {
		c.stats.sendErrors.Add(1)
	}
}

// maxCloseReason bounds the reason phrase a CONNECTION_CLOSE carries.
const maxCloseReason = 256

// maxClosingPeriod caps the closing and draining periods. Three PTOs is
// RFC 9000's "at least", but the peer's max_ack_delay, up to 16 s, is part
// of a PTO, and a peer could otherwise keep the closed connection's record,
// and its repeated CONNECTION_CLOSE, alive for most of a minute.
const maxClosingPeriod = 10 * time.Second

// closeOverhead bounds what a 1-RTT packet adds to a CONNECTION_CLOSE
// frame: the short header with the longest connection ID and packet
// number, and the AEAD tag.
const closeOverhead = 1 + packet.MaxConnIDLen + packet.MaxPacketNumberLen + crypto.TagLen

// enterDraining: the peer closed. The connection ends; its endpoint
// absorbs the peer's late packets for three PTOs without answering.
func (c *Conn) enterDraining(err error, now time.Time) {
	if c.state == stateClosed {
		return
	}
	c.endWithPeriod(err, now)
}

// endWithPeriod ends the connection with err, leaving a closing or
// draining period of three PTOs to its endpoint (RFC 9000 §10.2).
func (c *Conn) endWithPeriod(err error, now time.Time) {
	c.lifetime.closeUntil = now.Add(min(3*c.loss.rtt.PTO(c.peerParams.MaxAckDelay), maxClosingPeriod))
	if !c.isServer && c.keys == nil {
		// A client still in its handshake has nothing a late packet could
		// need (RFC 9000 §10.2 lets such an endpoint skip the closing
		// period).
		c.lifetime.closeUntil = now
	}
	c.terminate(err)
}

// setCloseErr records why the connection ended and fails every stream,
// so blocked application calls return at once.
func (c *Conn) setCloseErr(err error) {
	if c.closeErr != nil {
		return
	}
	c.closeErr = err
	c.stopOpening(err)
	for _, s := range c.streamsSnapshot() {
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
		err = &TransportError{Code: packet.InternalError, Reason: "internal error"}
	}
	c.terminate(err)
}

// finish runs once the loop has stopped: unroute the connection and release
// everyone waiting on it.
func (c *Conn) finish() {
	// Every ending sets closeErr first; this is the backstop that still
	// fails the streams and later opens.
	c.setCloseErr(net.ErrClosed)
	// Stop the bottleneck clocks: Stats stays what it was at the end.
	if c.keys != nil {
		now := time.Now()
		c.limit.charge(now)
		c.limit.endPeerWaits(now)
	}
	c.publishStats()
	c.stats.limitSince.Store(0)
	c.qlogClosed(c.closeErr)
	// An ending either side asked for is routine; any other is news.
	level := slog.LevelInfo
	var te *TransportError
	var ae *ApplicationError
	if errors.Is(c.closeErr, net.ErrClosed) || (errors.As(c.closeErr, &te) && te.Code == NoError) || (errors.As(c.closeErr, &ae) && ae.Code == 0) {
		level = slog.LevelDebug
	}
	c.diag(level, "connection ended", slog.String("error", c.closeErr.Error()))
	c.detachUnsent()
	c.ep.connDone(c, time.Now())
	c.cancelCtx(c.closeErr)
	close(c.done)
	c.rx.drain()
}

// Close closes the connection with NO_ERROR. Data not yet delivered is
// abandoned; use Stream.WaitConsumed first to know it arrived.
func (c *Conn) Close() error {
	return c.closeLocal(packet.ConnectionCloseFrame{ErrorCode: uint64(packet.NoError)},
		&TransportError{Code: packet.NoError})
}

// CloseWithError closes the connection with an application error code and
// reason, which the peer sees as an *ApplicationError.
func (c *Conn) CloseWithError(code ApplicationErrorCode, reason string) error {
	return c.closeLocal(packet.ConnectionCloseFrame{Application: true, ErrorCode: uint64(code), Reason: []byte(reason)},
		&ApplicationError{Code: code, Reason: reason})
}

// closeForShutdown sends CONNECTION_CLOSE and ends: the endpoint's socket
// is about to close, so there will be no closing period.
func (c *Conn) closeForShutdown() {
	err := &TransportError{Code: packet.NoError, Reason: "endpoint closed"}
	c.run(context.Background(), func(now time.Time) {
		c.closeWith(packet.ConnectionCloseFrame{ErrorCode: uint64(packet.NoError)}, err, now)
		c.lifetime.closeUntil = now
	})
}

func (c *Conn) closeLocal(f packet.ConnectionCloseFrame, err error) error {
	c.run(context.Background(), func(now time.Time) {
		// Receipts of what the application read last go before the
		// close, so that the peer's DeliveryError counts those bytes.
		c.collectPending(now)
		if len(c.streams.receipts) > 0 && c.state == stateActive {
			c.releaseReceipts(now, true)
			c.send(now)
		}
		c.closeWith(f, err, now)
		// The qlog trace ends here rather than after the closing period:
		// a program that exits once Close returns (qsend does) still
		// leaves a whole trace, CONNECTION_CLOSE included.
		if c.closeErr != nil {
			c.qlogClosed(c.closeErr)
		}
	})
	return nil
}

// streamsSnapshot is the connection's streams, copied under the lock so
// that each can then be locked on its own.
func (c *Conn) streamsSnapshot() []*Stream {
	c.streams.mu.Lock()
	defer c.streams.mu.Unlock()
	all := make([]*Stream, 0, len(c.streams.byID))
	for _, s := range c.streams.byID {
		all = append(all, s)
	}
	return all
}
