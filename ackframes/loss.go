package ackframes

import (
	"math"
	"time"
)

// Loss-detection constants of RFC 9002 §6.1 and §7.6.
const (
	// PacketThreshold is kPacketThreshold: a packet is lost once a packet
	// sent this many numbers later has been acknowledged. Three tolerates
	// mild reordering, like TCP's three duplicate ACKs. It is where a
	// SentHistory's adaptive threshold starts (see MaxPacketThreshold).
	PacketThreshold = 3

	// TimerGranularity is kGranularity, the smallest loss delay and the
	// smallest variance term of the probe timeout, so timers never fire
	// sooner than a real clock can resolve them.
	TimerGranularity = time.Millisecond

	// PersistentCongestionThreshold is kPersistentCongestionThreshold: how
	// many probe-timeout periods of consecutive losses make persistent
	// congestion.
	PersistentCongestionThreshold = 3

	// DefaultMaxPTOInterval caps the exponential backoff of the probe
	// timeout when none is configured. RFC 9002 lets the backoff grow
	// without bound; limpet caps it so that after a long blackout (a NAT
	// rebinding, a laptop resuming) the sender still probes every few
	// seconds and the connection recovers, or migrates, promptly. A PTO
	// period that is longer than the cap to begin with is not shortened.
	DefaultMaxPTOInterval = 3 * time.Second
)

// RTT is the view of the round-trip-time estimator that loss detection
// needs (RFC 9002 §5). *congestion.RTTStats implements it; before the
// first sample Smoothed and Var report the initial-RTT defaults.
type RTT interface {
	// Smoothed is smoothed_rtt.
	Smoothed() time.Duration
	// Var is rttvar.
	Var() time.Duration
	// Min is min_rtt.
	Min() time.Duration
	// Latest is latest_rtt, or zero before the first sample.
	Latest() time.Duration
	// HasSample reports whether the estimator has taken a sample.
	HasSample() bool
}

// LossDelay is how long after a packet was sent it is declared lost once a
// later packet has been acknowledged: 9/8 of the larger of the latest and
// smoothed RTT, and at least TimerGranularity (RFC 9002 §6.1.2). The 1/8
// margin absorbs small RTT variation without waiting a full extra round
// trip. It is a SentHistory's time threshold until spurious losses widen
// it (see SentHistory.LossDelay).
func LossDelay(rtt RTT) time.Duration {
	d := max(rtt.Latest(), rtt.Smoothed())
	return max(d+d/8, TimerGranularity)
}

// ptoBase is one unbacked-off probe timeout period (RFC 9002 §6.2.1).
func ptoBase(rtt RTT, maxAckDelay time.Duration) time.Duration {
	return rtt.Smoothed() + max(4*rtt.Var(), TimerGranularity) + max(maxAckDelay, 0)
}

// PTOPeriod is the probe timeout period after ptoCount consecutive
// expirations: (smoothed_rtt + max(4·rttvar, kGranularity) + maxAckDelay)
// · 2^ptoCount (RFC 9002 §6.2.1), with the backoff capped at maxInterval
// (zero selects DefaultMaxPTOInterval) unless the first period already
// exceeds it.
//
// maxAckDelay is the peer's max_ack_delay for the Application space and 0
// for the Initial space, whose packets the peer acknowledges immediately.
func PTOPeriod(rtt RTT, maxAckDelay time.Duration, ptoCount int, maxInterval time.Duration) time.Duration {
	if maxInterval <= 0 {
		maxInterval = DefaultMaxPTOInterval
	}
	d := ptoBase(rtt, maxAckDelay)
	limit := max(d, maxInterval)
	for i := 0; i < ptoCount && d < limit; i++ {
		if d > math.MaxInt64/2 {
			return limit
		}
		d *= 2
	}
	return min(d, limit)
}

// PersistentCongestionDuration is how long a run of lost ack-eliciting
// packets must span for persistent congestion: three probe timeout periods
// without backoff (RFC 9002 §7.6.1).
func PersistentCongestionDuration(rtt RTT, maxAckDelay time.Duration) time.Duration {
	return ptoBase(rtt, maxAckDelay) * PersistentCongestionThreshold
}

// DetectLost declares lost every outstanding packet sent before the
// largest acknowledged one that is either h.PacketThreshold() numbers
// older or was sent h.LossDelay(rtt) or more before now (RFC 9002 §6.1,
// appendix A.10). Lost packets are removed, appended to lost in increasing
// order and stop counting as bytes in flight; the transport sends their
// frames again in new packets. LossTime is updated for the timer.
//
// The history remembers the packets it declares lost for
// PersistentCongestionDuration, so that OnAck can report an
// acknowledgement of one as a SpuriousLoss and widen the threshold that
// declared it. Calls that declare packets lost also count towards
// returning the thresholds to their defaults.
//
// persistent reports persistent congestion (RFC 9002 §7.6): among the
// packets lost now are two ack-eliciting ones, both sent after the first
// RTT sample, with no acknowledged packet sent between them, whose send
// times lie more than PersistentCongestionDuration(rtt, maxAckDelay) apart.
// The transport then tells the congestion controller to collapse its
// window. maxAckDelay is the peer's max_ack_delay.
//
// Call it after every ACK frame (once the RTT estimate has taken the
// frame's sample) and when LossTime passes. With a lost buffer of
// sufficient capacity it does not allocate.
func (h *SentHistory[M]) DetectLost(now time.Time, rtt RTT, maxAckDelay time.Duration, lost []SentPacket[M]) (_ []SentPacket[M], persistent bool) {
	h.lossTime = time.Time{}
	pcDuration := PersistentCongestionDuration(rtt, maxAckDelay)
	// A packet acknowledged this long after it was declared lost was so
	// late that treating it as reordering would stretch the thresholds
	// for something closer to a blackout.
	h.lost.expire(now.Add(-pcDuration))
	if h.largestAcked < 0 {
		return lost, false
	}
	lossDelay := h.reo.lossDelay(rtt)
	lostSentBy := now.Add(-lossDelay) // packets sent at or before this are lost by time
	threshold := h.reo.packetThreshold
	nLost := len(lost)
	pcPossible := rtt.HasSample() && !h.firstRTTSample.IsZero()

	// The current run of lost packets with no acknowledged packet between
	// them, and the send time of its first eligible packet.
	inRun := false
	var runStart time.Time
	for i := 0; i < h.n; i++ {
		s := h.at(i)
		if s.pkt.Number > h.largestAcked {
			break
		}
		switch s.state {
		case slotAcked:
			inRun = false
			continue
		case slotLost:
			continue
		}
		if s.ackedBefore {
			inRun = false
		}
		byTime := !s.pkt.TimeSent.After(lostSentBy)
		byPacket := s.pkt.Number+threshold <= h.largestAcked
		if !byTime && !byPacket {
			// Not lost yet. Later packets were sent later and have higher
			// numbers, so none of them is lost either.
			h.lossTime = s.pkt.TimeSent.Add(lossDelay)
			break
		}
		if pcPossible && s.pkt.AckEliciting && !s.pkt.MTUProbe && s.pkt.TimeSent.After(h.firstRTTSample) {
			switch {
			case !inRun:
				inRun = true
				runStart = s.pkt.TimeSent
			case s.pkt.TimeSent.Sub(runStart) > pcDuration:
				persistent = true
			}
		}
		lost = append(lost, s.pkt)
		h.lost.add(lostRecord{
			pn:           s.pkt.Number,
			largestAcked: h.largestAcked,
			timeSent:     s.pkt.TimeSent,
			lostAt:       now,
			size:         s.pkt.Size,
			inFlight:     s.pkt.InFlight,
			byPacket:     byPacket,
			byTime:       byTime,
		})
		h.resolve(s, slotLost)
	}
	h.popResolved()
	if len(lost) > nLost {
		h.reo.onLossEvent(now, rtt.Smoothed())
	}
	return lost, persistent
}

// PTODeadline is when the probe timeout of this space fires: the send time
// of the newest ack-eliciting packet plus PTOPeriod(rtt, maxAckDelay,
// ptoCount, maxInterval). It is the zero time when no ack-eliciting packet
// is in flight, since then there is nothing whose acknowledgement could be
// overdue.
func (h *SentHistory[M]) PTODeadline(rtt RTT, maxAckDelay time.Duration, ptoCount int, maxInterval time.Duration) time.Time {
	if h.ackElicitingInFlight == 0 {
		return time.Time{}
	}
	return h.lastAckElicitingTime.Add(PTOPeriod(rtt, maxAckDelay, ptoCount, maxInterval))
}
