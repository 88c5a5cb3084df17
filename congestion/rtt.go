package congestion

import "time"

const (
	// DefaultInitialRTT is the RTT assumed before the first sample
	// (kInitialRtt, RFC 9002 §6.2.2). It makes the first PTO about one
	// second, which is conservative on any real path.
	DefaultInitialRTT = 333 * time.Millisecond

	// DefaultMaxAckDelay is the peer's max_ack_delay when it did not send
	// the transport parameter (RFC 9000 §18.2).
	DefaultMaxAckDelay = 25 * time.Millisecond

	// TimerGranularity is kGranularity (RFC 9002 §6.1.2): the smallest
	// variance term in the PTO, so that a perfectly steady path still gets a
	// timer that does not fire before a delayed ACK can arrive.
	TimerGranularity = time.Millisecond
)

// RTTStats is the round-trip time estimator of RFC 9002 §5. It keeps the
// minimum, smoothed and latest RTT and the RTT variation of one path.
//
// The zero value is ready to use with DefaultInitialRTT and
// DefaultMaxAckDelay. RTTStats does no I/O and keeps no clock: the loss
// detector measures latest_rtt (ack time minus send time of the largest
// newly acknowledged packet) and passes it to Update.
type RTTStats struct {
	initialRTT      time.Duration // zero means DefaultInitialRTT
	peerMaxAckDelay time.Duration
	haveMaxAckDelay bool

	latest   time.Duration
	adjusted time.Duration
	smoothed time.Duration
	variance time.Duration
	min      time.Duration
	samples  uint64
}

// SetInitialRTT changes the RTT assumed before the first sample, for
// example to a value remembered from an earlier connection to the same
// peer (RFC 9002 §6.2.2 allows this). Non-positive values restore
// DefaultInitialRTT. It has no effect on an estimator that already has a
// sample, except after Reset.
func (r *RTTStats) SetInitialRTT(d time.Duration) {
	if d <= 0 {
		d = 0
	}
	r.initialRTT = d
}

// InitialRTT reports the RTT assumed before the first sample.
func (r *RTTStats) InitialRTT() time.Duration {
	if r.initialRTT == 0 {
		return DefaultInitialRTT
	}
	return r.initialRTT
}

// SetMaxAckDelay records the peer's max_ack_delay transport parameter.
// Once the handshake is confirmed, Update clamps reported ACK delays to it,
// so a peer cannot inflate its ACK delay to make us shrink our RTT
// estimate (RFC 9002 §5.3). Negative values are treated as zero.
func (r *RTTStats) SetMaxAckDelay(d time.Duration) {
	if d < 0 {
		d = 0
	}
	r.peerMaxAckDelay = d
	r.haveMaxAckDelay = true
}

// MaxAckDelay reports the peer's max_ack_delay, or DefaultMaxAckDelay if
// SetMaxAckDelay was never called.
func (r *RTTStats) MaxAckDelay() time.Duration {
	if !r.haveMaxAckDelay {
		return DefaultMaxAckDelay
	}
	return r.peerMaxAckDelay
}

// Update folds one RTT sample into the estimate (RFC 9002 §5.3).
//
// latest is latest_rtt; ackDelay is the peer's decoded ACK Delay field
// (pass zero for Initial packets, whose ACK delay is meaningless).
// handshakeConfirmed enables clamping ackDelay to MaxAckDelay. The ACK
// delay is subtracted only if doing so does not take the sample below the
// minimum RTT, because the minimum is a lower bound on the path's
// propagation delay; it is never subtracted from the minimum itself.
//
// A negative latest, which a monotonic clock cannot produce, is ignored.
// A negative ackDelay is treated as zero.
func (r *RTTStats) Update(latest, ackDelay time.Duration, handshakeConfirmed bool) {
	if latest < 0 {
		return
	}
	if ackDelay < 0 {
		ackDelay = 0
	}
	r.latest = latest
	r.adjusted = latest
	r.samples++
	if r.samples == 1 {
		r.min = latest
		r.smoothed = latest
		r.variance = latest / 2
		return
	}
	r.min = min(r.min, latest)
	if handshakeConfirmed {
		ackDelay = min(ackDelay, r.MaxAckDelay())
	}
	adjusted := latest
	if latest >= r.min+ackDelay {
		adjusted = latest - ackDelay
	}
	r.adjusted = adjusted
	deviation := r.smoothed - adjusted
	if deviation < 0 {
		deviation = -deviation
	}
	r.variance = (3*r.variance + deviation) / 4
	r.smoothed = (7*r.smoothed + adjusted) / 8
}

// HasSample reports whether Update has accepted a sample since the last
// Reset.
func (r *RTTStats) HasSample() bool { return r.samples > 0 }

// Samples counts the samples accepted since the last Reset. Controllers use
// it to tell whether the ACK they are processing produced a fresh sample.
func (r *RTTStats) Samples() uint64 { return r.samples }

// Latest is the most recent sample (latest_rtt), or zero before the first.
func (r *RTTStats) Latest() time.Duration { return r.latest }

// Adjusted is the most recent sample less the ACK delay the peer reported
// (adjusted_rtt), or zero before the first.
func (r *RTTStats) Adjusted() time.Duration { return r.adjusted }

// Min is the minimum RTT seen (min_rtt), or zero before the first sample.
func (r *RTTStats) Min() time.Duration { return r.min }

// Smoothed is smoothed_rtt; before the first sample it is the initial RTT
// (RFC 9002 §5.3), so callers never divide by zero.
func (r *RTTStats) Smoothed() time.Duration {
	if r.samples == 0 {
		return r.InitialRTT()
	}
	return r.smoothed
}

// Var is rttvar, the mean deviation of the samples; before the first
// sample it is half the initial RTT (RFC 9002 §5.3).
func (r *RTTStats) Var() time.Duration {
	if r.samples == 0 {
		return r.InitialRTT() / 2
	}
	return r.variance
}

// PTO is the probe timeout duration of RFC 9002 §6.2.1:
// smoothed_rtt + max(4·rttvar, kGranularity) + maxAckDelay. Callers pass
// zero for maxAckDelay in the Initial and Handshake packet number spaces,
// where the peer acknowledges immediately, and MaxAckDelay() for
// application data. The caller applies exponential backoff.
func (r *RTTStats) PTO(maxAckDelay time.Duration) time.Duration {
	return r.Smoothed() + max(4*r.Var(), TimerGranularity) + max(maxAckDelay, 0)
}

// ExpireMin forgets the old minimum and restarts it from the latest sample.
// RFC 9002 §5.2 asks for this after persistent congestion, when the route
// may have changed and a stale minimum would make every later sample look
// like queueing; it is also the hook for a periodic refresh. Without a
// sample it does nothing.
func (r *RTTStats) ExpireMin() {
	if r.samples == 0 {
		return
	}
	r.min = r.latest
}

// Reset returns the estimator to its state before the first sample, as
// RFC 9000 §9.4 requires when a connection migrates to a path whose RTT is
// unknown. The configured initial RTT and the peer's max_ack_delay, which
// describe the peer rather than the path, are kept.
func (r *RTTStats) Reset() {
	r.latest, r.adjusted = 0, 0
	r.smoothed = 0
	r.variance = 0
	r.min = 0
	r.samples = 0
}
