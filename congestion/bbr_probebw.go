package congestion

import (
	"math"
	"time"
)

// ProbeBW's cycle (draft-ietf-ccwg-bbr, "ProbeBW"): DOWN drains the
// queue, CRUISE holds the estimate, REFILL fills the pipe for a round
// trip, UP probes for more. Probes come every 2–3 s, or sooner when a
// Reno flow with the same window would have grown back by then.

func (b *BBR) enterProbeBW(now time.Time) {
	b.cwndGain = bbrDefaultCwndGain
	b.startProbeBWDown(now)
}

func (b *BBR) startProbeBWDown(now time.Time) {
	b.resetCongestionSignals()
	b.probeUpAckedPerInc = unbounded
	b.pickProbeWait()
	b.cycleStamp = now
	b.ackPhase = acksProbeStopping
	b.startRound()
	b.state = BBRProbeBWDown
	b.pacingGain, b.cwndGain = bbrProbeDownPacingGain, bbrDefaultCwndGain
}

func (b *BBR) startProbeBWCruise() {
	b.state = BBRProbeBWCruise
	b.pacingGain, b.cwndGain = 1, bbrDefaultCwndGain
}

func (b *BBR) startProbeBWRefill() {
	b.resetShortTermModel()
	b.bwProbeUpRounds = 0
	b.bwProbeUpAcked = 0
	b.prevProbePrecautionary = false
	b.ackPhase = acksRefilling
	b.startRound()
	b.state = BBRProbeBWRefill
	b.pacingGain, b.cwndGain = 1, bbrDefaultCwndGain
}

func (b *BBR) startProbeBWUp() {
	b.ackPhase = acksProbeStarting
	b.startRound()
	b.resetFullBw()
	b.fullBw = b.rate
	b.state = BBRProbeBWUp
	b.pacingGain, b.cwndGain = bbrProbeUpPacingGain, bbrProbeUpCwndGain
	b.raiseInflightLongSlope()
}

// pickProbeWait draws the wait until the next probe: 0 or 1 round trips
// already counted against the Reno bound, and 2–3 s of wall clock, so
// flows that start together drift apart.
func (b *BBR) pickProbeWait() {
	b.roundsSinceProbeUp = uint64(b.rng.IntN(2))
	b.bwProbeWait = bbrProbeWaitBase + time.Duration(b.rng.Float64()*float64(bbrProbeWaitSpread))
}

// updateProbeBWCyclePhase moves the cycle on, on each ACK of new data.
func (b *BBR) updateProbeBWCyclePhase(now time.Time, acked int) {
	if !b.fullBwReached {
		return
	}
	if b.adaptLongTermModel(now, acked) || !b.state.ProbingBW() {
		return
	}
	switch b.state {
	case BBRProbeBWDown:
		if !b.isTimeToProbeBW(now) && b.isTimeToCruise() {
			b.startProbeBWCruise()
		}
	case BBRProbeBWCruise:
		b.isTimeToProbeBW(now)
	case BBRProbeBWRefill:
		if b.roundStart {
			b.bwProbeSample = true
			b.startProbeBWUp()
		}
	case BBRProbeBWUp:
		if b.isTimeToGoDown() {
			b.prevProbeTooHigh = false
			b.startProbeBWDown(now)
		}
	}
}

// isTimeToProbeBW starts REFILL once the wait is over.
func (b *BBR) isTimeToProbeBW(now time.Time) bool {
	if now.Sub(b.cycleStamp) > b.bwProbeWait || b.isRenoCoexistenceProbeTime() {
		b.startProbeBWRefill()
		return true
	}
	return false
}

// isRenoCoexistenceProbeTime: a Reno flow grows its window by a datagram
// a round trip, so it takes as many round trips as the BDP has datagrams
// (at most 63) to refill what a probe's loss took from it.
func (b *BBR) isRenoCoexistenceProbeTime() bool {
	renoRounds := uint64(b.targetInflight() / float64(b.maxDatagramSize))
	return b.roundsSinceProbeUp >= min(renoRounds, bbrRenoRoundsMax)
}

// isTimeToCruise: the queue DOWN was for is gone and the headroom is
// free.
func (b *BBR) isTimeToCruise() bool {
	inFlight := float64(b.inFlight)
	return inFlight <= b.inflightWithHeadroom() && inFlight <= b.inflightAt(b.maxBw, 1)
}

// isTimeToGoDown ends UP when the delivery rate stops growing, unless
// inflight_longterm held the window back; or, after a probe that went too
// high, as soon as what is in flight reaches that level again.
//
// What was in flight is taken before the ACK, as Linux does: the window
// holds it at the ceiling, and once the ACK's bytes leave it is always
// below.
func (b *BBR) isTimeToGoDown() bool {
	if b.prevProbeTooHigh && float64(b.priorInFlight+b.maxDatagramSize) > b.inflightLong {
		b.prevProbePrecautionary = true
		return true
	}
	if b.isCwndLimited() && float64(b.cwnd) >= b.inflightLong {
		b.resetFullBw()
		b.fullBw = b.rate
		return false
	}
	return b.fullBwNow
}

// isProbingBW reports whether the sender is accelerating on purpose, when
// loss says the probe went too far rather than that the path shrank.
func (b *BBR) isProbingBW() bool {
	return b.state == BBRStartup || b.state == BBRProbeBWRefill || b.state == BBRProbeBWUp
}

// adaptLongTermModel follows the probe's feedback: it advances the
// max_bw filter once a probe's ACKs are in, restarts a precautionary
// probe that lost nothing, and raises inflight_longterm while the loss
// rate stays under the threshold. It reports whether it changed state.
func (b *BBR) adaptLongTermModel(now time.Time, acked int) bool {
	if b.ackPhase == acksProbeStarting && b.roundStart {
		b.ackPhase = acksProbeFeedback
	}
	if b.ackPhase == acksProbeStopping && b.roundStart {
		b.bwProbeSample = false
		b.ackPhase = acksInit
		if b.state.ProbingBW() && !b.sample.appLimited {
			b.advanceMaxBwFilter()
		}
		if b.state.ProbingBW() && b.prevProbePrecautionary && !b.prevProbeTooHigh {
			b.startProbeBWRefill()
			return true
		}
	}
	if inflightTooHigh(b.sample.lost, b.sample.txInFlight) || math.IsInf(b.inflightLong, 1) {
		return false
	}
	b.inflightLong = max(b.inflightLong, float64(b.sample.txInFlight))
	if b.state == BBRProbeBWUp {
		b.probeInflightLongUpward(acked)
	}
	return false
}

// raiseInflightLongSlope doubles, each round trip of UP, how fast
// inflight_longterm grows: 1, 2, 4, ... datagrams a round trip.
func (b *BBR) raiseInflightLongSlope() {
	growth := float64(uint64(1) << b.bwProbeUpRounds)
	b.bwProbeUpRounds = min(b.bwProbeUpRounds+1, 30)
	b.probeUpAckedPerInc = max(float64(b.cwnd)/growth, float64(b.maxDatagramSize))
}

// probeInflightLongUpward raises inflight_longterm by a datagram per
// probeUpAckedPerInc bytes acknowledged while the window is at it.
func (b *BBR) probeInflightLongUpward(acked int) {
	if !b.isCwndLimited() || float64(b.cwnd) < b.inflightLong {
		return
	}
	b.bwProbeUpAcked += float64(acked)
	if b.bwProbeUpAcked >= b.probeUpAckedPerInc {
		delta := math.Floor(b.bwProbeUpAcked / b.probeUpAckedPerInc)
		b.bwProbeUpAcked -= delta * b.probeUpAckedPerInc
		b.inflightLong += delta * float64(b.maxDatagramSize)
	}
	if b.roundStart {
		b.raiseInflightLongSlope()
	}
}
