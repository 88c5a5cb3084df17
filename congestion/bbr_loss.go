package congestion

import (
	"math"
	"time"
)

// BBR's answer to loss (draft-ietf-ccwg-bbr, "Updating the Model Upon
// Packet Loss"): while
// probing, a loss rate above bbrLossThresh of what was in flight sets
// the long-term ceiling; otherwise each round trip with a loss lowers the
// short-term bounds towards what the last round delivered.

// PacketLossObserver is a Controller that needs each lost packet, not
// only the total: loss detection calls OnPacketLost for every packet of a
// loss before the OnLoss that reports them together.
type PacketLossObserver interface {
	OnPacketLost(now time.Time, pn int64, bytes int)
}

// inflightTooHigh reports whether lost bytes of txInFlight exceed the
// loss threshold.
func inflightTooHigh(lost int64, txInFlight int) bool {
	return lost > 0 && float64(lost) > float64(txInFlight)*bbrLossThresh
}

// inflightAtLoss estimates the bytes in flight at which the loss rate
// crossed the threshold, within the packet of size bytes that crossed it:
// (lostPrev + x) / (inflightPrev + x) = threshold, solved for x.
func inflightAtLoss(txInFlight int, lost int64, size int) float64 {
	inflightPrev := float64(txInFlight - size)
	lostPrev := float64(lost) - float64(size)
	lostPrefix := (bbrLossThresh*inflightPrev - lostPrev) / (1 - bbrLossThresh)
	return inflightPrev + lostPrefix
}

// OnPacketLost implements PacketLossObserver: the packet leaves flight,
// and if it was sent while probing and the loss since then passes the
// threshold, the probe ends and sets inflight_longterm. With
// TolerateRandomLoss this waits for OnLoss to classify the loss.
func (b *BBR) OnPacketLost(now time.Time, pn int64, bytes int) {
	b.lostCounted += bytes
	if b.tolerant {
		b.pending = append(b.pending, pendingLoss{pn, bytes})
		return
	}
	b.packetLost(now, pn, bytes)
}

// pendingLoss is a lost packet waiting for OnLoss to classify its loss.
type pendingLoss struct {
	pn    int64
	bytes int
}

// packetLost answers lost packet pn as a congestion signal.
func (b *BBR) packetLost(now time.Time, pn int64, bytes int) {
	p, ok := b.rs.onPacketLost(pn, bytes)
	b.noteLoss(now)
	if !b.bwProbeSample || !ok {
		return
	}
	lost := b.rs.lost - p.lost
	if inflightTooHigh(lost, p.txInFlight) {
		b.handleInflightTooHigh(now, p.appLimited, inflightAtLoss(p.txInFlight, lost, bytes))
	}
}

// handleInflightTooHigh answers a probe that lost too much, once per
// probe.
func (b *BBR) handleInflightTooHigh(now time.Time, appLimited bool, txInFlight float64) {
	b.prevProbeTooHigh = true
	b.bwProbeSample = false
	if !appLimited {
		// Whole bytes, as the window is: a fraction above it would keep
		// a window at the ceiling from counting as reaching it.
		b.inflightLong = math.Floor(max(txInFlight, b.targetInflight()*bbrBeta))
	}
	if b.state == BBRProbeBWUp {
		b.undoState = BBRProbeBWUp
		b.startProbeBWDown(now)
	}
}

// OnLoss implements Controller. Losses are noted for the round trip's
// response; bytes that OnPacketLost did not already take out of flight
// are taken out here. With TolerateRandomLoss, a loss the classifier
// judges random only leaves flight, and OnLoss reports it as not taken
// for congestion; every other loss reaches the model.
func (b *BBR) OnLoss(now time.Time, lostBytes int, largestLostSentTime time.Time) bool {
	rest := lostBytes - b.lostCounted
	b.lostCounted = 0
	if !now.Equal(b.batchLostAt) {
		b.batchLost, b.batchLostAt = 0, now
	}
	b.batchLost += lostBytes
	pending := b.pending
	b.pending = b.pending[:0]
	if b.tolerant && b.signal.onLost(now, lostBytes, b.maxDatagramSize, b.smoothed, b.state == BBRStartup) == lossRandom {
		for _, p := range pending {
			b.rs.onRandomLoss(p.pn, p.bytes)
		}
		if rest > 0 {
			b.rs.onRandomLoss(-1, rest)
		}
		return false
	}
	for _, p := range pending {
		b.packetLost(now, p.pn, p.bytes)
	}
	if rest > 0 {
		b.rs.onLost(rest)
		b.noteLoss(now)
	}
	b.lossEventsInRound++
	b.lostSinceSave += lostBytes
	return true
}

// noteLoss starts the loss round at the first loss, so the response comes
// a round trip later, with that round's delivery to go by. The state to
// undo is saved at the first loss of a round even if a probe's end
// (which clears lossInRound) came between, so an undo restores what was
// before the loss rather than what it made.
func (b *BBR) noteLoss(now time.Time) {
	if !b.lossInRound {
		b.lossRoundDelivered = b.rs.delivered
	}
	if !b.lossSaved {
		b.saveStateUponLoss(now)
		b.lossSaved = true
	}
	b.lossInRound = true
}

// updateLatestDeliverySignals tracks what the current loss round
// delivered: its largest delivery rate and volume.
func (b *BBR) updateLatestDeliverySignals() {
	b.lossRoundStart = false
	b.bwLatest = max(b.bwLatest, b.rate)
	b.inflightLatest = max(b.inflightLatest, b.sample.delivered)
	if b.sample.priorDelivered >= b.lossRoundDelivered {
		b.lossRoundDelivered = b.rs.delivered
		b.lossRoundStart = true
	}
}

// advanceLatestDeliverySignals starts the next loss round's maxima.
func (b *BBR) advanceLatestDeliverySignals() {
	if b.lossRoundStart {
		b.bwLatest = b.rate
		b.inflightLatest = b.sample.delivered
	}
}

func (b *BBR) resetCongestionSignals() {
	b.lossInRound = false
	b.bwLatest = 0
	b.inflightLatest = 0
}

// updateCongestionSignals updates max_bw, and once per loss round answers
// the round's losses.
func (b *BBR) updateCongestionSignals() {
	b.updateMaxBw()
	if !b.lossRoundStart {
		return
	}
	b.lossEventsLast, b.lossEventsInRound = b.lossEventsInRound, 0
	b.lossSaved = false
	if !b.isProbingBW() && b.lossInRound {
		if b.bwShort == unbounded {
			b.bwShort = b.maxBw
		}
		if b.inflightShort == unbounded {
			b.inflightShort = float64(b.cwnd)
		}
		b.bwShort = max(b.bwLatest, bbrBeta*b.bwShort)
		b.inflightShort = max(float64(b.inflightLatest), bbrBeta*b.inflightShort)
	}
	b.lossInRound = false
}

func (b *BBR) resetShortTermModel() {
	b.bwShort = unbounded
	b.inflightShort = unbounded
}

// saveStateUponLoss keeps what a loss response may change, to restore it
// if the loss turns out spurious.
func (b *BBR) saveStateUponLoss(now time.Time) {
	b.savedAt = now
	b.saveCwnd()
	b.undoState = bbrNoState
	b.undoBwShort = b.bwShort
	b.undoInflightShort = b.inflightShort
	b.undoInflightLong = b.inflightLong
	b.lostSinceSave, b.spuriousSinceSave = 0, 0
}

// OnSpuriousLoss implements Controller: once everything lost since the
// state was saved has been acknowledged after all, the loss response is
// undone, and a probe that loss ended starts again.
func (b *BBR) OnSpuriousLoss(now time.Time, bytes int, lostAt time.Time) {
	if lostAt.Before(b.savedAt) {
		return // an earlier episode's, whose response this cannot undo
	}
	b.spuriousSinceSave += bytes
	if b.lostSinceSave == 0 || b.spuriousSinceSave < b.lostSinceSave {
		return
	}
	b.restoreCwnd()
	b.lossInRound = false
	b.resetFullBw()
	b.bwShort = max(b.bwShort, b.undoBwShort)
	b.inflightShort = max(b.inflightShort, b.undoInflightShort)
	b.inflightLong = max(b.inflightLong, b.undoInflightLong)
	switch {
	case b.undoState == BBRStartup && b.state != BBRStartup:
		b.fullBwReached = false
		if b.state != BBRProbeRTT {
			b.enterStartup()
		}
	case b.undoState == BBRProbeBWUp && b.state != BBRProbeBWUp:
		if b.state != BBRProbeRTT {
			b.startProbeBWRefill()
		}
	}
	b.undoState = bbrNoState
	b.lostSinceSave, b.spuriousSinceSave = 0, 0
}

// OnCongestionExperienced implements Controller: BBRv3 as drafted does
// not answer CE marks (packets go out Not-ECT).
func (b *BBR) OnCongestionExperienced(now, largestAckedSentTime time.Time) bool { return false }

// OnPersistentCongestion implements Controller: as after TCP's
// retransmission timeout, the window falls to the minimum and the model
// is kept; ACKs raise the window again.
func (b *BBR) OnPersistentCongestion(now time.Time) {
	b.saveCwnd()
	b.cwnd = b.minPipe()
}

// saveCwnd remembers the last window that loss or ProbeRTT did not cut.
func (b *BBR) saveCwnd() {
	if b.state != BBRProbeRTT {
		b.priorCwnd = b.cwnd
		return
	}
	b.priorCwnd = max(b.priorCwnd, b.cwnd)
}

func (b *BBR) restoreCwnd() { b.cwnd = max(b.cwnd, b.priorCwnd) }

// ackAggregation estimates how much more than the bandwidth estimate
// predicts arrives acknowledged at once (ACK aggregation, ACK
// thinning), so the window covers the gaps between such ACKs.
type ackAggregation struct {
	start     time.Time
	delivered int64
	slots     [bbrExtraAckedRounds]struct {
		round uint64
		extra float64
	}
}

// updateAckAggregation keeps BBR.extra_acked: the largest excess of the
// last 10 round trips (1 in Startup).
func (b *BBR) updateAckAggregation(now time.Time, acked int) {
	a := &b.aggregation
	expected := b.bw * now.Sub(a.start).Seconds()
	if float64(a.delivered) <= expected {
		a.delivered = 0
		a.start = now
		expected = 0
	}
	a.delivered += int64(acked)
	extra := min(float64(a.delivered)-expected, float64(b.cwnd))
	s := &a.slots[b.round%bbrExtraAckedRounds]
	if s.round != b.round {
		s.round, s.extra = b.round, 0
	}
	s.extra = max(s.extra, extra)
	window := uint64(1)
	if b.fullBwReached {
		window = bbrExtraAckedRounds
	}
	b.extraAcked = 0
	for _, s := range a.slots {
		if b.round-s.round < window {
			b.extraAcked = max(b.extraAcked, s.extra)
		}
	}
}
