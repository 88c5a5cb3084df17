package transport

import (
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/limpetnet/limpet/ackframes"
	"github.com/limpetnet/limpet/congestion"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/qlog"
)

// maxPTOInterval caps the probe timeout's exponential backoff, so a path
// that comes back after an outage is noticed within about a second
// (docs/PROTOCOL.md section 9).
const maxPTOInterval = time.Second

// maxKeptAckRanges bounds the ACK ranges a connection keeps room for
// between frames: our own ACKs carry at most 64, and a peer's with more
// are parsed into room that goes when the frame has been handled.
const maxKeptAckRanges = 256

// ackState is what the loop knows of the packets it received: the ranges it
// must acknowledge and when (docs/PROTOCOL.md section 5).
type ackState struct {
	*ackframes.Receiver
	buf []packet.AckRange // scratch for parsing and building ACK frames, at most maxKeptAckRanges long
	// probeOnly says the packet being handled holds only PING and
	// PADDING. In a datagram over 1200 bytes that is a path MTU probe,
	// acknowledged at once: a probe can fill the sender's congestion
	// window, which would then wait max_ack_delay for the ACK.
	probeOnly bool
	// immediate says the packet being handled carries IMMEDIATE_ACK.
	immediate bool
	// freqSeq is the Sequence of the last ACK_FREQUENCY applied, if
	// freqApplied.
	freqSeq     uint64
	freqApplied bool
}

func (a *ackState) init() {
	a.Receiver = ackframes.NewReceiver(ackframes.DefaultMaxAckDelay, ackframes.DefaultMaxAckRanges)
}

// lossState is what the loop knows of the packets it sent: their numbers,
// loss detection and probe timeouts (RFC 9002), the RTT estimate,
// congestion control and pacing.
type lossState struct {
	*ackframes.LossDetector[sentFrames]
	pnGen *ackframes.PacketNumberGenerator
	rtt   congestion.RTTStats
	cc    congestion.Controller
	pacer *congestion.Pacer

	ackedBuf, lostBuf []ackframes.SentPacket[sentFrames] // scratch
	// spareFrames are resolved packets' frame overflow slices, reused.
	spareFrames frameSpares
	// told are the packets of the loss being reported to cc (tellLoss).
	told []packet.PacketNumber

	pingDue bool // send an ack-eliciting packet even without data (PTO probe, keepalive)
	quiet   quietLosses
	probes  int // PTO probes still to send
	// lastAckProgress is when an ACK last acknowledged something new: a
	// path the peer still receives on, even if it still sends on it.
	lastAckProgress time.Time
}

func (l *lossState) init(now time.Time, cfg *Config) {
	l.LossDetector = ackframes.NewLossDetector[sentFrames](ackframes.LossConfig{MaxPTOInterval: maxPTOInterval})
	l.pnGen = ackframes.NewPacketNumberGenerator(rand.NewPCG(rand.Uint64(), rand.Uint64()), ackframes.DefaultSkipPeriod)
	l.pacer = congestion.NewPacer(baseDatagramSize)
	if cfg.CongestionControl == CongestionBBR {
		l.cc = congestion.NewBBR(congestion.BBROptions{
			MaxDatagramSize:    baseDatagramSize,
			TolerateRandomLoss: !cfg.EveryLossIsCongestion,
		})
		l.pacer.SetBurstInterval(congestion.PacerBurstIntervalBBR)
	} else {
		l.cc = congestion.NewCubic(congestion.CubicOptions{
			MaxDatagramSize:    baseDatagramSize,
			TolerateRandomLoss: !cfg.EveryLossIsCongestion,
		})
	}
	l.lastAckProgress = now
}

// setPacingRate paces at the controller's own rate if it has one (BBR),
// or at the pacer's gain over the window and smoothed RTT (CUBIC).
func (l *lossState) setPacingRate(now time.Time) {
	if r, ok := l.cc.(interface{ PacingRate() uint64 }); ok {
		l.pacer.SetBytesPerSecond(now, r.PacingRate())
		return
	}
	l.pacer.SetRate(now, l.cc.Window(), l.rtt.Smoothed(), l.cc.InSlowStart())
}

// resetCongestion starts congestion control and RTT estimation afresh, for
// a path on a different network (RFC 9000 §9.4).
func (l *lossState) resetCongestion(now time.Time) {
	l.cc.Reset(now)
	l.rtt.Reset()
	l.pacer.Reset()
	l.ResetPTOCount()
}

// onAck processes an ACK frame in the Application space (RFC 9002 §6).
func (c *Conn) onAck(f packet.AckFrame, now time.Time) error {
	if err := c.loss.pnGen.ValidateAck(f); err != nil {
		return protoErr(packet.ProtocolViolation, packet.FrameAck, err.Error())
	}
	priorInFlight := c.loss.BytesInFlight()
	var res ackframes.AckResult
	c.loss.ackedBuf, res = c.loss.OnAck(f, now, c.loss.ackedBuf[:0])
	c.onSpurious(res.Spurious, now)
	if len(c.loss.ackedBuf) == 0 {
		// Held packets are no longer in the history: an ACK may be new
		// only for them.
		c.fecResolveHeld(f, now)
		return nil
	}
	c.loss.lastAckProgress = now
	if res.HasRTTSample {
		delay := ackframes.DecodeAckDelay(f.Delay, c.peerParams.AckDelayExponent)
		c.loss.rtt.Update(res.RTTSample, delay, c.hs.confirmed)
	}
	var persistent bool
	c.loss.lostBuf, persistent = c.loss.DetectLost(now, &c.loss.rtt, c.loss.lostBuf[:0])
	c.onLost(c.loss.lostBuf, persistent, "", now)
	c.ecnOnAck(&f, c.loss.ackedBuf, now)
	for i := range c.loss.ackedBuf {
		p := &c.loss.ackedBuf[i]
		if p.InFlight {
			c.loss.cc.OnPacketAcked(now, int64(p.Number), p.Size, p.TimeSent)
		}
		c.fecOnDelivered(p)
		c.mtuOnAcked(p, now)
		c.keys.OnAcked(uint64(p.Number))
		c.onFramesAcked(&p.Frames)
		c.loss.spareFrames.release(&p.Frames)
	}
	c.fecResolveHeld(f, now)
	c.mtuCheckBlackHole(now)
	c.loss.cc.OnAckProcessed(now, priorInFlight, &c.loss.rtt)
	c.loss.setPacingRate(now)
	return nil
}

// onSpurious handles packets acknowledged after they were declared lost
// (docs/PROTOCOL.md section 3, "Loss detection"). Their frames were sent
// again already; those copies are redundant, which is harmless. The
// congestion controller hears of them so it can undo a reduction that
// reordering caused. Packets still held for FEC are left to
// fecResolveHeld: the controller never heard of their loss.
func (c *Conn) onSpurious(spurious []ackframes.SpuriousLoss, now time.Time) {
	for i := range spurious {
		p := &spurious[i]
		if c.fecIsHeld(p.Number) {
			continue
		}
		c.stats.spuriousLosses.Add(1)
		c.qlogEvent(qlog.SpuriousLoss, slog.Int64("packet_number", int64(p.Number)))
		// Congestion control never heard of a lost repair packet or MTU
		// probe (onLost).
		if p.InFlight && !c.loss.quiet.has(p.Number) {
			c.loss.cc.OnSpuriousLoss(now, p.Size, p.LostAt)
		}
	}
}

// fecIsHeld reports whether pn is a lost packet held back for FEC.
func (c *Conn) fecIsHeld(pn packet.PacketNumber) bool {
	for i := range c.fec.held {
		if c.fec.held[i].pn == pn {
			return true
		}
	}
	return false
}

// onLost hands lost packets' frames back for retransmission in new packets.
//
// trigger is qlog's name for what declared them lost, "" when an ACK did
// (by the packet or the time threshold).
func (c *Conn) onLost(lost []ackframes.SentPacket[sentFrames], persistent bool, trigger string, now time.Time) {
	if len(lost) == 0 {
		return
	}
	var lostBytes int
	var largestLostSent time.Time
	c.loss.told = c.loss.told[:0]
	for i := range lost {
		p := &lost[i]
		c.ecnOnLost(p)
		c.fecOnLost(p)
		if c.mtuOnLost(p, now) {
			// A probe too big for the path, most likely: no congestion
			// signal (RFC 9000 §14.4), and nothing to send again.
			c.loss.spareFrames.release(&p.Frames)
			continue
		}
		if c.fecHold(p) {
			// Its group's repair packets may still rebuild it; the held
			// copy owns the frames now.
			p.Frames = sentFrames{}
			continue
		}
		c.stats.packetsLost.Add(1)
		c.qlogLost(p.Number, trigger)
		if p.InFlight && !p.Frames.fecRepair {
			// A lost repair packet alone does not reach congestion
			// control: it is extra to the data, and 20 % of packets at
			// 8+2, so random loss of repairs would cut the window as
			// often as loss of data does without FEC. Congestion drops
			// bursts, which take data beyond what repair can rebuild.
			lostBytes += p.Size
			largestLostSent = p.TimeSent
			c.loss.told = append(c.loss.told, p.Number)
			c.observeLost(now, p.Number, p.Size)
		}
		if p.Frames.fecRepair {
			c.loss.quiet.add(p.Number)
		}
		c.onFramesLost(&p.Frames)
		c.loss.spareFrames.release(&p.Frames)
	}
	if lostBytes > 0 {
		c.tellLoss(now, lostBytes, largestLostSent)
	}
	if persistent {
		c.loss.cc.OnPersistentCongestion(now)
		c.loss.rtt.ExpireMin()
	}
}

// observeLost tells a controller that wants each lost packet
// (congestion.PacketLossObserver) of packet pn, of size bytes, before
// tellLoss reports the loss they are part of.
func (c *Conn) observeLost(now time.Time, pn packet.PacketNumber, size int) {
	if o, ok := c.loss.cc.(congestion.PacketLossObserver); ok && size > 0 {
		o.OnPacketLost(now, int64(pn), size)
	}
}

// tellLoss reports the packets in c.loss.told, lostBytes in all, to
// congestion control. Those it judges random loss join the quiet losses:
// it never counted them, so a late ACK of one is no spurious loss to it.
func (c *Conn) tellLoss(now time.Time, lostBytes int, largestLostSent time.Time) {
	before := c.loss.cc.Window()
	if c.loss.cc.OnLoss(now, lostBytes, largestLostSent) {
		if c.loss.cc.Window() < before {
			c.stats.lossCongestionEvents.Add(1)
		}
		return
	}
	c.stats.randomLosses.Add(uint64(len(c.loss.told)))
	for _, pn := range c.loss.told {
		c.loss.quiet.add(pn)
	}
}

// requeueOldestForProbe makes a probe carry data that may have been lost,
// so a PTO after a blackout resends it without waiting another round.
func (c *Conn) requeueOldestForProbe() {
	h := c.loss.History()
	done := false
	h.ForEach(func(p *ackframes.SentPacket[sentFrames]) bool {
		if done || !p.AckEliciting || p.Frames.mtuProbe {
			return !done
		}
		p.Frames.each(func(f *sentFrame) {
			if f.kind == sentStream {
				if s := c.streams.byID[f.id]; s != nil {
					s.mu.Lock()
					s.send.OnLost(f.offset, f.length, f.fin)
					s.mu.Unlock()
					c.streams.sched.Push(f.id)
				}
			}
		})
		done = true
		return false
	})
}
