package congestion

import "time"

// Loss classification constants.
const (
	// queueDelayFraction is the fraction of the minimum RTT a standing
	// queue must add before a loss counts as congestion: 1/4. An eighth,
	// which HyStart++ takes as the sign that slow start has filled the
	// path (RFC 9406 §4.2), is within the noise of a busy host's RTT
	// samples (several ms on the 2-core lab machine at 100 Mbit/s).
	queueDelayFraction = 4
	// minQueueDelay and maxQueueDelay bound that threshold: below 2 ms the
	// RTT's own noise (scheduling, ACK timing) would pass for a queue;
	// above 25 ms a real queue of a long path would be missed.
	minQueueDelay = 2 * time.Millisecond
	maxQueueDelay = 25 * time.Millisecond

	// congestiveLossRate is the loss rate, over the last several round
	// trips, at which losses count as congestion even with no queue to
	// see: a bottleneck whose buffer is too shallow to show delay still
	// has to slow the sender down. It sits well above the random loss of
	// the worst radio links the sender is meant to run at line rate over
	// (a few percent, also in bursts).
	congestiveLossRate = 0.10
	// lossRatePeriods is how many periods of one smoothed RTT the loss
	// rate covers, and lossRateMinDatagrams how many datagrams they must
	// hold before it means anything: bursty loss of 4 % reaches 10 %
	// over a round trip or two of a small window quite often.
	lossRatePeriods      = 8
	lossRateMinDatagrams = 256

	// adaptiveBetaMax caps the reduction factor a loss with a shallow
	// queue gets (see lossSignal.beta): the largest β of ABE (RFC 8511).
	adaptiveBetaMax = 0.85
)

// lossSignal tells a loss that carries a congestion signal from random
// loss (a radio link's, a lossy tunnel's). A loss is congestion when it
// comes with a standing queue: the smallest RTT of the last half to one
// round trip is above the path's minimum by at least a quarter of it
// (clamped to 2–25 ms). It is also congestion when losses reach 10 % of
// the bytes of the last eight smoothed RTTs (once those hold 256
// datagrams), queue or not, and before the path has an RTT sample. In
// slow start the current half round trip's samples alone can show the
// queue, which rises within a round trip there. Otherwise it is random:
// the packet is sent again but the window stays.
//
// After a reduction, the queue is judged afresh from samples taken one
// smoothed RTT later, when they come from packets the reduced window sent:
// the queue the old window built takes that long to drain, and losses
// meanwhile would otherwise cut the window again and again, far below
// what the path carries.
//
// Its cases of being wrong are documented in docs/PROTOCOL.md section 3.
type lossSignal struct {
	// minRTT is the path's minimum RTT, from RTTStats.
	minRTT time.Duration
	// winMin is the smallest RTT sample since winStart, prevMin the
	// smallest of the window before (if prevValid); a window lasts half
	// a smoothed RTT, so their minimum covers between half and one round
	// trip: a queue that stands that long is no scheduling hiccup of the
	// sender or receiver, which lasts milliseconds. A gap of a window
	// without samples (an idle sender, or a stalled one whose first ACKs
	// come late) invalidates the previous window: one late sample is no
	// queue.
	winMin, prevMin time.Duration
	winStart        time.Time
	lastSample      time.Time
	haveWin         bool
	prevValid       bool
	// sampled is set once there has been an RTT sample; freshAt is when
	// samples describe the window again after a reduction.
	sampled bool
	freshAt time.Time

	// Bytes acknowledged and lost per period of one smoothed RTT, the
	// current one (since periodStart) at index period%lossRatePeriods.
	acked, lost [lossRatePeriods]int
	period      int
	periodStart time.Time
	havePeriod  bool
}

// onRTTSample records a new RTT sample taken at now.
func (s *lossSignal) onRTTSample(now time.Time, rtt *RTTStats) {
	s.minRTT = rtt.Min()
	s.sampled = true
	if now.Before(s.freshAt) {
		return
	}
	latest := rtt.Adjusted()
	window := max(rtt.Smoothed()/2, time.Millisecond)
	switch {
	case !s.haveWin || now.Sub(s.lastSample) >= window:
		s.winMin, s.winStart = latest, now
		s.haveWin, s.prevValid = true, false
	case now.Sub(s.winStart) >= window:
		s.prevMin, s.prevValid = s.winMin, true
		s.winMin, s.winStart = latest, now
	default:
		s.winMin = min(s.winMin, latest)
	}
	s.lastSample = now
}

// onPeriod moves the loss-rate periods on at now.
func (s *lossSignal) onPeriod(now time.Time, smoothed time.Duration) {
	if !s.havePeriod {
		s.periodStart, s.havePeriod = now, true
		return
	}
	d := now.Sub(s.periodStart)
	if d < smoothed || smoothed <= 0 {
		return
	}
	// Periods that passed without ACKs or losses are empty.
	for n := min(int(d/smoothed), lossRatePeriods); n > 0; n-- {
		s.period++
		i := s.period % lossRatePeriods
		s.acked[i], s.lost[i] = 0, 0
	}
	s.periodStart = now
}

// onAcked counts bytes newly acknowledged at now.
func (s *lossSignal) onAcked(now time.Time, bytes int, smoothed time.Duration) {
	s.onPeriod(now, smoothed)
	s.acked[s.period%lossRatePeriods] += bytes
}

// queueDelay is the standing queue the recent RTT samples show, or 0
// without a whole window of them.
func (s *lossSignal) queueDelay() time.Duration {
	if !s.prevValid {
		return 0
	}
	return max(min(s.winMin, s.prevMin)-s.minRTT, 0)
}

// queueThreshold is the queue delay at which a loss is congestion.
func (s *lossSignal) queueThreshold() time.Duration {
	return min(max(s.minRTT/queueDelayFraction, minQueueDelay), maxQueueDelay)
}

// lossRate is the fraction of the recent periods' bytes that were lost,
// and whether there were enough of them to tell.
func (s *lossSignal) lossRate(datagramSize int) (float64, bool) {
	var lost, total int
	for i := range lossRatePeriods {
		lost += s.lost[i]
		total += s.acked[i] + s.lost[i]
	}
	if total < lossRateMinDatagrams*datagramSize {
		return 0, false
	}
	return float64(lost) / float64(total), true
}

// risingQueueDelay is the queue the current window's samples alone show:
// in slow start, where the window doubles every round trip, the queue
// rises faster than the minimum over a whole round trip follows.
func (s *lossSignal) risingQueueDelay() time.Duration {
	if !s.haveWin {
		return 0
	}
	return max(s.winMin-s.minRTT, 0)
}

// onLost counts lostBytes declared lost at now and classifies them.
func (s *lossSignal) onLost(now time.Time, lostBytes, datagramSize int, smoothed time.Duration, slowStart bool) lossKind {
	s.onPeriod(now, smoothed)
	s.lost[s.period%lossRatePeriods] += lostBytes
	switch {
	case !s.sampled:
		return lossCongestion
	case s.queueDelay() >= s.queueThreshold():
		return lossCongestion
	case slowStart && s.risingQueueDelay() >= s.queueThreshold():
		return lossCongestion
	}
	if rate, ok := s.lossRate(datagramSize); ok && rate >= congestiveLossRate {
		return lossCongestion
	}
	return lossRandom
}

// onReduced starts judging the queue afresh one smoothed RTT after a
// reduction at now, and the loss rate afresh at once: the losses that
// caused the reduction have been answered. Counting them on, a slow-start
// overshoot's burst (a fifth of a round's packets) kept the rate above
// 10 % for eight round trips, and each random loss in them cut the
// window again: seven cuts in a row at 1 % random loss, to a sixth of the
// path's capacity.
func (s *lossSignal) onReduced(now time.Time, smoothed time.Duration) {
	s.haveWin, s.prevValid = false, false
	s.freshAt = now.Add(smoothed)
	s.acked, s.lost = [lossRatePeriods]int{}, [lossRatePeriods]int{}
	s.havePeriod = false
}

// beta is the reduction factor for a loss that is congestion: CUBIC's 0.7
// when the queue is deep, but up to 0.85 when the queue is shallow,
// enough to drain it (minRTT/RTT of the window) without leaving the link
// idle while the window grows back.
func (s *lossSignal) beta() float64 {
	queue := s.queueDelay()
	if queue <= 0 || s.minRTT <= 0 {
		return cubicBeta
	}
	return min(max(float64(s.minRTT)/float64(s.minRTT+queue), cubicBeta), adaptiveBetaMax)
}

// lossKind is what lossSignal made of a loss.
type lossKind uint8

const (
	lossCongestion lossKind = iota
	lossRandom
)
