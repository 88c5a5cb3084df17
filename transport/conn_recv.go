package transport

import (
	"errors"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/qlog"
)

func (c *Conn) handleDatagram(rx *rxDatagram) {
	defer rx.release()
	b := rx.buf[:rx.n]
	now := rx.at
	if c.state == stateClosed {
		return // a datagram the loop read before it saw the close
	}
	if rx.from == c.path.peer {
		c.path.bytesRecv += int64(len(b))
	}
	if c.isServer && packet.IsLongHeader(b) && len(b) < packet.MinInitialDatagramSize {
		// A client pads every Initial datagram to 1200 bytes (RFC 9000
		// §14.1); smaller ones are dropped, though they count towards
		// the amplification limit.
		c.drop(&c.stats.malformed, len(b), dropInvalid)
		return
	}
	for first := true; len(b) > 0; first = false {
		if !first && b[0]&0x40 == 0 {
			// Not a packet (the Fixed Bit is clear): zero padding after
			// the datagram's packets, ignored (docs/PROTOCOL.md section 2).
			return
		}
		if packet.IsLongHeader(b) {
			h, err := packet.ParseLongHeader(b)
			if err != nil {
				c.drop(&c.stats.malformed, len(b), dropInvalid)
				return
			}
			pkt := b[:h.PacketLen]
			b = b[h.PacketLen:]
			switch h.Type {
			case packet.LongTypeInitial:
				c.handleInitial(pkt, h, rx.from, now)
			case packet.LongTypeRetry:
				c.handleRetry(pkt, h, rx.from, now)
			}
			continue
		}
		c.handleShort(b, rx, now)
		return
	}
}

// handleShort processes a 1-RTT packet.
func (c *Conn) handleShort(pkt []byte, rx *rxDatagram, now time.Time) {
	from := rx.from
	if c.keys == nil {
		return
	}
	h, err := packet.ParseShortHeader(pkt, packet.DefaultConnIDLen)
	if err != nil {
		c.drop(&c.stats.malformed, len(pkt), dropInvalid)
		return
	}
	pnLen, trunc, byte0, err := c.keys.UnprotectHeader(pkt, h.PNOffset)
	if err != nil {
		c.onUndecryptable(pkt)
		return
	}
	pn := packet.DecodePacketNumber(c.acks.LargestReceived(), trunc, pnLen)
	payload, err := c.keys.Open(pkt, h.PNOffset, pnLen, uint64(pn), packet.KeyPhaseFromByte0(byte0), now, c.loss.rtt.PTO(c.peerParams.MaxAckDelay))
	if err != nil {
		if errors.Is(err, crypto.ErrAEADLimitReached) {
			c.closeTransport(packet.AEADLimitReached, 0, "too many forged packets", now)
			return
		}
		if errors.Is(err, crypto.ErrKeyUpdate) {
			// Authentic, under the generation after next: the peer updated
			// twice without waiting for our packet of the phase between
			// (docs/PROTOCOL.md section 4.6).
			c.closeTransport(packet.KeyUpdateError, 0, "key updated again before an acknowledgement of the previous update", now)
			return
		}
		c.onUndecryptable(pkt)
		return
	}
	if packet.ReservedBitsSet(byte0) {
		c.closeTransport(packet.ProtocolViolation, 0, "reserved header bits set", now)
		return
	}
	if c.acks.IsDuplicate(pn) {
		if c.fec.dec != nil && c.fec.dec.WasRecovered(pn) {
			// The original of a packet FEC rebuilt, late: not a copy the
			// network made (docs/PROTOCOL.md section 10).
			return
		}
		c.drop(&c.stats.duplicates, len(pkt), "duplicate")
		return
	}
	c.stats.packetsReceived.Add(1)
	c.qlogPacket(qlog.PacketReceived, pn, len(pkt), c.qlogFramesOf(payload))
	c.stats.bytesReceived.Add(uint64(len(pkt)))
	c.idle.lastRecv = now
	c.idle.base = now
	if c.isServer && !c.hs.confirmed {
		// Only the client could have sealed this: the handshake is
		// confirmed and the client's address validated.
		c.hs.confirmed = true
		c.path.validated = true
		c.hs.sendDone = true
		c.hs.initOpen, c.hs.initSeal = nil, nil
		c.issueConnIDs()
		c.hs.acceptDue = true
	}
	if from != c.path.peer && pn > c.acks.LargestReceived() {
		// Only an authenticated packet newer than any seen may move the
		// path, so a replayed or reordered old packet cannot
		// (docs/PROTOCOL.md section 9).
		c.onPeerAddressChange(from, rx.n, now)
	}
	if c.isServer && from == c.path.peer && pn > c.acks.LargestReceived() {
		c.path.local = rx.local
	}
	c.path.rxFrom, c.path.rxLen = from, rx.n
	c.fec.rxPN = pn
	ackEliciting, err := c.handleFrames(payload, now)
	if err != nil {
		c.closeOnFrameError(err, now)
		return
	}
	if c.state == stateClosed {
		return
	}
	c.acks.OnPacketReceived(pn, ackEliciting, now)
	switch {
	case c.acks.probeOnly && rx.n > baseDatagramSize:
		// A path MTU probe: its sender waits on the answer.
		c.acks.AckNow(now)
	case c.acks.immediate:
		c.acks.AckNow(now)
	}
	// A CE mark is a congestion signal the sender should hear of without
	// delay (RFC 9000 §13.2.1).
	c.acks.OnCongestionExperienced(rx.ecn == packet.ECNCE, ackEliciting, now)
	c.ecnOnReceived(rx.ecn)
	c.fecAfterPacket(pn, payload, now)
}

// closeOnFrameError closes the connection with the error a frame caused.
func (c *Conn) closeOnFrameError(err error, now time.Time) {
	var te *transportError
	if errors.As(err, &te) {
		c.closeTransport(te.code, te.frame, te.reason, now)
	} else {
		c.closeTransport(packet.InternalError, 0, err.Error(), now)
	}
}

// onUndecryptable handles a short-header packet that failed to open: a
// stateless reset from the peer ends the connection; anything else is
// counted and dropped.
func (c *Conn) onUndecryptable(pkt []byte) {
	if c.isStatelessReset(pkt) {
		c.terminate(ErrStatelessReset)
		return
	}
	c.drop(&c.stats.authFailed, len(pkt), dropDecryptionFailure)
}

// transportError is a protocol error found while processing frames; the
// connection closes with its code.
type transportError struct {
	code   packet.TransportErrorCode
	frame  packet.FrameType
	reason string
}

func (e *transportError) Error() string { return e.reason }

func protoErr(code packet.TransportErrorCode, ft packet.FrameType, reason string) error {
	return &transportError{code: code, frame: ft, reason: reason}
}

// handleFrames processes a 1-RTT payload and reports whether it was
// ack-eliciting.
func (c *Conn) handleFrames(p []byte, now time.Time) (ackEliciting bool, err error) {
	if len(p) == 0 {
		return false, protoErr(packet.ProtocolViolation, 0, "packet with no frames")
	}
	c.fec.hasStream, c.fec.hasOther = false, false
	c.acks.probeOnly, c.acks.immediate = true, false
	for len(p) > 0 {
		ft, _, err := packet.PeekFrameType(p)
		if err != nil {
			return ackEliciting, protoErr(packet.FrameEncodingError, ft, err.Error())
		}
		if ft.AckEliciting() {
			ackEliciting = true
		}
		if ft != packet.FramePing && ft != packet.FramePadding {
			c.acks.probeOnly = false
		}
		if err := c.fecNoteFrame(ft); err != nil {
			return ackEliciting, err
		}
		n, err := c.handleFrame(ft, p, now)
		if err != nil {
			return ackEliciting, err
		}
		p = p[n:]
		if c.state == stateClosed {
			return ackEliciting, nil
		}
	}
	return ackEliciting, nil
}

func frameErr(ft packet.FrameType, err error) error {
	return protoErr(packet.FrameEncodingError, ft, err.Error())
}

// handleFrame processes the frame at the start of p and returns its length.
func (c *Conn) handleFrame(ft packet.FrameType, p []byte, now time.Time) (int, error) {
	switch {
	case ft.IsStream():
		f, n, err := packet.ParseStreamFrame(p)
		if err != nil {
			return 0, frameErr(ft, err)
		}
		return n, c.onStreamFrame(f, now)
	case ft == packet.FramePadding:
		_, n, _ := packet.ParsePaddingFrame(p)
		return n, nil
	case ft == packet.FramePing:
		return 1, nil
	case ft == packet.FrameAck || ft == packet.FrameAckECN:
		f, n, err := packet.ParseAckFrame(p, c.acks.buf[:0])
		if err != nil {
			return 0, frameErr(ft, err)
		}
		if cap(f.Ranges) <= maxKeptAckRanges {
			// A peer's one ACK of tens of thousands of ranges must not
			// leave its scratch space with the connection for good.
			c.acks.buf = f.Ranges[:0]
		}
		return n, c.onAck(f, now)
	case ft == packet.FrameResetStream:
		f, n, err := packet.ParseResetStreamFrame(p)
		if err != nil {
			return 0, frameErr(ft, err)
		}
		return n, c.onResetStream(f, now)
	case ft == packet.FrameStopSending:
		f, n, err := packet.ParseStopSendingFrame(p)
		if err != nil {
			return 0, frameErr(ft, err)
		}
		return n, c.onStopSending(f)
	case ft == packet.FrameMaxData:
		f, n, err := packet.ParseMaxDataFrame(p)
		if err != nil {
			return 0, frameErr(ft, err)
		}
		if c.streams.connSend.SetLimit(f.Max) {
			c.limit.connBlocked = false
			c.wakeAllSenders()
		}
		return n, nil
	case ft == packet.FrameMaxStreamData:
		f, n, err := packet.ParseMaxStreamDataFrame(p)
		if err != nil {
			return 0, frameErr(ft, err)
		}
		return n, c.onMaxStreamData(f)
	case ft == packet.FrameMaxStreamsBidi || ft == packet.FrameMaxStreamsUni:
		f, n, err := packet.ParseMaxStreamsFrame(p)
		if err != nil {
			return 0, frameErr(ft, err)
		}
		return n, c.onMaxStreams(f)
	case ft == packet.FrameDataBlocked:
		f, n, err := packet.ParseDataBlockedFrame(p)
		if err != nil {
			return 0, frameErr(ft, err)
		}
		c.notePeerBlocked(nil, f.Limit, now)
		c.onPeerBlocked(nil, f.Limit)
		return n, nil
	case ft == packet.FrameStreamDataBlocked:
		f, n, err := packet.ParseStreamDataBlockedFrame(p)
		if err != nil {
			return 0, frameErr(ft, err)
		}
		s, err := c.streamForFrame(f.StreamID, ft, false)
		if s != nil {
			c.notePeerBlocked(s, f.Limit, now)
			c.onPeerBlocked(s, f.Limit)
		}
		return n, err
	case ft == packet.FrameStreamsBlockedBidi || ft == packet.FrameStreamsBlockedUni:
		_, n, err := packet.ParseStreamsBlockedFrame(p)
		if err != nil {
			return 0, frameErr(ft, err)
		}
		return n, nil
	case ft == packet.FrameNewConnectionID:
		f, n, err := packet.ParseNewConnectionIDFrame(p)
		if err != nil {
			return 0, frameErr(ft, err)
		}
		return n, c.onNewConnectionID(f)
	case ft == packet.FrameRetireConnectionID:
		f, n, err := packet.ParseRetireConnectionIDFrame(p)
		if err != nil {
			return 0, frameErr(ft, err)
		}
		return n, c.onRetireConnectionID(f)
	case ft == packet.FramePathChallenge:
		f, n, err := packet.ParsePathChallengeFrame(p)
		if err != nil {
			return 0, frameErr(ft, err)
		}
		c.onPathChallenge(f, c.path.rxFrom, c.path.rxLen)
		return n, nil
	case ft == packet.FramePathResponse:
		f, n, err := packet.ParsePathResponseFrame(p)
		if err != nil {
			return 0, frameErr(ft, err)
		}
		c.onPathResponse(f)
		return n, nil
	case ft == packet.FrameConnectionClose || ft == packet.FrameConnectionCloseApp:
		f, n, err := packet.ParseConnectionCloseFrame(p)
		if err != nil {
			return 0, frameErr(ft, err)
		}
		c.onConnectionClose(f, now)
		return n, nil
	case ft == packet.FrameAckFrequency:
		f, n, err := packet.ParseAckFrequencyFrame(p)
		if err != nil {
			return 0, frameErr(ft, err)
		}
		return n, c.onAckFrequency(f)
	case ft == packet.FrameImmediateAck:
		c.acks.immediate = true
		return 1, nil
	case ft == packet.FrameHandshakeDone:
		if c.isServer {
			return 0, protoErr(packet.ProtocolViolation, ft, "HANDSHAKE_DONE from client")
		}
		if !c.hs.confirmed {
			c.hs.confirmed = true
			c.hs.initOpen, c.hs.initSeal = nil, nil
		}
		return 1, nil
	case ft == packet.FrameNewToken:
		if c.isServer {
			return 0, protoErr(packet.ProtocolViolation, ft, "NEW_TOKEN from client")
		}
		_, n, err := packet.ParseNewTokenFrame(p)
		if err != nil {
			return 0, frameErr(ft, err)
		}
		return n, nil
	case ft == packet.FrameConsumed:
		f, n, err := packet.ParseConsumedFrame(p)
		if err != nil {
			return 0, frameErr(ft, err)
		}
		return n, c.onConsumed(f)
	case ft == packet.FrameCrypto:
		return 0, protoErr(packet.ProtocolViolation, ft, "CRYPTO frame in 1-RTT packet")
	case ft == packet.FrameFECRepair:
		return c.onFECRepair(p)
	}
	return 0, protoErr(packet.FrameEncodingError, ft, "unknown frame type")
}

// onConnectionClose handles the peer's CONNECTION_CLOSE: drain for three PTOs.
func (c *Conn) onConnectionClose(f packet.ConnectionCloseFrame, now time.Time) {
	if c.state == stateClosed {
		return
	}
	var cerr error = &TransportError{Code: packet.TransportErrorCode(f.ErrorCode), FrameType: f.FrameType, Reason: string(f.Reason), Remote: true}
	if f.Application {
		cerr = &ApplicationError{Code: ApplicationErrorCode(f.ErrorCode), Reason: string(f.Reason), Remote: true}
	}
	c.enterDraining(cerr, now)
}
