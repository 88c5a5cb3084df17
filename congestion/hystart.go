package congestion

import (
	"math"
	"time"
)

// HyStart++ constants (RFC 9406 §4.3), with the RFC's recommended values.
const (
	// hystartMinRTTThresh and hystartMaxRTTThresh bound the RTT increase
	// that ends slow start, so that jitter on short paths does not end it
	// early and long paths need not queue a whole extra eighth of an RTT.
	hystartMinRTTThresh = 4 * time.Millisecond
	hystartMaxRTTThresh = 16 * time.Millisecond
	// hystartMinRTTDivisor makes the threshold an eighth of the last
	// round's minimum RTT, between the two bounds.
	hystartMinRTTDivisor = 8
	// hystartRTTSamples is N_RTT_SAMPLE: a round needs this many RTT
	// samples before its minimum is trusted.
	hystartRTTSamples = 8
	// hystartCSSGrowthDivisor slows growth in conservative slow start to a
	// quarter of slow start's.
	hystartCSSGrowthDivisor = 4
	// hystartCSSRounds is how many rounds conservative slow start lasts
	// before the controller commits to congestion avoidance.
	hystartCSSRounds = 5
	// hystartUnpacedBurstLimit is L for a sender that does not pace: no
	// single ACK may grow the window by more than L datagrams, which caps
	// the line-rate burst the growth would release. A paced sender uses
	// L = infinity because the pacer spreads the burst (RFC 9406 §4.3).
	hystartUnpacedBurstLimit = 8
)

// noRTT stands for the RFC's "infinity" in round minimum RTTs.
const noRTT = time.Duration(math.MaxInt64)

// hystart tracks HyStart++ (RFC 9406) for the initial slow start: it
// watches the minimum RTT of each round and leaves slow start when queueing
// delay starts to build, before losses do. Rounds are delimited by packet
// number: a round ends when the newest packet sent before it began
// (windowEnd, RFC 9406 §4.2) is acknowledged, so the first round is the
// initial flight.
//
// It decides phases only; the controller applies the growth rates.
type hystart struct {
	phase Phase // PhaseSlowStart, PhaseConservativeSlowStart or PhaseCongestionAvoidance (done)

	largestSent int64
	windowEnd   int64
	roundOpen   bool // windowEnd is meaningful: the first ACK has arrived

	lastRoundMinRTT    time.Duration
	currentRoundMinRTT time.Duration
	rttSampleCount     int

	cssBaselineMinRTT time.Duration
	cssRounds         int  // complete rounds spent in CSS
	cssEntryRound     bool // CSS began during the current round
}

// reset starts HyStart++ afresh, as at the start of a connection.
func (h *hystart) reset() {
	*h = hystart{
		phase:              PhaseSlowStart,
		largestSent:        -1,
		lastRoundMinRTT:    noRTT,
		currentRoundMinRTT: noRTT,
		cssBaselineMinRTT:  noRTT,
	}
}

// done reports whether HyStart++ has handed over to congestion avoidance,
// after which it ignores all events.
func (h *hystart) done() bool { return h.phase == PhaseCongestionAvoidance }

// stop ends HyStart++, for example on the first loss (RFC 9406 §4.2: loss
// in slow start or CSS goes straight to congestion avoidance).
func (h *hystart) stop() { h.phase = PhaseCongestionAvoidance }

// onPacketSent notes the newest packet number, which becomes the next
// round's windowEnd.
func (h *hystart) onPacketSent(pn int64) {
	h.largestSent = max(h.largestSent, pn)
}

// onAck processes one ACK frame. largestAcked is the largest packet number
// it newly acknowledged (or -1 if none); sample is its RTT sample when
// haveSample is set. It returns the phase after the ACK, which is
// PhaseCongestionAvoidance once CSS_ROUNDS rounds of conservative slow
// start have passed.
func (h *hystart) onAck(largestAcked int64, sample time.Duration, haveSample bool) Phase {
	if h.done() {
		return h.phase
	}
	if !h.roundOpen {
		// The first round is the initial flight: everything sent before
		// the first ACK.
		h.windowEnd = h.largestSent
		h.roundOpen = true
	}
	if haveSample {
		h.currentRoundMinRTT = min(h.currentRoundMinRTT, sample)
		h.rttSampleCount++
		if h.rttSampleCount >= hystartRTTSamples &&
			h.currentRoundMinRTT != noRTT && h.lastRoundMinRTT != noRTT {
			switch h.phase {
			case PhaseSlowStart:
				if h.currentRoundMinRTT >= h.lastRoundMinRTT+rttThreshold(h.lastRoundMinRTT) {
					h.cssBaselineMinRTT = h.currentRoundMinRTT
					h.cssRounds = 0
					h.cssEntryRound = true
					h.phase = PhaseConservativeSlowStart
				}
			case PhaseConservativeSlowStart:
				// The RTT fell back below the level that triggered CSS: the
				// increase was jitter, not a queue, so slow start resumes.
				// RFC 9406 §4.2 checks this on every ACK in CSS, the rest of
				// the entry round included, where each later, lower sample
				// would leave CSS and the next re-enter it with that sample
				// as the baseline. In the entry round, then, a lower sample
				// that still shows the increase only lowers the baseline to
				// it; one below the threshold resumes slow start, as the
				// RFC's check would have.
				if h.cssEntryRound && h.currentRoundMinRTT >= h.lastRoundMinRTT+rttThreshold(h.lastRoundMinRTT) {
					h.cssBaselineMinRTT = h.currentRoundMinRTT
				} else if h.currentRoundMinRTT < h.cssBaselineMinRTT {
					h.cssBaselineMinRTT = noRTT
					h.phase = PhaseSlowStart
				}
			}
		}
	}
	if largestAcked >= h.windowEnd {
		h.endRound()
	}
	return h.phase
}

// endRound closes the current round and opens the next one, whose end is
// the newest packet sent so far. Only complete rounds count towards
// CSS_ROUNDS, so the rest of the round in which CSS began is extra.
func (h *hystart) endRound() {
	if h.phase == PhaseConservativeSlowStart {
		if h.cssEntryRound {
			h.cssEntryRound = false
		} else {
			h.cssRounds++
		}
		if h.cssRounds >= hystartCSSRounds {
			h.phase = PhaseCongestionAvoidance
			return
		}
	}
	h.cssEntryRound = false
	h.lastRoundMinRTT = h.currentRoundMinRTT
	h.currentRoundMinRTT = noRTT
	h.rttSampleCount = 0
	h.windowEnd = h.largestSent
}

// rttThreshold is RttThresh: an eighth of the last round's minimum RTT,
// clamped to [MIN_RTT_THRESH, MAX_RTT_THRESH].
func rttThreshold(lastRoundMinRTT time.Duration) time.Duration {
	return max(hystartMinRTTThresh, min(lastRoundMinRTT/hystartMinRTTDivisor, hystartMaxRTTThresh))
}
