package congestion

import (
	"math"
	"math/rand/v2"
	"time"
)

// BBR constants (draft-ietf-ccwg-bbr, BBRv3).
const (
	// bbrStartupPacingGain is 4·ln 2, the smallest gain that doubles the
	// delivery rate every round trip.
	bbrStartupPacingGain = 2.77
	// bbrDefaultCwndGain bounds what is in flight to two BDPs, so delayed
	// and stretched ACKs do not leave the pipe empty.
	bbrDefaultCwndGain = 2.0
	// bbrDrainPacingGain drains in about a round trip the queue Startup
	// built (at most one BDP, by the window gain of 2).
	bbrDrainPacingGain = 0.5
	// The ProbeBW cycle's gains: DOWN sends at 90 % of the estimate, UP at
	// 125 % with room for a quarter BDP more in flight.
	bbrProbeDownPacingGain = 0.9
	bbrProbeUpPacingGain   = 1.25
	bbrProbeUpCwndGain     = 2.25
	// bbrProbeRTTCwndGain is the window in ProbeRTT, in BDPs.
	bbrProbeRTTCwndGain = 0.5

	// bbrLossThresh is the loss rate, of what was in flight, above which
	// a bandwidth probe has put too much in flight.
	bbrLossThresh = 0.02
	// bbrBeta is the most one loss response takes off a bound, as CUBIC's
	// multiplicative decrease does.
	bbrBeta = 0.7
	// bbrHeadroom is the share of inflight_longterm left free for other
	// flows while cruising.
	bbrHeadroom = 0.15

	// Startup ends once the delivery rate has grown less than 25 % in 3
	// round trips in a row, or once a round trip lost more than
	// bbrLossThresh in at least 6 separate losses.
	bbrFullBwThresh         = 1.25
	bbrFullBwCount          = 3
	bbrStartupFullLossCount = 6

	// bbrMinRTTFilter is how long a minimum RTT stands; bbrProbeRTTInterval
	// how often ProbeRTT drains the queue to measure it, if no lower
	// sample came; bbrProbeRTTDuration how long ProbeRTT holds.
	bbrMinRTTFilter     = 10 * time.Second
	bbrProbeRTTInterval = 5 * time.Second
	bbrProbeRTTDuration = 200 * time.Millisecond

	// bbrExtraAckedRounds is how many round trips the estimate of ACK
	// aggregation remembers after Startup.
	bbrExtraAckedRounds = 10
	// bbrRenoRoundsMax bounds the Reno-coexistence wait between probes.
	bbrRenoRoundsMax = 63
	// bbrProbeWaitBase and bbrProbeWaitSpread give the wall-clock wait
	// between probes, uniform in [2 s, 3 s).
	bbrProbeWaitBase   = 2 * time.Second
	bbrProbeWaitSpread = time.Second

	// bbrPacingMargin paces 1 % under the estimate, so the sender does not
	// build a queue at the rate it measured.
	bbrPacingMargin = 0.99
	// bbrMinPipeDatagrams is the smallest window, in datagrams.
	bbrMinPipeDatagrams = 4
)

// unbounded marks a bound that is not set.
var unbounded = math.Inf(1)

// BBRState is the state of BBR's state machine (draft-ietf-ccwg-bbr,
// "State Machine").
type BBRState uint8

const (
	BBRStartup BBRState = iota
	BBRDrain
	BBRProbeBWDown
	BBRProbeBWCruise
	BBRProbeBWRefill
	BBRProbeBWUp
	BBRProbeRTT
	bbrNoState // the undo state when there is nothing to undo
)

// String returns the state's name, as traces write it.
func (s BBRState) String() string {
	switch s {
	case BBRStartup:
		return "startup"
	case BBRDrain:
		return "drain"
	case BBRProbeBWDown:
		return "probe_bw_down"
	case BBRProbeBWCruise:
		return "probe_bw_cruise"
	case BBRProbeBWRefill:
		return "probe_bw_refill"
	case BBRProbeBWUp:
		return "probe_bw_up"
	case BBRProbeRTT:
		return "probe_rtt"
	}
	return "unknown"
}

// ProbingBW reports whether the state is one of ProbeBW's four.
func (s BBRState) ProbingBW() bool { return s >= BBRProbeBWDown && s <= BBRProbeBWUp }

// bbrAckPhase tells what the ACKs arriving now say about a bandwidth
// probe.
type bbrAckPhase uint8

const (
	acksInit          bbrAckPhase = iota // no probe feedback
	acksRefilling                        // sending at the estimate to fill the pipe
	acksProbeStarting                    // in flight rising to probe
	acksProbeFeedback                    // feedback from the probe
	acksProbeStopping                    // probe over, its feedback still arriving
)

// BBR is BBRv3 after draft-ietf-ccwg-bbr. It paces at its estimate of the
// bottleneck bandwidth (the largest delivery rate of this and the last
// bandwidth-probing cycle) and keeps about two bandwidth-delay products
// in flight, the delay being the smallest RTT of the last 10 s. Startup
// doubles the rate every round trip until it stops growing or losses
// pass 2 %; Drain empties the queue that built; ProbeBW cycles through
// DOWN (90 % of the estimate until the queue is gone), CRUISE, REFILL
// and UP (125 %) every 2–3 s or Reno-equivalent round trips, whichever
// is sooner; ProbeRTT halves the window for 200 ms every 5 s to measure
// the minimum RTT again.
//
// Unlike BBR's first version it answers loss. A probe whose packets lose
// more than 2 % of what was in flight sets inflight_longterm, a ceiling
// later probes raise slowly, and cruising leaves 15 % of it free for
// other flows. Outside probes, each round trip with a loss lowers the
// short-term bounds (bw_shortterm, inflight_shortterm) to what the last
// round delivered, or by at most 30 %; they are forgotten at the next
// probe. Random loss under 2 % therefore costs little, and loss from a
// full queue makes BBR leave room. ECN marks are not answered, so a
// sender running it marks its packets Not-ECT. It implements Controller
// and PacketLossObserver.
type BBR struct {
	maxDatagramSize int
	rs              rateSampler
	rng             *rand.Rand

	state      BBRState
	pacingGain float64
	cwndGain   float64
	cwnd       int
	pacingRate float64 // bytes per second, 0 before the first estimate

	// Packet-timed round trips.
	round              uint64
	nextRoundDelivered int64
	roundStart         bool

	// The data-rate model: max_bw is the largest delivery rate of this
	// and the last ProbeBW cycle, bw that bounded by bw_shortterm.
	maxBwSlots [2]float64
	cycleCount uint64
	maxBw      float64
	bwShort    float64
	bw         float64

	// The data-volume model.
	minRTT           time.Duration // 0 until the first sample
	minRTTStamp      time.Time
	probeRTTMinDelay time.Duration
	probeRTTMinStamp time.Time
	probeRTTExpired  bool
	inflightLong     float64
	inflightShort    float64
	maxInflight      float64
	extraAcked       float64
	aggregation      ackAggregation

	// Congestion signals of the current loss round.
	lossInRound        bool
	lossSaved          bool // the undo state was saved in this loss round
	lossRoundDelivered int64
	lossRoundStart     bool
	bwLatest           float64
	inflightLatest     int64
	lossEventsInRound  int
	lossEventsLast     int // of the round that just ended

	// Startup's end.
	fullBwReached   bool
	fullBwNow       bool
	fullBw          float64
	fullBwCount     int
	drainStartRound uint64

	// ProbeBW.
	ackPhase               bbrAckPhase
	bwProbeSample          bool
	bwProbeUpAcked         float64
	probeUpAckedPerInc     float64
	bwProbeUpRounds        int
	roundsSinceProbeUp     uint64
	bwProbeWait            time.Duration
	cycleStamp             time.Time
	prevProbeTooHigh       bool
	prevProbePrecautionary bool

	// ProbeRTT and idle restarts.
	probeRTTDoneStamp time.Time
	probeRTTRoundDone bool
	priorCwnd         int
	idleRestart       bool

	// Undo of a loss response that turns out spurious.
	undoState         BBRState
	undoBwShort       float64
	undoInflightShort float64
	undoInflightLong  float64
	lostSinceSave     int
	spuriousSinceSave int
	savedAt           time.Time

	// Random-loss tolerance: the classifier, and the lost packets of the
	// loss being reported, held until OnLoss classifies them.
	tolerant bool
	signal   lossSignal
	pending  []pendingLoss
	smoothed time.Duration

	// The ACK frame being processed.
	batchAcked, batchLost int
	batchLostAt           time.Time // when batchLost was declared
	lostCounted           int       // of batchLost, what OnPacketLost took out of flight
	inFlight              int       // after the ACK
	priorInFlight         int       // before it
	sample                rateSample
	rate                  float64 // the sample's delivery rate, 0 if none
	rttSample             time.Duration
	lastRTTSamples        uint64
	cwndLimited           bool // in the last round trip
	cwndLimitedInRound    bool
}

var (
	_ Controller         = (*BBR)(nil)
	_ PacketLossObserver = (*BBR)(nil)
)

// BBROptions configures NewBBR.
type BBROptions struct {
	// MaxDatagramSize is the datagram size the window starts in
	// (DefaultMaxDatagramSize if not positive).
	MaxDatagramSize int
	// TolerateRandomLoss hides from the model the losses that come with
	// no congestion signal (no standing queue, a loss rate under 10 %),
	// as Cubic's option of the same name judges them: they leave flight
	// and count towards neither the 2 % a probe may lose nor the
	// short-term bounds. Without it BBR answers every loss as the draft
	// does, and random loss above 2 % holds it far below the path's
	// capacity (a bandwidth probe can never succeed).
	TolerateRandomLoss bool
}

// NewBBR returns a BBR controller in Startup.
func NewBBR(opts BBROptions) *BBR {
	b := &BBR{rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), tolerant: opts.TolerateRandomLoss}
	b.maxDatagramSize = DefaultMaxDatagramSize
	if opts.MaxDatagramSize > 0 {
		b.maxDatagramSize = min(opts.MaxDatagramSize, MaxDatagramSizeLimit)
	}
	b.reset()
	return b
}

// seed makes the controller's random choices repeatable, for tests.
func (b *BBR) seed(s uint64) { b.rng = rand.New(rand.NewPCG(s, s)) }

func (b *BBR) reset() {
	*b = BBR{maxDatagramSize: b.maxDatagramSize, rng: b.rng, tolerant: b.tolerant, pending: b.pending[:0]}
	b.cwnd = InitialWindow(b.maxDatagramSize)
	b.inflightLong = unbounded
	b.probeUpAckedPerInc = unbounded
	b.undoState = bbrNoState
	b.resetShortTermModel()
	b.enterStartup()
}

// Reset implements Controller.
func (b *BBR) Reset(now time.Time) { b.reset() }

func (b *BBR) enterStartup() {
	b.state = BBRStartup
	b.pacingGain, b.cwndGain = bbrStartupPacingGain, bbrDefaultCwndGain
}

func (b *BBR) enterDrain() {
	b.state = BBRDrain
	b.pacingGain, b.cwndGain = bbrDrainPacingGain, bbrDefaultCwndGain
	b.drainStartRound = b.round
}

func (b *BBR) minPipe() int { return bbrMinPipeDatagrams * b.maxDatagramSize }

// bdp is the estimated bandwidth-delay product in bytes, or 0.
func (b *BBR) bdp() float64 {
	if b.minRTT <= 0 {
		return 0
	}
	return b.bw * b.minRTT.Seconds()
}

// bdpMultiple is gain BDPs, or the initial window before an RTT sample.
func (b *BBR) bdpMultiple(bw, gain float64) float64 {
	if b.minRTT <= 0 {
		return float64(InitialWindow(b.maxDatagramSize))
	}
	return gain * bw * b.minRTT.Seconds()
}

// quantizationBudget raises an in-flight target to what keeps the pipe
// busy: at least the minimum window, and two datagrams more in UP.
func (b *BBR) quantizationBudget(inflight float64) float64 {
	inflight = max(inflight, float64(b.minPipe()))
	if b.state == BBRProbeBWUp {
		inflight += 2 * float64(b.maxDatagramSize)
	}
	return inflight
}

// inflightAt is what gain BDPs at bandwidth bw put in flight.
func (b *BBR) inflightAt(bw, gain float64) float64 {
	return b.quantizationBudget(b.bdpMultiple(bw, gain))
}

// targetInflight is the BDP, unless congestion cut the window lower.
func (b *BBR) targetInflight() float64 { return min(b.bdp(), float64(b.cwnd)) }

// OnPacketSent implements Controller.
func (b *BBR) OnPacketSent(now time.Time, pn int64, bytes int) {
	if b.rs.inFlight == 0 && b.rs.appLimitedUntil != 0 {
		b.restartFromIdle(now)
	}
	b.rs.onSent(now, pn, bytes)
}

// restartFromIdle paces at the estimate itself after an idle period, to
// get back to a full pipe soon, and ends a ProbeRTT the idle period
// already served.
func (b *BBR) restartFromIdle(now time.Time) {
	b.idleRestart = true
	b.aggregation.start = now
	switch {
	case b.state.ProbingBW():
		b.setPacingRate(1)
	case b.state == BBRProbeRTT:
		b.checkProbeRTTDone(now)
	}
}

// OnPacketAcked implements Controller.
func (b *BBR) OnPacketAcked(now time.Time, pn int64, bytes int, sentTime time.Time) {
	b.rs.onAcked(now, pn, bytes)
	b.batchAcked += bytes
}

// OnAppLimited marks the delivery-rate samples of packets sent from now
// on as application-limited, until what is in flight now is delivered:
// the sender had nothing to send, so they understate the path.
func (b *BBR) OnAppLimited() { b.rs.onAppLimited() }

// OnAckProcessed implements Controller: the per-ACK steps of the draft,
// updating the model and the state machine and then the pacing rate and
// the window.
func (b *BBR) OnAckProcessed(now time.Time, priorInFlight int, rtt *RTTStats) {
	acked := b.batchAcked
	// Losses this ACK declared are in priorInFlight; those a loss timer
	// declared earlier are not, and must not be taken out twice.
	lost := 0
	if now.Equal(b.batchLostAt) {
		lost = b.batchLost
	}
	b.inFlight = max(priorInFlight-acked-lost, 0)
	b.priorInFlight = priorInFlight
	b.batchAcked, b.batchLost = 0, 0
	b.rs.inFlight = b.inFlight
	b.roundStart = false
	if priorInFlight+b.maxDatagramSize > b.cwnd {
		b.cwndLimitedInRound = true
	}
	b.rttSample = 0
	if rtt != nil && rtt.HasSample() && rtt.Samples() != b.lastRTTSamples {
		b.lastRTTSamples = rtt.Samples()
		b.rttSample = rtt.Latest()
		if b.tolerant {
			b.signal.onRTTSample(now, rtt)
		}
	}
	if rtt != nil {
		b.smoothed = rtt.Smoothed()
	}
	if b.tolerant {
		b.signal.onAcked(now, acked, b.smoothed)
	}
	s, ok := b.rs.take(b.minRTT)
	b.sample, b.rate = s, 0
	if ok {
		b.rate = s.rate()
	}
	if s.valid {
		b.updateLatestDeliverySignals()
		b.updateCongestionSignals()
		b.updateAckAggregation(now, acked)
		b.checkFullBwReached()
		b.checkStartupDone()
		b.checkDrainDone(now)
		b.updateProbeBWCyclePhase(now, acked)
	}
	b.updateMinRTT(now)
	b.checkProbeRTT(now)
	if s.valid {
		b.advanceLatestDeliverySignals()
	}
	b.bw = min(b.maxBw, b.bwShort)

	b.setPacingRate(b.pacingGain)
	if b.pacingRate == 0 {
		srtt := DefaultInitialRTT
		if rtt != nil && rtt.HasSample() && rtt.Smoothed() > 0 {
			srtt = rtt.Smoothed()
		}
		b.pacingRate = bbrStartupPacingGain * float64(InitialWindow(b.maxDatagramSize)) / srtt.Seconds()
	}
	b.setCwnd(acked)
}

// isCwndLimited reports whether the window limited the sender in this or
// the last round trip.
func (b *BBR) isCwndLimited() bool { return b.cwndLimited || b.cwndLimitedInRound }

func (b *BBR) startRound() { b.nextRoundDelivered = b.rs.delivered }

// updateRound counts a round trip when the ACKed packet was sent after
// the one that started the last.
func (b *BBR) updateRound() {
	b.roundStart = false
	if b.sample.priorDelivered < b.nextRoundDelivered {
		return
	}
	b.startRound()
	b.round++
	b.roundsSinceProbeUp++
	b.roundStart = true
	b.cwndLimited, b.cwndLimitedInRound = b.cwndLimitedInRound, false
}

// updateMaxBw feeds the sample to the max_bw filter; an
// application-limited one only if it raises the estimate.
func (b *BBR) updateMaxBw() {
	b.updateRound()
	if b.rate > 0 && (b.rate >= b.maxBw || !b.sample.appLimited) {
		i := b.cycleCount % 2
		b.maxBwSlots[i] = max(b.maxBwSlots[i], b.rate)
		b.maxBw = max(b.maxBwSlots[0], b.maxBwSlots[1])
	}
}

// advanceMaxBwFilter starts the filter's next cycle, forgetting the
// samples of the one before the last; not while this cycle has none, which
// would leave no estimate at all.
func (b *BBR) advanceMaxBwFilter() {
	if b.maxBwSlots[b.cycleCount%2] == 0 {
		return
	}
	b.cycleCount++
	b.maxBwSlots[b.cycleCount%2] = 0
	b.maxBw = max(b.maxBwSlots[0], b.maxBwSlots[1])
}

func (b *BBR) resetFullBw() {
	b.fullBw, b.fullBwCount, b.fullBwNow = 0, 0, false
}

// checkFullBwReached looks, once a round trip, for a plateau in the
// delivery rate while accelerating (Startup, ProbeBW UP).
func (b *BBR) checkFullBwReached() {
	if b.fullBwNow || !b.roundStart || b.sample.appLimited || b.rate == 0 {
		return
	}
	if b.rate >= b.fullBw*bbrFullBwThresh {
		b.resetFullBw()
		b.fullBw = b.rate
		return
	}
	b.fullBwCount++
	b.fullBwNow = b.fullBwCount >= bbrFullBwCount
	if b.fullBwNow {
		b.fullBwReached = true
	}
}

func (b *BBR) checkStartupDone() {
	b.checkStartupHighLoss()
	if b.state == BBRStartup && b.fullBwReached {
		b.enterDrain()
	}
}

// checkStartupHighLoss ends Startup when the round trip that just ended
// lost more than bbrLossThresh of what was in flight, in at least
// bbrStartupFullLossCount separate losses: the queue overflowed.
func (b *BBR) checkStartupHighLoss() {
	if b.state != BBRStartup || b.fullBwReached || !b.lossRoundStart {
		return
	}
	if b.lossEventsLast < bbrStartupFullLossCount || !inflightTooHigh(b.sample.lost, b.sample.txInFlight) {
		return
	}
	b.undoState = BBRStartup
	b.fullBwReached = true
	b.inflightLong = math.Floor(max(b.bdp(), float64(b.inflightLatest)))
}

// checkDrainDone ends Drain once the queue is gone, or after 3 round
// trips if the estimate was too high for it ever to go.
func (b *BBR) checkDrainDone(now time.Time) {
	if b.state == BBRDrain && (float64(b.inFlight) <= b.inflightAt(b.bw, 1) || b.round > b.drainStartRound+3) {
		b.enterProbeBW(now)
	}
}

// setPacingRate paces at gain times the estimate, less the margin; in
// Startup the rate never falls.
func (b *BBR) setPacingRate(gain float64) {
	rate := gain * b.bw * bbrPacingMargin
	if b.fullBwReached || rate > b.pacingRate {
		b.pacingRate = rate
	}
}

// setCwnd grows the window by the bytes acked towards cwnd_gain BDPs
// (without limit until the pipe is full) and applies the model's bounds.
func (b *BBR) setCwnd(acked int) {
	b.maxInflight = b.quantizationBudget(b.bdpMultiple(b.bw, b.cwndGain) + b.extraAcked)
	cwnd := float64(b.cwnd)
	switch {
	case b.fullBwReached:
		cwnd = min(cwnd+float64(acked), b.maxInflight)
	case cwnd < b.maxInflight || b.rs.delivered < int64(InitialWindow(b.maxDatagramSize)):
		cwnd += float64(acked)
	}
	cwnd = max(cwnd, float64(b.minPipe()))
	if b.state == BBRProbeRTT {
		cwnd = min(cwnd, b.probeRTTCwnd())
	}
	cwnd = min(cwnd, b.cwndCap())
	b.cwnd = int(min(cwnd, DefaultMaxWindow))
}

// cwndCap is the bound the model puts on the window: inflight_longterm
// while probing, less the headroom while cruising or in ProbeRTT, and
// inflight_shortterm always.
func (b *BBR) cwndCap() float64 {
	c := unbounded
	switch {
	case b.state.ProbingBW() && b.state != BBRProbeBWCruise:
		c = b.inflightLong
	case b.state == BBRProbeRTT || b.state == BBRProbeBWCruise:
		c = b.inflightWithHeadroom()
	}
	c = min(c, b.inflightShort)
	return max(c, float64(b.minPipe()))
}

// inflightWithHeadroom is inflight_longterm less 15 %, left free for
// other flows.
func (b *BBR) inflightWithHeadroom() float64 {
	if math.IsInf(b.inflightLong, 1) {
		return unbounded
	}
	headroom := max(float64(b.maxDatagramSize), bbrHeadroom*b.inflightLong)
	return max(b.inflightLong-headroom, float64(b.minPipe()))
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

// State is the state machine's state.
func (b *BBR) State() BBRState { return b.state }

// Bandwidth is the bandwidth estimate in bytes per second (max_bw bounded
// by bw_shortterm), and MinRTT the minimum RTT the model uses.
func (b *BBR) Bandwidth() float64    { return b.bw }
func (b *BBR) MinRTT() time.Duration { return b.minRTT }

// InflightLongterm is the ceiling on bytes in flight that the last
// probes' losses set, and false if none has.
func (b *BBR) InflightLongterm() (int, bool) {
	if math.IsInf(b.inflightLong, 1) {
		return 0, false
	}
	return int(b.inflightLong), true
}

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
