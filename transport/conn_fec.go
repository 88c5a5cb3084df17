package transport

import (
	"log/slog"
	"time"

	"github.com/limpetnet/limpet/ackframes"
	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/internal/fec"
	"github.com/limpetnet/limpet/transport/qlog"
)

// maxFECHeld bounds the lost protected packets a sender holds back from
// retransmission while their group's repair packets may still rebuild
// them; beyond it, losses are retransmitted at once.
const maxFECHeld = 4096

// Adaptive FEC (docs/PROTOCOL.md section 10).
const (
	// adaptiveGroupSize is the largest group adaptive FEC makes. Groups
	// are the tail of a burst or what an application-limited sender
	// sends, usually far fewer packets.
	adaptiveGroupSize = 16
	// minFECRTT is the smoothed RTT below which adaptive FEC protects
	// nothing: a retransmission then costs less than the encoding.
	minFECRTT = 2 * time.Millisecond
)

// fecState is a connection's forward error correction (docs/PROTOCOL.md
// section 10). It is owned by the loop.
type fecState struct {
	// enc is set when we send repair packets (FEC not disabled, fixed
	// with Repair > 0 or adaptive, and the peer announced fec > 0); dec
	// when we announced fec > 0.
	enc *fec.Encoder
	dec *fec.Decoder
	// adaptive is set when enc chooses what to protect and how much
	// repair each group gets from the path's loss (Config.FEC.GroupSize
	// 0); protecting says the packet being built joins the open group.
	adaptive   bool
	protecting bool
	// pathLoss measures the current path's loss process, for adaptive FEC.
	pathLoss ackframes.LossProcess
	// peerMax is the most repair symbols per group the peer decodes.
	peerMax int

	// held are protected packets that loss detection declared lost, held
	// back until their group's repair packets have been acknowledged or
	// passed: if the peer rebuilt a packet, a later ACK covers it and its
	// frames count as delivered; otherwise they are retransmitted then.
	held []heldPacket

	// recovered are payloads the decoder rebuilt, waiting to be processed
	// once the packet that completed their group is done.
	recovered []recoveredPacket
	// recovering is set while a rebuilt payload's frames are processed.
	recovering bool
	// rxPN is the number of the packet being processed. hasStream and
	// hasOther say whether it carries STREAM frames, and path or
	// FEC_REPAIR frames: only a packet with the first and not the second
	// can be a source packet.
	rxPN                packet.PacketNumber
	hasStream, hasOther bool
}

// heldPacket is a lost protected packet waiting for its group's repairs.
type heldPacket struct {
	pn       packet.PacketNumber
	size     int
	inFlight bool
	timeSent time.Time
	frames   sentFrames
}

// recoveredPacket is a payload the decoder rebuilt.
type recoveredPacket struct {
	pn      packet.PacketNumber
	payload []byte
}

// init sets up decoding unless cfg turns FEC off.
func (f *fecState) init(cfg FECConfig) {
	if !cfg.Disable {
		f.dec = fec.NewDecoder(fec.DecoderConfig{MaxRepair: packet.MaxFECRepairSymbols})
	}
}

// announce is the fec transport parameter we send: the most repair
// symbols per group we decode, or 0.
func (f *fecState) announce() uint64 {
	if f.dec == nil {
		return 0
	}
	return packet.MaxFECRepairSymbols
}

// startSending sets up encoding once the peer's transport parameters are
// known: R is capped by what the peer decodes.
func (f *fecState) startSending(cfg FECConfig, peerMax uint64) {
	if cfg.Disable || peerMax == 0 || (cfg.GroupSize > 0 && cfg.Repair == 0) {
		return
	}
	f.peerMax = int(min(peerMax, packet.MaxFECRepairSymbols))
	var enc *fec.Encoder
	var err error
	if cfg.GroupSize == 0 {
		f.adaptive = true
		enc, err = fec.NewAdaptiveEncoder(adaptiveGroupSize, f.repairsFor)
	} else {
		enc, err = fec.NewEncoder(cfg.GroupSize, min(cfg.Repair, f.peerMax))
	}
	if err != nil {
		panic("limpet: " + err.Error()) // Config.FEC was validated
	}
	f.enc = enc
}

// repairsFor is adaptive FEC's repair count for a group of n sources.
func (f *fecState) repairsFor(n int) int {
	return min(fec.Repairs(n, f.pathLoss.Rate(), f.pathLoss.MeanBurst()), f.peerMax)
}

// reserve is how much room the packet being built leaves for the repair
// frame of its group: none unless it will be protected.
func (f *fecState) reserve() int {
	if f.enc == nil || !f.protecting {
		return 0
	}
	return f.enc.Reserve()
}

// fecDecideProtection decides, before a packet is built, whether it joins
// an FEC group if it carries stream data. Fixed FEC protects every such
// packet. Adaptive FEC protects only where repair saves a round trip
// without taking the place of data a window-limited sender would have
// sent: on a path seen to lose packets, with an RTT worth saving and
// datagrams that fit a symbol, it protects what an application-limited
// sender sends (everything it has fits the congestion window) and the
// last packets of a burst (less than a group left to send), and finishes
// any group it opened.
func (c *Conn) fecDecideProtection() {
	f := &c.fec
	f.protecting = f.enc != nil
	if !f.protecting || !f.adaptive {
		return
	}
	if c.path.maxPacket > fec.MaxPayload {
		// Path MTU discovery raised the size past what a symbol holds:
		// the open group closes with what it has.
		f.enc.Flush()
		f.protecting = false
		return
	}
	if f.enc.Open() > 0 {
		return
	}
	unsent := max(c.streams.unsent.Load(), 0)
	f.protecting = f.pathLoss.Rate() >= fec.MinLossRate &&
		c.loss.rtt.Smoothed() >= minFECRTT &&
		c.path.maxPacket <= fec.MaxPayload &&
		(unsent < int64(adaptiveGroupSize*c.path.maxPacket) ||
			int64(c.loss.BytesInFlight())+unsent < int64(c.loss.cc.Window()))
}

// fecOnDelivered and fecOnLost tell the loss process the fate of an
// ack-eliciting packet.
func (c *Conn) fecOnDelivered(p *ackframes.SentPacket[sentFrames]) {
	if p.AckEliciting && !p.Frames.mtuProbe {
		c.fec.pathLoss.OnDelivered()
	}
}

func (c *Conn) fecOnLost(p *ackframes.SentPacket[sentFrames]) {
	if p.AckEliciting && !p.Frames.mtuProbe {
		c.fec.pathLoss.OnLost(p.Number)
	}
}

// --- Sending ----------------------------------------------------------------

// fecProtect adds a packet being built to the open group if it is a source
// packet: it carries stream data and no path frames, which belong to the
// path they were sent on. payload is its plaintext.
func (c *Conn) fecProtect(pn packet.PacketNumber, payload []byte, rec *sentFrames, pathFrames bool) {
	if !c.fec.protecting || pathFrames || !rec.hasStream() {
		return
	}
	rec.fecGroup = c.fec.enc.Add(pn, payload)
}

func (s *sentFrames) hasStream() bool {
	for i := 0; i < s.len(); i++ {
		if s.at(i).kind == sentStream {
			return true
		}
	}
	return false
}

// fecRepairDue says a repair packet is waiting; it goes before new data.
func (c *Conn) fecRepairDue() bool { return c.fec.enc != nil && c.fec.enc.HasRepair() }

// buildRepairPacket builds a 1-RTT packet carrying the next repair frame
// and nothing else, or returns nil if it does not fit the budget (on a
// path not yet validated). It is ack-eliciting and in flight like any
// packet, so congestion control counts it, but when lost it carries
// nothing to send again.
func (c *Conn) buildRepairPacket(b []byte, now time.Time) []byte {
	pn := c.loss.pnGen.Peek()
	pnLen := packet.PacketNumberLen(pn, c.loss.History().LargestAcked())
	b, pnOffset := packet.AppendShortHeader(b, c.ids.remoteCID, c.keys.KeyPhase(), pnLen)
	b = packet.AppendPacketNumber(b, pn, pnLen)
	need := len(b) + c.fec.enc.RepairLen() + crypto.TagLen
	if need > c.path.maxPacket {
		// Path MTU discovery lowered the size under the group's symbols
		// (a black hole): this repair can never go, and a repair stuck
		// at the head would hold every later one.
		c.fec.enc.DropRepair()
		return nil
	}
	if need > c.probeBudget(c.sendBudget()) {
		return nil
	}
	payloadStart := len(b)
	b = c.fec.enc.AppendRepair(b, pn)
	rec := &c.tx.rec
	rec.reset()
	rec.fecRepair = true
	c.stats.fecRepairSent.Add(1)
	return c.finishAppPacket(b, pn, pnOffset, pnLen, payloadStart, rec, true, false, now)
}

// fecFlushIdle closes a partial group when the sender has nothing more to
// send now (no stream is waiting to coalesce a write either), so the last
// packets of a burst are protected without waiting for more data. It
// reports whether repairs are now due.
func (c *Conn) fecFlushIdle() bool {
	if c.fec.enc == nil || c.fec.enc.Open() == 0 || len(c.streams.held) > 0 {
		return false
	}
	c.fec.enc.Flush()
	return true
}

// --- Loss handling -------------------------------------------------------------

// fecHold keeps a lost protected packet back from retransmission while its
// group's repair packets can still let the peer rebuild it, and reports
// whether it did. Such a packet is not counted as lost, and congestion
// control does not hear of it unless it is released as lost.
func (c *Conn) fecHold(p *ackframes.SentPacket[sentFrames]) bool {
	g := p.Frames.fecGroup
	if c.fec.enc == nil || g == 0 || len(c.fec.held) >= maxFECHeld {
		return false
	}
	if c.fecGroupSettled(g, c.loss.History().LargestAcked()) {
		return false
	}
	c.fec.held = append(c.fec.held, heldPacket{pn: p.Number, size: p.Size, inFlight: p.InFlight, timeSent: p.TimeSent, frames: p.Frames})
	return true
}

// fecGroupSettled reports whether group g's fate is known once the peer
// has acknowledged packets up to largestAcked: its repair packets were all
// sent and an ACK reached the last of them or beyond, so any packet the
// peer rebuilt from them would be acknowledged by now. A group the encoder
// has forgotten is settled too.
func (c *Conn) fecGroupSettled(g uint64, largestAcked packet.PacketNumber) bool {
	st, ok := c.fec.enc.GroupState(g)
	if !ok {
		return true
	}
	return !st.Open && st.Unsent == 0 && largestAcked >= st.LastRepair
}

// fecResolveHeld settles held packets with ACK frame f: a packet f covers
// was rebuilt by the peer and is delivered; one whose group is settled
// without it is lost, and its frames are sent again.
func (c *Conn) fecResolveHeld(f packet.AckFrame, now time.Time) {
	if len(c.fec.held) == 0 {
		return
	}
	largest := max(f.LargestAcked(), c.loss.History().LargestAcked())
	c.loss.told = c.loss.told[:0]
	keep := c.fec.held[:0]
	var lostBytes int
	var lastLostSent time.Time
	for i := range c.fec.held {
		h := c.fec.held[i]
		switch {
		case ackCovers(f, h.pn):
			c.stats.fecPeerRecovered.Add(1)
			c.onFramesAcked(&h.frames)
			c.loss.spareFrames.release(&h.frames)
		case c.fecGroupSettled(h.frames.fecGroup, largest):
			n := c.fecLost(&h)
			c.observeLost(now, h.pn, n)
			lostBytes += n
			lastLostSent = h.timeSent
			c.loss.told = append(c.loss.told, h.pn)
		default:
			keep = append(keep, h)
		}
	}
	clear(c.fec.held[len(keep):])
	c.fec.held = keep
	if lostBytes > 0 {
		c.tellLoss(now, lostBytes, lastLostSent)
	}
}

// fecReleaseHeld gives up on every held packet: at a probe timeout no ACK
// is coming to settle them.
func (c *Conn) fecReleaseHeld(now time.Time) {
	var lostBytes int
	var lastLostSent time.Time
	c.loss.told = c.loss.told[:0]
	for i := range c.fec.held {
		n := c.fecLost(&c.fec.held[i])
		c.observeLost(now, c.fec.held[i].pn, n)
		lostBytes += n
		lastLostSent = c.fec.held[i].timeSent
		c.loss.told = append(c.loss.told, c.fec.held[i].pn)
	}
	clear(c.fec.held)
	c.fec.held = c.fec.held[:0]
	if lostBytes > 0 {
		c.tellLoss(now, lostBytes, lastLostSent)
	}
}

// fecLost declares held packet h lost and returns its bytes in flight.
func (c *Conn) fecLost(h *heldPacket) int {
	c.stats.packetsLost.Add(1)
	c.qlogLost(h.pn, "limpet:fec_group_settled")
	c.onFramesLost(&h.frames)
	c.loss.spareFrames.release(&h.frames)
	if h.inFlight {
		return h.size
	}
	return 0
}

// ackCovers reports whether ACK frame f acknowledges pn.
func ackCovers(f packet.AckFrame, pn packet.PacketNumber) bool {
	for _, r := range f.Ranges {
		if pn >= r.Smallest && pn <= r.Largest {
			return true
		}
	}
	return false
}

// --- Receiving ----------------------------------------------------------------

// fecNoteFrame records what kinds of frames the packet being processed
// carries, and refuses frames a rebuilt packet cannot hold: path frames
// belong to the path they arrived on, and a source never carries repairs.
func (c *Conn) fecNoteFrame(ft packet.FrameType) error {
	switch {
	case ft.IsStream():
		c.fec.hasStream = true
	case ft == packet.FramePathChallenge || ft == packet.FramePathResponse || ft == packet.FrameFECRepair:
		if c.fec.recovering {
			return protoErr(packet.ProtocolViolation, ft, "frame not allowed in an FEC source packet")
		}
		c.fec.hasOther = true
	}
	return nil
}

// onFECRepair handles an FEC_REPAIR frame of the packet being processed:
// it is a PROTOCOL_VIOLATION unless we announced fec, and whatever it lets
// the decoder rebuild is queued for processing after this packet.
func (c *Conn) onFECRepair(p []byte) (int, error) {
	var buf [packet.MaxFECSources]packet.PacketNumber
	f, n, err := packet.ParseFECRepairFrame(p, buf[:0])
	if err != nil {
		return 0, frameErr(packet.FrameFECRepair, err)
	}
	if c.fec.dec == nil {
		return 0, protoErr(packet.ProtocolViolation, packet.FrameFECRepair, "FEC_REPAIR without the fec transport parameter")
	}
	rec, err := c.fec.dec.AddRepair(c.fec.rxPN, f)
	if err != nil {
		return 0, protoErr(packet.ProtocolViolation, packet.FrameFECRepair, err.Error())
	}
	c.fec.queue(rec)
	return n, nil
}

// queue copies rebuilt payloads for processing; the decoder reuses its.
func (f *fecState) queue(rs []fec.Recovered) {
	for _, r := range rs {
		n := len(f.recovered)
		if n < cap(f.recovered) {
			f.recovered = f.recovered[:n+1]
		} else {
			f.recovered = append(f.recovered, recoveredPacket{})
		}
		e := &f.recovered[n]
		e.pn = r.PN
		e.payload = append(e.payload[:0], r.Payload...)
	}
}

// fecAfterPacket runs once packet pn has been processed: a possible source
// packet is remembered for the decoder, and packets rebuilt because of
// this one are processed.
func (c *Conn) fecAfterPacket(pn packet.PacketNumber, payload []byte, now time.Time) {
	if c.fec.dec == nil || c.state != stateActive {
		return
	}
	if c.fec.hasStream && !c.fec.hasOther {
		rec, err := c.fec.dec.AddSource(pn, payload)
		if err != nil {
			c.closeTransport(packet.ProtocolViolation, packet.FrameFECRepair, err.Error(), now)
			return
		}
		c.fec.queue(rec)
	}
	c.processRecovered(now)
}

// processRecovered processes rebuilt packets exactly like received ones,
// except that they never move the path (their frames were sent on
// whatever path the original took): their frames are handled and their
// numbers recorded, so the next ACK covers them and the peer does not
// retransmit them. A packet that arrived meanwhile is skipped.
func (c *Conn) processRecovered(now time.Time) {
	defer func() { c.fec.recovered = c.fec.recovered[:0] }()
	for i := range c.fec.recovered {
		r := &c.fec.recovered[i]
		if c.acks.IsDuplicate(r.pn) {
			continue
		}
		c.fec.recovering = true
		c.path.rxFrom = c.path.peer
		ackEliciting, err := c.handleFrames(r.payload, now)
		c.fec.recovering = false
		if err != nil {
			c.closeOnFrameError(err, now)
			return
		}
		if c.state == stateClosed {
			return
		}
		c.acks.OnPacketReceived(r.pn, ackEliciting, now)
		c.stats.fecRecovered.Add(1)
		c.qlogEvent(qlog.FECRecovered, slog.Int64("packet_number", int64(r.pn)), slog.Int("length", len(r.payload)))
	}
}
