package transport

import (
	"time"

	"github.com/limpetnet/limpet/packet"
)

// minAckDelay is our min_ack_delay (docs/PROTOCOL.md section 5, "ACK
// frequency"): the shortest ACK delay a peer may ask of us. The loop's timers
// keep to a millisecond on a busy host.
const minAckDelay = time.Millisecond

// Thresholds of the ACK frequency we ask for in congestion avoidance
// (docs/PROTOCOL.md section 5, "ACK frequency"): every tenth packet once the
// window holds 80 datagrams, every fourth from 32, so that at least eight ACKs a
// round trip keep the window clocked out; RFC 9000's every second below that.
const (
	ackFreqBulkThreshold   = 9
	ackFreqBulkDatagrams   = 80
	ackFreqMediumThreshold = 3
	ackFreqMediumDatagrams = 32
	// ackFreqHysteresis: a window must fall a quarter below a boundary
	// before the threshold comes down again, so that a window moving
	// around a boundary (BBR's cycle) does not ask anew every round trip.
	ackFreqHysteresis = 4
	// ackFreqDelayDivisor: the delay asked for with a raised threshold is
	// a quarter of the minimum RTT, so that the last packets of a flight
	// are not acknowledged much later than the rest.
	ackFreqDelayDivisor = 4
)

// ackFrequencyState is what we asked the peer about acknowledging: each
// ACK is a datagram for it to send and for us to receive and process, and
// on a bulk transfer RFC 9000's every second packet makes them a third of
// all datagrams.
type ackFrequencyState struct {
	enabled bool // the peer announced min_ack_delay
	// peerMin and peerMax bound the delay we may ask for.
	peerMin, peerMax time.Duration
	// threshold, delay and reordering are what the peer applies, as far
	// as we know: its defaults until an ACK_FREQUENCY goes out.
	threshold  uint64
	delay      time.Duration
	reordering uint64
	// nextSeq numbers the next ACK_FREQUENCY; lastSeq is the latest sent,
	// whose loss makes us send the current wish again.
	nextSeq, lastSeq uint64
	due              bool
}

func (a *ackFrequencyState) init(p packet.TransportParameters) {
	*a = ackFrequencyState{
		enabled:    p.HasMinAckDelay,
		peerMin:    p.MinAckDelay,
		peerMax:    p.MaxAckDelay,
		threshold:  1,
		delay:      p.MaxAckDelay,
		reordering: 1,
	}
}

// ackFrequencyWanted is the ACK frequency the congestion controller's
// state calls for: RFC 9000's in slow start, whose window grows with every
// ACK and whose exit watches every RTT sample, and fewer ACKs once the
// window is large. With fewer ACKs the peer is asked to acknowledge at
// once when a hole is as far below its largest packet as our loss
// detection's packet threshold, so losses are declared no later than with
// an ACK every other packet.
func (c *Conn) ackFrequencyWanted() (threshold uint64, delay time.Duration, reordering uint64) {
	a := &c.ackFreq
	datagrams := c.loss.cc.Window() / max(c.path.maxPacket, 1)
	// Boundaries a quarter lower for a threshold already in force.
	lower := func(n int, t uint64) int {
		if a.threshold >= t {
			return n - n/ackFreqHysteresis
		}
		return n
	}
	switch {
	case c.loss.cc.InSlowStart() || datagrams < lower(ackFreqMediumDatagrams, ackFreqMediumThreshold):
		return 1, a.peerMax, 1
	case datagrams < lower(ackFreqBulkDatagrams, ackFreqBulkThreshold):
		threshold = ackFreqMediumThreshold
	default:
		threshold = ackFreqBulkThreshold
	}
	// Whole milliseconds, so that the minimum RTT's jitter does not
	// call for a new frame.
	delay = (c.loss.rtt.Min() / ackFreqDelayDivisor).Truncate(time.Millisecond)
	delay = min(max(delay, a.peerMin, minAckDelay), a.peerMax)
	reordering = uint64(min(max(c.loss.History().PacketThreshold(), 1), maxRequestedReordering))
	return threshold, delay, reordering
}

// maxRequestedReordering bounds the reordering threshold we ask for: the
// packet threshold adapts up to 256, and a hole that deep is for the time
// threshold to find anyway.
const maxRequestedReordering = 255

// appendAckFrequency adds an ACK_FREQUENCY frame when what we want differs
// from what we last asked for, or the frame that asked was lost.
func (c *Conn) appendAckFrequency(b []byte, limit int, rec *sentFrames) []byte {
	a := &c.ackFreq
	if !a.enabled || c.state != stateActive {
		return b
	}
	threshold, delay, reordering := c.ackFrequencyWanted()
	if !a.due && threshold == a.threshold && delay == a.delay && reordering == a.reordering {
		return b
	}
	f := packet.AckFrequencyFrame{
		Sequence:              a.nextSeq,
		AckElicitingThreshold: threshold,
		RequestedMaxAckDelay:  delay,
		ReorderingThreshold:   reordering,
	}
	if len(b)+f.Len() > limit {
		return b
	}
	b = f.Append(b)
	rec.add(sentFrame{kind: sentAckFrequency, offset: int64(f.Sequence)})
	a.lastSeq, a.nextSeq = f.Sequence, f.Sequence+1
	a.threshold, a.delay, a.reordering, a.due = threshold, delay, reordering, false
	return b
}

// onAckFrequencyLost sends the current wish again if the lost frame was
// the latest; an older one was overtaken anyway.
func (c *Conn) onAckFrequencyLost(seq uint64) {
	if seq == c.ackFreq.lastSeq {
		c.ackFreq.due = true
	}
}

// onAckFrequency applies the peer's ACK_FREQUENCY frame, unless a later
// one was applied already (frames can arrive out of order). A delay below
// our min_ack_delay is a PROTOCOL_VIOLATION; one above the largest
// max_ack_delay a transport parameter can carry is taken as that.
func (c *Conn) onAckFrequency(f packet.AckFrequencyFrame) error {
	if f.RequestedMaxAckDelay < minAckDelay {
		return protoErr(packet.ProtocolViolation, packet.FrameAckFrequency, "requested max ack delay below min_ack_delay")
	}
	if c.acks.freqApplied && f.Sequence <= c.acks.freqSeq {
		return nil
	}
	c.acks.freqSeq, c.acks.freqApplied = f.Sequence, true
	c.acks.SetAckFrequency(f.AckElicitingThreshold, min(f.RequestedMaxAckDelay, packet.MaxMaxAckDelay), f.ReorderingThreshold)
	return nil
}
