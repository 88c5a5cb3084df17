package congestion

import (
	"math/rand/v2"
	"time"
)

// BBR constants (draft-ietf-ccwg-bbr, section 2.5 and following).
const (
	// bbrStartupPacingGain is 4·ln 2, the smallest gain that doubles the
	// delivery rate every round trip; the window gets 2 BDPs.
	bbrStartupPacingGain = 2.77
	bbrStartupCwndGain   = 2.0
	// bbrDrainPacingGain drains in about a round trip the queue Startup
	// built.
	bbrDrainPacingGain = 0.35
	// bbrCwndGain bounds what is in flight outside Startup: two BDPs, so
	// delayed and stretched ACKs do not leave the pipe empty.
	bbrCwndGain = 2.0
	// bbrProbeRTTCwndGain is the window in ProbeRTT, in BDPs.
	bbrProbeRTTCwndGain = 0.5

	// bbrFullBwThresh and bbrFullBwCount: Startup ends once the bandwidth
	// estimate has grown less than 25 % in 3 round trips in a row.
	bbrFullBwThresh = 1.25
	bbrFullBwCount  = 3

	// bbrBwFilterRounds is how many round trips the bandwidth estimate,
	// a windowed maximum of the delivery rate, remembers.
	bbrBwFilterRounds = 10
	// bbrMinRTTFilter is how long a minimum RTT stands before ProbeRTT
	// measures it again; bbrProbeRTTDuration is how long ProbeRTT holds
	// the smaller window.
	bbrMinRTTFilter     = 10 * time.Second
	bbrProbeRTTDuration = 200 * time.Millisecond

	// bbrPacingMargin paces 1 % under the estimate, so the sender does not
	// build a queue at the rate it measured.
	bbrPacingMargin = 0.99
	// bbrMinPipeDatagrams is the smallest window, in datagrams.
	bbrMinPipeDatagrams = 4
)

// bbrProbeBWGains is the ProbeBW cycle: a round trip probing for more
// bandwidth at 1.25, one draining the queue that made at 0.75, then six
// cruising at the estimate.
var bbrProbeBWGains = [...]float64{1.25, 0.75, 1, 1, 1, 1, 1, 1}

// BBRState is the state of BBR's model (draft-ietf-ccwg-bbr, section 4.3).
type BBRState uint8

const (
	BBRStartup BBRState = iota
	BBRDrain
	BBRProbeBW
	BBRProbeRTT
)

// String returns the state's name, as traces write it.
func (s BBRState) String() string {
	switch s {
	case BBRStartup:
		return "startup"
	case BBRDrain:
		return "drain"
	case BBRProbeBW:
		return "probe_bw"
	case BBRProbeRTT:
		return "probe_rtt"
	}
	return "unknown"
}

// BBR is a model-based congestion controller after draft-ietf-ccwg-bbr: it
// paces at its estimate of the bottleneck bandwidth (the largest delivery
// rate of the last 10 round trips) and keeps about two bandwidth-delay
// products in flight, the delay being the smallest RTT of the last 10 s.
// Startup doubles the rate every round trip until the estimate stops
// growing, Drain empties the queue that built, ProbeBW cycles its pacing
// gain through 1.25, 0.75 and 1 to find more bandwidth and give back what
// the probe queued, and ProbeRTT shrinks the window for 200 ms when the
// minimum RTT is 10 s old, to measure it again.
//
// Loss and ECN marks do not change the model: this is BBR's first
// version's response. The bounds BBRv3 adds on what is in flight when a
// probe loses more than 2 % (inflight_hi, inflight_lo) are not
// implemented, so on a shared bottleneck with a shallow buffer this BBR
// takes more than its share, as the first version does. It implements
// Controller.
type BBR struct {
	maxDatagramSize int
	rs              rateSampler

	state      BBRState
	pacingGain float64
	cwndGain   float64
	cwnd       int
	pacingRate float64 // bytes per second, 0 before the first estimate

	// Bandwidth: the largest delivery-rate sample of each of the last
	// bbrBwFilterRounds round trips.
	bwRounds          [bbrBwFilterRounds]float64
	round             uint64
	nextRoundDelivery int64
	roundStart        bool

	// Minimum RTT, and when it was last lowered or measured again.
	minRTT      time.Duration
	minRTTStamp time.Time

	// Startup's end.
	filledPipe bool
	fullBw     float64
	fullBwRuns int

	// ProbeBW's cycle.
	cycleIndex  int
	cycleStart  time.Time
	lossInPhase bool

	// ProbeRTT.
	probeRTTDone  time.Time
	probeRTTRound uint64
	priorCwnd     int

	// The ACK frame being processed.
	batchAcked, batchLost int
	lastRTTSamples        uint64
	rng                   *rand.Rand
}

var _ Controller = (*BBR)(nil)

// NewBBR returns a BBR controller in Startup for datagrams of
// maxDatagramSize bytes (DefaultMaxDatagramSize if not positive).
func NewBBR(maxDatagramSize int) *BBR {
	b := &BBR{rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	b.maxDatagramSize = DefaultMaxDatagramSize
	if maxDatagramSize > 0 {
		b.maxDatagramSize = min(maxDatagramSize, MaxDatagramSizeLimit)
	}
	b.reset()
	return b
}

func (b *BBR) reset() {
	*b = BBR{maxDatagramSize: b.maxDatagramSize, rng: b.rng}
	b.cwnd = InitialWindow(b.maxDatagramSize)
	b.enterStartup()
}

// Reset implements Controller.
func (b *BBR) Reset(now time.Time) { b.reset() }

func (b *BBR) enterStartup() {
	b.state = BBRStartup
	b.pacingGain, b.cwndGain = bbrStartupPacingGain, bbrStartupCwndGain
}

// bw is the bandwidth estimate in bytes per second, 0 before a sample.
func (b *BBR) bw() float64 {
	var m float64
	for _, r := range b.bwRounds {
		m = max(m, r)
	}
	return m
}

// bdp is the estimated bandwidth-delay product in bytes, or 0.
func (b *BBR) bdp() float64 {
	if b.minRTT <= 0 {
		return 0
	}
	return b.bw() * b.minRTT.Seconds()
}

// OnPacketSent implements Controller.
func (b *BBR) OnPacketSent(now time.Time, pn int64, bytes int) { b.rs.onSent(now, pn, bytes) }

// OnPacketAcked implements Controller.
func (b *BBR) OnPacketAcked(now time.Time, pn int64, bytes int, sentTime time.Time) {
	b.rs.onAcked(now, pn, bytes)
	b.batchAcked += bytes
}

// OnLoss implements Controller: the loss is taken out of flight but does
// not change the model, and is reported as not taken as congestion.
func (b *BBR) OnLoss(now time.Time, lostBytes int, largestLostSentTime time.Time) bool {
	b.rs.onLost(lostBytes)
	b.batchLost += lostBytes
	b.lossInPhase = true
	return false
}

// OnCongestionExperienced implements Controller: marks do not change the
// model.
func (b *BBR) OnCongestionExperienced(now, largestAckedSentTime time.Time) bool { return false }

// OnSpuriousLoss implements Controller; there is no reduction to undo.
func (b *BBR) OnSpuriousLoss(now time.Time, bytes int, lostAt time.Time) {}

// OnPersistentCongestion implements Controller: the window falls to the
// minimum, and the model is kept; the first ACKs after the outage raise
// the window again.
func (b *BBR) OnPersistentCongestion(now time.Time) {
	b.cwnd = b.minPipe()
}

// OnAppLimited marks the delivery-rate samples of packets sent from now
// on as application-limited, until what is in flight now is delivered:
// the sender had nothing to send, so they understate the path.
func (b *BBR) OnAppLimited() { b.rs.onAppLimited() }

// OnAckProcessed implements Controller.
func (b *BBR) OnAckProcessed(now time.Time, priorInFlight int, rtt *RTTStats) {
	acked := b.batchAcked
	inFlight := max(priorInFlight-acked-b.batchLost, 0)
	b.batchAcked, b.batchLost = 0, 0
	b.rs.inFlight = inFlight

	if rtt != nil && rtt.HasSample() && rtt.Samples() != b.lastRTTSamples {
		b.lastRTTSamples = rtt.Samples()
		b.updateMinRTT(now, rtt.Latest())
	}
	b.roundStart = false
	s, ok := b.rs.take(b.minRTT)
	if s.valid && s.priorDelivered >= b.nextRoundDelivery {
		// Rounds count even on samples too short to give a rate.
		b.nextRoundDelivery = b.rs.delivered
		b.round++
		b.roundStart = true
		b.bwRounds[b.round%bbrBwFilterRounds] = 0
	}
	if ok {
		if r := s.rate(); !s.appLimited || r >= b.bw() {
			i := b.round % bbrBwFilterRounds
			b.bwRounds[i] = max(b.bwRounds[i], r)
		}
		if b.roundStart && !s.appLimited {
			b.checkFullPipe()
		}
	}
	b.updateState(now, inFlight)
	b.updateCwnd(acked)
	b.updatePacingRate(rtt)
}

// updateMinRTT lowers the minimum RTT, or starts ProbeRTT when it is too
// old.
func (b *BBR) updateMinRTT(now time.Time, sample time.Duration) {
	expired := !b.minRTTStamp.IsZero() && now.Sub(b.minRTTStamp) > bbrMinRTTFilter
	if sample > 0 && (b.minRTT == 0 || sample <= b.minRTT || expired) {
		b.minRTT = sample
		b.minRTTStamp = now
	}
	if expired && b.state != BBRProbeRTT {
		b.state = BBRProbeRTT
		b.pacingGain, b.cwndGain = 1, bbrProbeRTTCwndGain
		b.priorCwnd = max(b.priorCwnd, b.cwnd)
		b.probeRTTDone = time.Time{}
	}
}

// checkFullPipe notes, at each round trip's start, whether the bandwidth
// estimate still grows.
func (b *BBR) checkFullPipe() {
	if b.filledPipe {
		return
	}
	if bw := b.bw(); bw >= b.fullBw*bbrFullBwThresh {
		b.fullBw = bw
		b.fullBwRuns = 0
		return
	}
	b.fullBwRuns++
	if b.fullBwRuns >= bbrFullBwCount {
		b.filledPipe = true
	}
}

// updateState moves the state machine on with inFlight bytes left.
func (b *BBR) updateState(now time.Time, inFlight int) {
	switch b.state {
	case BBRStartup:
		if b.filledPipe {
			b.state = BBRDrain
			b.pacingGain, b.cwndGain = bbrDrainPacingGain, bbrStartupCwndGain
		}
	case BBRDrain:
		if float64(inFlight) <= b.bdp() {
			b.enterProbeBW(now)
		}
	case BBRProbeBW:
		b.advanceCycle(now, inFlight)
	case BBRProbeRTT:
		target := b.probeRTTCwnd()
		switch {
		case b.probeRTTDone.IsZero() && inFlight <= target:
			b.probeRTTDone = now.Add(bbrProbeRTTDuration)
			b.probeRTTRound = b.round + 1
		case !b.probeRTTDone.IsZero() && now.After(b.probeRTTDone) && b.round >= b.probeRTTRound:
			b.minRTTStamp = now
			b.cwnd = max(b.cwnd, b.priorCwnd)
			b.priorCwnd = 0
			if b.filledPipe {
				b.enterProbeBW(now)
			} else {
				b.enterStartup()
			}
		}
	}
}

// enterProbeBW starts the cycle at a random phase other than the drain
// after the probe, so flows that start together do not probe together.
func (b *BBR) enterProbeBW(now time.Time) {
	b.state = BBRProbeBW
	b.cwndGain = bbrCwndGain
	b.cycleIndex = b.rng.IntN(len(bbrProbeBWGains) - 1)
	if b.cycleIndex >= 1 {
		b.cycleIndex++
	}
	b.startPhase(now)
}

func (b *BBR) startPhase(now time.Time) {
	b.pacingGain = bbrProbeBWGains[b.cycleIndex]
	b.cycleStart = now
	b.lossInPhase = false
}

// advanceCycle moves to the cycle's next phase after a minimum RTT: the
// probe goes on until it has put 1.25 BDPs in flight or lost a packet, and
// the drain ends early once the queue is gone.
func (b *BBR) advanceCycle(now time.Time, inFlight int) {
	elapsed := now.Sub(b.cycleStart) > b.minRTT
	bdp := b.bdp()
	next := elapsed
	switch {
	case b.pacingGain > 1:
		next = elapsed && (b.lossInPhase || float64(inFlight) >= b.pacingGain*bdp)
	case b.pacingGain < 1:
		next = elapsed || float64(inFlight) <= bdp
	}
	if next {
		b.cycleIndex = (b.cycleIndex + 1) % len(bbrProbeBWGains)
		b.startPhase(now)
	}
}

func (b *BBR) minPipe() int { return bbrMinPipeDatagrams * b.maxDatagramSize }

func (b *BBR) probeRTTCwnd() int {
	return max(int(bbrProbeRTTCwndGain*b.bdp()), b.minPipe())
}

// updateCwnd grows the window towards cwnd_gain BDPs by the bytes acked:
// without limit until Startup ends, so the window keeps up with the
// doubling rate.
func (b *BBR) updateCwnd(acked int) {
	target := int(b.cwndGain*b.bdp()) + 3*b.maxDatagramSize
	switch {
	case b.bdp() == 0:
		b.cwnd += acked // no estimate yet: grow as slow start does
	case b.filledPipe:
		b.cwnd = min(b.cwnd+acked, target)
	case b.cwnd < target || b.rs.delivered < int64(InitialWindow(b.maxDatagramSize)):
		b.cwnd += acked
	}
	b.cwnd = min(max(b.cwnd, b.minPipe()), DefaultMaxWindow)
	if b.state == BBRProbeRTT {
		b.cwnd = min(b.cwnd, b.probeRTTCwnd())
	}
}

// updatePacingRate paces at pacing_gain times the estimate; before the
// first estimate, at the startup gain over the initial window and RTT. In
// Startup the rate never falls.
func (b *BBR) updatePacingRate(rtt *RTTStats) {
	bw := b.bw()
	if bw == 0 {
		srtt := DefaultInitialRTT
		if rtt != nil {
			srtt = rtt.Smoothed()
		}
		b.pacingRate = bbrStartupPacingGain * float64(InitialWindow(b.maxDatagramSize)) / srtt.Seconds()
		return
	}
	rate := b.pacingGain * bw * bbrPacingMargin
	if b.state == BBRStartup && rate < b.pacingRate {
		return
	}
	b.pacingRate = rate
}

// PacingRate is the rate the sender should pace at, in bytes per second.
func (b *BBR) PacingRate() uint64 { return uint64(b.pacingRate) }

// Window implements Controller.
func (b *BBR) Window() int { return b.cwnd }

// CanSend implements Controller.
func (b *BBR) CanSend(bytesInFlight int) bool {
	return bytesInFlight+b.maxDatagramSize <= b.cwnd
}

// InSlowStart implements Controller: Startup is BBR's slow start.
func (b *BBR) InSlowStart() bool { return b.state == BBRStartup }

// State is the model's state.
func (b *BBR) State() BBRState { return b.state }

// Bandwidth is the bandwidth estimate in bytes per second, and MinRTT the
// minimum RTT the model uses.
func (b *BBR) Bandwidth() float64    { return b.bw() }
func (b *BBR) MinRTT() time.Duration { return b.minRTT }

// SetMaxDatagramSize implements Controller.
func (b *BBR) SetMaxDatagramSize(n int) {
	if n <= 0 {
		return
	}
	n = min(n, MaxDatagramSizeLimit)
	if b.rs.delivered == 0 && b.cwnd == InitialWindow(b.maxDatagramSize) {
		b.cwnd = InitialWindow(n)
	}
	b.maxDatagramSize = n
	b.cwnd = max(b.cwnd, b.minPipe())
}
