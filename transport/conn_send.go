package transport

import (
	"time"

	"github.com/limpetnet/limpet/ackframes"
	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/qlog"
)

// maxSendBatch bounds the datagrams built per loop iteration: enough for a
// GSO train, few enough that received ACKs are not left waiting.
const maxSendBatch = 64

// maxSendBatchBytes bounds them in bytes too: 64 jumbo or loopback-sized
// datagrams would be 4 MiB of buffers per batch.
const maxSendBatchBytes = 1 << 20

// txState is the loop's packet-building scratch.
type txState struct {
	// bufs are the datagrams being built, borrowed from txBatchPool for
	// one call of send: an idle connection holds no send buffers.
	bufs []Datagram
	rec  sentFrames // record of the packet being built
	// mark is the ECN codepoint of the packet just built, for its
	// datagram.
	mark ECN

	// testDrop, set only by tests, drops a built packet as if the network
	// lost it (it still counts as sent and is recovered).
	testDrop  func(rec *sentFrames) bool
	dropBuilt bool

	// full says the last send filled its batch: more may be due at once.
	full bool
	// built is the bytes of the batch built so far, which sendBudget
	// counts before flush adds them to path.bytesSent.
	built int64
}

// send writes every packet the connection may send now.
func (c *Conn) send(now time.Time) {
	switch c.state {
	case stateClosed:
		return
	}
	// The bottleneck accounting starts with the 1-RTT keys: before, the
	// handshake limits the connection, not anything a report could name.
	accounting := c.keys != nil
	if accounting {
		c.limit.charge(now)
	} else {
		c.limit.since = now
	}
	batch := txBatchPool.get()
	c.tx.bufs = batch.d
	defer func() {
		c.tx.bufs = nil
		txBatchPool.put(batch)
	}()
	c.releaseHeld()
	// Receipts whose time has come join the control frames even if the
	// window holds them back, so that their deadline does not keep waking
	// the loop.
	c.releaseReceipts(now, false)
	n := 0
	initialBytes := 0
	c.tx.full, c.tx.built = false, 0
	for n < len(c.tx.bufs) && c.needInitial(now) {
		b := c.buildInitial(c.tx.bufs[n].Buf[:0], now)
		initialBytes += len(b)
		if !c.amplificationAllows(initialBytes) {
			c.hs.resends = 0 // the client must send more first
			break
		}
		c.tx.bufs[n].Buf = b
		c.tx.bufs[n].ECN = packet.ECNNotECT // long-header packets are never marked
		c.tx.built += int64(len(b))
		n++
	}
	if c.keys != nil {
		if size, ok := c.mtuProbeDue(now); ok {
			c.sendMTUProbe(size, now)
		}
		// Large datagrams fill fewer buffers per iteration, so a batch
		// pins at most about maxSendBatchBytes.
		limit := min(len(c.tx.bufs), max(1, maxSendBatchBytes/c.path.maxPacket))
		for n < limit {
			ackOnly := !c.canSendAckEliciting(now)
			var b []byte
			buf := c.txBuffer(n)
			c.tx.mark = packet.ECNNotECT
			if !ackOnly && c.fecRepairDue() {
				// Repair packets go before new data, so the peer gets them
				// while the group's packets are fresh (docs/PROTOCOL.md
				// section 10).
				b = c.buildRepairPacket(buf, now)
			}
			if len(b) == 0 {
				b = c.buildAppPacket(buf, now, ackOnly)
			}
			if len(b) == 0 {
				if !ackOnly && c.fecFlushIdle() {
					continue // nothing more to send: protect the partial group
				}
				break
			}
			c.tx.bufs[n].Buf = b
			c.tx.bufs[n].ECN = c.tx.mark
			if c.tx.dropBuilt {
				c.tx.dropBuilt = false // test hook: lose it on the wire
			} else {
				c.tx.built += int64(len(b))
				n++
			}
			if ackOnly {
				break
			}
		}
		c.tx.full = n >= limit
	}
	failed := c.flush(n, now, accounting)
	c.tx.built = 0
	if n == 0 && accounting {
		// The iteration's work (what came in, the timers) was the CPU's.
		c.limit.state = limitCPU
		c.limit.charge(time.Now())
	}
	if len(c.path.responses) > 0 && c.keys != nil {
		c.sendPathResponsesElsewhere(now)
	}
	if accounting {
		c.setLimit(c.classifyLimit(now, failed))
	}
}

// txBatch is one call of send's worth of datagram buffers, maxSendBatch
// of them. (A pointer to an array would do, but the generic pool of one
// hits a compiler internal error, "bad ptr to array in slice".)
type txBatch struct{ d []Datagram }

// txBatchPool shares send buffers among an endpoint's connections: a
// connection needs them only while it builds packets. Buffers start at an
// Ethernet datagram and grow to the largest datagram size in use.
var txBatchPool = newBufferPool(4, func() *txBatch {
	b := &txBatch{d: make([]Datagram, maxSendBatch)}
	for i := range b.d {
		b.d[i].Buf = make([]byte, 0, packet.DefaultMaxUDPPayload+crypto.TagLen)
	}
	return b
})

// txBuffer returns the i-th datagram buffer of the batch, empty and with
// room for a datagram of the path's current size.
func (c *Conn) txBuffer(i int) []byte {
	d := &c.tx.bufs[i]
	if cap(d.Buf) < c.path.maxPacket+crypto.TagLen {
		d.Buf = make([]byte, 0, c.path.maxPacket+crypto.TagLen)
	}
	return d.Buf[:0]
}

// flush hands the first n built datagrams to the socket.
//
// With accounting, the loop's time since the iteration began (handling
// what came in, building the batch) and the system call count as the
// CPU's, and the time the socket made the call wait for buffer space as
// the socket's. It reports whether the socket refused the batch.
func (c *Conn) flush(n int, now time.Time, accounting bool) (failed bool) {
	if n == 0 {
		return false
	}
	out := c.tx.bufs[:n]
	for i := range out {
		out[i].N = len(out[i].Buf)
		out[i].Addr = c.path.peer
		out[i].Local = c.path.local
		out[i].SegmentSize = 0
		c.path.bytesSent += int64(out[i].N)
		c.stats.bytesSent.Add(uint64(out[i].N))
	}
	bind := c.ep.bind()
	if !accounting {
		return c.flushed(bind.WriteBatch(out), now)
	}
	start := time.Now()
	c.limit.state = limitCPU
	c.limit.charge(start)
	waited := sendBlocked(bind)
	err := bind.WriteBatch(out)
	c.limit.chargeSend(start, time.Now(), sendBlocked(bind)-waited)
	return c.flushed(err, now)
}

// flushed handles WriteBatch's outcome and reports whether it failed.
func (c *Conn) flushed(err error, now time.Time) bool {
	if err != nil {
		c.stats.sendErrors.Add(1)
		c.maybeMigrate(now, err)
		return true
	}
	return false
}

// amplificationAllows applies the 3× limit before the peer's address is
// validated (docs/PROTOCOL.md section 9).
func (c *Conn) amplificationAllows(size int) bool {
	return c.path.validated || c.path.bytesSent+int64(size) <= 3*c.path.bytesRecv
}

// minAppPacket is the smallest 1-RTT packet worth building.
const minAppPacket = 64

// minResetTrigger is the smallest ack-eliciting packet sent: a peer answers
// only packets longer than crypto.MinStatelessResetLen with a stateless
// reset.
const minResetTrigger = crypto.MinStatelessResetLen + 1

// sendBudget is the largest datagram we may send now: the path MTU, or
// less before the peer's address is validated (3× what it sent us).
func (c *Conn) sendBudget() int {
	if c.path.validated {
		return c.path.maxPacket
	}
	return int(max(0, min(int64(c.path.maxPacket), 3*c.path.bytesRecv-c.path.bytesSent-c.tx.built)))
}

// canSendAckEliciting applies congestion control and pacing.
func (c *Conn) canSendAckEliciting(now time.Time) bool {
	if c.loss.probes > 0 {
		return true
	}
	if !c.loss.cc.CanSend(c.cwndInFlight()) {
		return false
	}
	return c.loss.pacer.TimeUntilSend(now) <= 0
}

// buildAppPacket builds one 1-RTT packet into b, or returns nil if there is
// nothing to send. With ackOnly it sends only an ACK, if one is due.
func (c *Conn) buildAppPacket(b []byte, now time.Time, ackOnly bool) []byte {
	pn := c.loss.pnGen.Peek()
	pnLen := packet.PacketNumberLen(pn, c.loss.History().LargestAcked())
	b, pnOffset := packet.AppendShortHeader(b, c.ids.remoteCID, c.keys.KeyPhase(), pnLen)
	b = packet.AppendPacketNumber(b, pn, pnLen)
	payloadStart := len(b)
	budget := c.probeBudget(c.sendBudget())
	if budget < minAppPacket {
		return nil
	}
	limit := budget - crypto.TagLen
	rec := &c.tx.rec
	rec.reset()
	c.fecDecideProtection()
	ackEliciting := false

	// An ACK goes out when the ACK policy says so, or rides along in a
	// packet that is sent anyway (docs/PROTOCOL.md section 5; RFC 9000
	// §13.2). It is built first, at most ackReserve bytes, so that the
	// other frames leave exactly its room: a fixed reserve left data
	// packets that carried a 12-byte ACK 53 bytes short of the datagram.
	const ackReserve = 64
	ackDue := c.acks.ShouldAckNow(now)
	if !ackOnly {
		c.releaseReceipts(now, ackDue)
	}
	ackRoom := min(ackReserve, limit-len(b))
	if ackOnly {
		ackRoom = limit - len(b) // only path frames compete for the room
	}
	ack, ackLen := c.buildAck(now, ackRoom)
	// Path frames come first and may use the ACK's reserve: on a new path
	// the 3× budget can be under 100 bytes (the peer sent one small ACK),
	// and the challenge is what unlocks the rest. Like ACKs they are not
	// held back by a congestion window that the old path filled.
	b = c.appendPathFrames(b, limit, rec)
	pathFrames := len(b) > payloadStart
	if pathFrames {
		ackEliciting = true
	}
	// With FEC on, a packet with stream data is a source packet: it leaves
	// room for its group's repair frame, whose symbol is longer than the
	// longest payload (docs/PROTOCOL.md section 10).
	sentData := false
	if !ackOnly {
		frameLimit := limit - ackLen
		b = c.appendControlFrames(b, frameLimit, rec, now)
		if len(b) > payloadStart && rec.hasAckEliciting() {
			ackEliciting = true
		}
		b, sentData = c.appendStreamFrames(b, frameLimit-c.fec.reserve(), rec, now)
		if sentData {
			ackEliciting = true
			c.mtu.streamSentAt = now
		}
		if c.loss.probes > 0 && c.ackFreq.enabled && len(b) < frameLimit {
			// A probe's ACK should not wait for the peer's threshold or delay
			// (docs/PROTOCOL.md section 5, "ACK frequency").
			b = append(b, byte(packet.FrameImmediateAck))
			ackEliciting = true
		}
		if !ackEliciting && (c.loss.pingDue || c.loss.probes > 0) {
			b = append(b, byte(packet.FramePing))
			ackEliciting = true
		}
	}
	if ackLen > 0 && (ackDue || ackEliciting) {
		room := limit - len(b)
		if sentData {
			room -= c.fec.reserve()
		}
		if room > ackRoom || room < ackLen {
			// The other frames left more room than the first build had,
			// and a longer ACK with more ranges may fit, or path frames
			// took some of it and a shorter one must do. BuildAck lists
			// ranges from the top in the same order whatever its limit,
			// so rebuilding into the shared buffer leaves the first
			// frame's ranges as they were; it is kept when the rebuild is
			// no longer (the ECN counts' reserve is an estimate, which
			// can leave the rebuild a byte or two less room).
			if f, n := c.buildAck(now, room); n > ackLen || room < ackLen {
				ack, ackLen = f, n
			}
		}
		if ackLen > 0 {
			b = ack.Append(b)
			c.acks.OnAckSent()
			rec.add(sentFrame{kind: sentAck, offset: int64(ack.LargestAcked())})
		}
	}
	if len(b) == payloadStart {
		return nil
	}
	if ackEliciting {
		// A PING or a control frame alone can be the only thing a client
		// sends to a server that restarted (all its data acknowledged,
		// the rest held by flow control): it must be long enough to be
		// answered with a stateless reset (docs/PROTOCOL.md section 2.4).
		for len(b)+crypto.TagLen < minResetTrigger {
			b = append(b, 0) // PADDING
		}
	}
	return c.finishAppPacket(b, pn, pnOffset, pnLen, payloadStart, rec, ackEliciting, pathFrames, now)
}

// finishAppPacket seals the 1-RTT packet numbered pn whose plaintext is
// b[payloadStart:] and records it for loss recovery and congestion control.
// A packet with stream data and no path frames joins the FEC group
// (docs/PROTOCOL.md section 10).
func (c *Conn) finishAppPacket(b []byte, pn packet.PacketNumber, pnOffset, pnLen, payloadStart int, rec *sentFrames, ackEliciting, pathFrames bool, now time.Time) []byte {
	if ackEliciting {
		c.loss.pingDue = false
		if c.loss.probes > 0 {
			c.loss.probes--
		}
	}
	// Room for the header-protection sample: pnLen + payload ≥ 4.
	for len(b)-pnOffset < 4 {
		b = append(b, 0)
	}
	pnPopped, err := c.loss.pnGen.Pop()
	if err != nil || pnPopped != pn {
		c.abort(err)
		return nil
	}
	c.fecProtect(pn, b[payloadStart:], rec, pathFrames)
	frames := c.qlogFramesOf(b[payloadStart:])
	b, err = c.keys.Seal(b, pnOffset, pnLen, uint64(pn))
	if err != nil {
		c.closeTransport(packet.AEADLimitReached, 0, err.Error(), now)
		return nil
	}
	size := len(b)
	c.qlogPacket(qlog.PacketSent, pn, size, frames)
	c.stats.packetsSent.Add(1)
	if c.tx.testDrop != nil && c.tx.testDrop(rec) {
		c.tx.dropBuilt = true
	}
	if ackEliciting {
		if !c.idle.lastAckElicit.After(c.idle.lastRecv) {
			// The first ack-eliciting packet since the last receipt
			// restarts the idle timer (RFC 9000 §10.1).
			c.idle.base = now
		}
		c.idle.lastAckElicit = now
		c.tx.mark = c.ecnOnSent(pn)
		rec.ecnMarked = c.tx.mark == packet.ECNECT0
		sp := ackframes.SentPacket[sentFrames]{
			Number: pn, TimeSent: now, Size: size,
			AckEliciting: true, InFlight: true, Frames: rec.keep(&c.loss.spareFrames),
		}
		if err := c.loss.OnPacketSent(sp); err != nil {
			c.abort(err)
			return nil
		}
		c.loss.cc.OnPacketSent(now, int64(pn), size)
		c.loss.pacer.OnSent(now, size)
	} else {
		// Not stored, but its send time is kept for the RTT sample of an
		// ACK that names it largest.
		if err := c.loss.OnPacketSent(ackframes.SentPacket[sentFrames]{Number: pn, TimeSent: now, Size: size}); err != nil {
			c.abort(err)
			return nil
		}
	}
	if c.keys.ShouldUpdate() && c.keys.CanUpdate() && c.hs.confirmed {
		c.keys.InitiateKeyUpdate()
	}
	return b
}

func (s *sentFrames) hasAckEliciting() bool {
	for i := 0; i < s.len(); i++ {
		if s.at(i).kind != sentAck {
			return true
		}
	}
	return false
}

// appendControlFrames adds due control frames: HANDSHAKE_DONE, MAX_DATA,
// MAX_STREAMS, and each queued stream's flow-control, reset and receipt
// frames.
func (c *Conn) appendControlFrames(b []byte, limit int, rec *sentFrames, now time.Time) []byte {
	const reserve = 32 // the largest control frame we emit
	b = c.appendConnIDFrames(b, limit-reserve, rec)
	b = c.appendAckFrequency(b, limit, rec)
	if c.hs.sendDone && len(b)+1 <= limit {
		b = append(b, byte(packet.FrameHandshakeDone))
		rec.add(sentFrame{kind: sentHandshakeDone})
		c.hs.sendDone = false
	}
	// Room is checked before asking for each frame: asking marks it sent,
	// so a frame asked for and then left out for lack of room would never
	// go (a MAX_DATA lost that way stalls the peer for good).
	if len(b)+reserve <= limit {
		b = c.appendMaxData(b, rec, now)
	}
	for _, ids := range [2]*remoteIDs{{c.streams.remoteBidi, true}, {c.streams.remoteUni, false}} {
		if len(b)+reserve > limit {
			break
		}
		if lim, ok := ids.ids.MaxStreamsToSend(); ok {
			b = packet.MaxStreamsFrame{Bidirectional: ids.bidi, Max: lim}.Append(b)
			kind := sentMaxStreamsUni
			if ids.bidi {
				kind = sentMaxStreamsBidi
			}
			rec.add(sentFrame{kind: kind, offset: int64(lim)})
		}
	}
	if c.streams.connSend != nil && len(b)+reserve <= limit {
		if lim, ok := c.streams.connSend.Blocked(); ok {
			b = packet.DataBlockedFrame{Limit: lim}.Append(b)
			rec.add(sentFrame{kind: sentDataBlocked, offset: lim})
		}
	}
	for len(c.streams.lostReceipts) > 0 && len(b)+reserve <= limit {
		f := c.streams.lostReceipts[len(c.streams.lostReceipts)-1]
		c.streams.lostReceipts = c.streams.lostReceipts[:len(c.streams.lostReceipts)-1]
		b = packet.ConsumedFrame{StreamID: f.id, Offset: f.offset}.Append(b)
		rec.add(f)
	}
	keep := c.streams.ctrl[:0]
	for _, s := range c.streams.ctrl {
		if len(b)+4*reserve > limit {
			keep = append(keep, s)
			continue
		}
		b = c.appendStreamControl(b, s, rec, now)
		s.queuedCtrl = false
		c.maybeFinishStream(s)
	}
	for i := len(keep); i < len(c.streams.ctrl); i++ {
		c.streams.ctrl[i] = nil
	}
	c.streams.ctrl = keep
	// A stream's update may have enlarged the connection window
	// (EnsureMinimum), whose update is then due at once.
	if len(b)+reserve <= limit {
		b = c.appendMaxData(b, rec, now)
	}
	return b
}

// appendMaxData adds MAX_DATA if an update of the connection window is due.
func (c *Conn) appendMaxData(b []byte, rec *sentFrames, now time.Time) []byte {
	if lim, ok := c.streams.connRecv.Update(now, c.loss.rtt.Smoothed()); ok {
		b = packet.MaxDataFrame{Max: lim}.Append(b)
		rec.add(sentFrame{kind: sentMaxData, offset: lim})
	}
	return b
}

type remoteIDs struct {
	ids  interface{ MaxStreamsToSend() (uint64, bool) }
	bidi bool
}

// appendStreamControl adds the control frames stream s has due.
func (c *Conn) appendStreamControl(b []byte, s *Stream, rec *sentFrames, now time.Time) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.send != nil {
		if code, size, ok := s.send.ResetToSend(); ok {
			b = packet.ResetStreamFrame{StreamID: s.id, ErrorCode: code, FinalSize: size}.Append(b)
			rec.add(sentFrame{kind: sentResetStream, id: s.id})
		}
		if lim, ok := s.send.Blocked(); ok {
			b = packet.StreamDataBlockedFrame{StreamID: s.id, Limit: lim}.Append(b)
			rec.add(sentFrame{kind: sentStreamDataBlocked, id: s.id, offset: lim})
		}
	}
	if s.recv != nil {
		// CONSUMED goes before STOP_SENDING: the sender learns how far
		// the application read before it learns that reading stopped.
		stopCode, stop := s.recv.StopSendingToSend()
		if off, ok := s.recv.ConsumedToReport(); ok {
			b = packet.ConsumedFrame{StreamID: s.id, Offset: off}.Append(b)
			rec.add(sentFrame{kind: sentConsumed, id: s.id, offset: off})
		}
		if stop {
			b = packet.StopSendingFrame{StreamID: s.id, ErrorCode: stopCode}.Append(b)
			rec.add(sentFrame{kind: sentStopSending, id: s.id})
		}
		if lim, ok := s.recv.WindowUpdate(now, c.loss.rtt.Smoothed()); ok {
			b = packet.MaxStreamDataFrame{StreamID: s.id, Max: lim}.Append(b)
			rec.add(sentFrame{kind: sentMaxStreamData, id: s.id, offset: lim})
			// A stream window that auto-tuning enlarged pulls the
			// connection's along to 1.5 times its size (as quic-go does),
			// so that one fast stream is not held back by the connection
			// window, which tunes on its own more slowly.
			c.streams.connRecv.EnsureMinimum(s.recv.WindowSize() + s.recv.WindowSize()/2)
		}
	}
	return b
}

// appendStreamFrames fills the rest of the packet with stream data, taking
// streams in the scheduler's order.
func (c *Conn) appendStreamFrames(b []byte, limit int, rec *sentFrames, now time.Time) ([]byte, bool) {
	sent := false
	for {
		room := limit - len(b)
		if room < 32 {
			return b, sent
		}
		id, ok := c.streams.sched.Next()
		if !ok {
			return b, sent
		}
		s := c.streams.byID[id]
		if s == nil || s.send == nil {
			c.streams.sched.Remove(id)
			continue
		}
		s.mu.Lock()
		off := s.send.BytesSent() // an upper bound on the offset's size
		maxData := packet.MaxStreamDataLen(id, off, room)
		if maxData <= 0 {
			s.mu.Unlock()
			return b, sent
		}
		if c.shouldHold(s, maxData, now) {
			s.mu.Unlock()
			c.streams.sched.Sent(id, 0, false)
			c.streams.held = append(c.streams.held, s)
			continue
		}
		s.heldSince = time.Time{}
		offset, data, fin, ok := s.send.NextFrame(maxData, c.streams.connSend)
		if !ok {
			// Out of credit: STREAM_DATA_BLOCKED or DATA_BLOCKED is due
			// (asking Blocked here would use up the frame before the
			// control pass could send it).
			c.noteCreditBlocked(s)
			s.mu.Unlock()
			c.streams.sched.Sent(id, 0, false)
			c.queueCtrl(s)
			continue
		}
		f := packet.StreamFrame{StreamID: id, Offset: offset, Data: data, Fin: fin}
		b = f.Append(b)
		c.stats.streamBytesSent.Add(uint64(s.send.BytesSent() - off))
		c.addUnsent(off - s.send.BytesSent())
		more := s.send.HasData()
		writable := s.send.Writable() > 0
		starved := !more && s.send.Unsent() > 0
		s.mu.Unlock()
		rec.add(sentFrame{kind: sentStream, id: id, offset: offset, length: len(data), fin: fin})
		if starved {
			// Out of flow-control credit: STREAM_DATA_BLOCKED is due.
			c.queueCtrl(s)
			s.mu.Lock()
			c.noteCreditBlocked(s)
			s.mu.Unlock()
		}
		c.streams.sched.Sent(id, len(data), more)
		sent = true
		if writable {
			signal(s.writable)
		}
	}
}

// coalesceDelay bounds how long a partial packet of new stream data waits
// for more writes.
const coalesceDelay = time.Millisecond

// shouldHold decides whether stream s's new data should wait to be
// coalesced with later writes (Nagle's algorithm, bounded in time): only a
// partial packet, only while the stream has data in flight, never a
// retransmission, a FIN or flushed data. s.mu is held.
func (c *Conn) shouldHold(s *Stream, maxData int, now time.Time) bool {
	if c.cfg.NoDelay || s.send.Closed() || s.send.HasRetransmission() {
		return false
	}
	unsent := s.send.Unsent()
	if unsent == 0 || unsent >= int64(maxData) || s.flushTo >= s.send.Written() {
		return false
	}
	if s.send.BytesSent() == s.send.BytesAcked() {
		return false // nothing in flight: send at once
	}
	if s.heldSince.IsZero() {
		s.heldSince = now
	}
	if now.Sub(s.heldSince) >= coalesceDelay {
		return false
	}
	if c.streams.holdUntil.IsZero() || s.heldSince.Add(coalesceDelay).Before(c.streams.holdUntil) {
		c.streams.holdUntil = s.heldSince.Add(coalesceDelay)
	}
	return true
}

// releaseHeld puts streams held for coalescing back in the schedule; the
// packer decides again whether they may send.
func (c *Conn) releaseHeld() {
	c.streams.holdUntil = time.Time{}
	for i, s := range c.streams.held {
		c.streams.sched.Push(s.id)
		c.streams.held[i] = nil
	}
	c.streams.held = c.streams.held[:0]
}

// onFramesAcked releases what an acknowledged packet carried.
func (c *Conn) onFramesAcked(fs *sentFrames) {
	fs.each(func(f *sentFrame) {
		switch f.kind {
		case sentStream:
			if s := c.streams.byID[f.id]; s != nil {
				s.mu.Lock()
				s.send.OnAcked(f.offset, f.length, f.fin)
				s.mu.Unlock()
				signal(s.writable)
				c.maybeFinishStream(s)
			}
		case sentResetStream:
			if s := c.streams.byID[f.id]; s != nil {
				s.mu.Lock()
				s.send.OnResetAcked()
				s.mu.Unlock()
				c.maybeFinishStream(s)
			}
		case sentAck:
			c.acks.OnAckAcked(packet.PacketNumber(f.offset))
		}
	})
}

// streamCtrlLost marks a stream's lost control frame for sending again, in
// the half of the stream that owns it; the caller holds s.mu.
var streamCtrlLost = map[sentFrameKind]func(s *Stream, offset int64){
	sentResetStream:       func(s *Stream, _ int64) { s.send.OnResetLost() },
	sentStopSending:       func(s *Stream, _ int64) { s.recv.OnStopSendingLost() },
	sentMaxStreamData:     func(s *Stream, offset int64) { s.recv.OnWindowUpdateLost(offset) },
	sentStreamDataBlocked: func(s *Stream, offset int64) { s.send.OnBlockedLost(offset) },
}

// onFramesLost queues what a lost packet carried to be sent again. Control
// frames are re-sent with their current values, not their old ones.
func (c *Conn) onFramesLost(fs *sentFrames) {
	fs.each(func(f *sentFrame) {
		s := c.streams.byID[f.id]
		switch f.kind {
		case sentStream:
			if s != nil {
				s.mu.Lock()
				s.send.OnLost(f.offset, f.length, f.fin)
				s.mu.Unlock()
				c.streams.sched.Push(f.id)
				c.stats.bytesRetransmitted.Add(uint64(f.length))
			}
		case sentResetStream, sentStopSending, sentMaxStreamData, sentStreamDataBlocked:
			if s != nil {
				s.mu.Lock()
				streamCtrlLost[f.kind](s, f.offset)
				s.mu.Unlock()
				c.queueCtrl(s)
			}
		case sentConsumed:
			if s != nil {
				s.mu.Lock()
				s.recv.OnConsumedLost(f.offset)
				s.mu.Unlock()
				c.queueCtrl(s)
			} else {
				// The stream is finished, so this was its final receipt:
				// the sender is waiting for it.
				c.streams.lostReceipts = append(c.streams.lostReceipts, *f)
			}
		case sentMaxData:
			c.streams.connRecv.OnUpdateLost(f.offset)
		case sentDataBlocked:
			c.streams.connSend.OnBlockedLost(f.offset)
		case sentMaxStreamsBidi:
			c.streams.remoteBidi.OnMaxStreamsLost(uint64(f.offset))
		case sentMaxStreamsUni:
			c.streams.remoteUni.OnMaxStreamsLost(uint64(f.offset))
		case sentHandshakeDone:
			c.hs.sendDone = true
		case sentNewConnID:
			c.onNewConnIDLost(uint64(f.offset))
		case sentRetireConnID:
			c.onRetireLost(uint64(f.offset))
		case sentPathChallenge:
			if c.path.challengePending {
				c.path.challengeDue = true
			}
		case sentAckFrequency:
			c.onAckFrequencyLost(uint64(f.offset))
		}
	})
}

// buildAck is the ACK frame the next packet would carry, at most maxLen
// bytes with its ECN counts, and its length; 0 when there is nothing to
// acknowledge or no room. The frame's ranges live in c.acks.buf until the
// next call.
func (c *Conn) buildAck(now time.Time, maxLen int) (packet.AckFrame, int) {
	if !c.acks.HasUnacked() {
		return packet.AckFrame{}, 0
	}
	f, ok := c.acks.BuildAck(now, 3, maxLen-c.ecnAckReserve(), c.acks.buf[:0])
	c.acks.buf = f.Ranges[:0] // keep what it grew to
	if !ok {
		return packet.AckFrame{}, 0
	}
	c.ecnAckFields(&f)
	return f, f.Len()
}
