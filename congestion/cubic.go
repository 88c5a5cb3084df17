package congestion

import (
	"math"
	"time"
)

// CUBIC constants (RFC 9438 §4.1, §5).
const (
	// cubicC is C, the curve's aggressiveness in segments per second cubed.
	cubicC = 0.4
	// cubicBeta is β_cubic, the multiplicative decrease factor, used in
	// floating point for W_max; cubicBetaNum/cubicBetaDen is the same
	// factor for exact integer window arithmetic.
	cubicBeta    = 0.7
	cubicBetaNum = 7
	cubicBetaDen = 10

	// ecnBetaNum/ecnBetaDen is the reduction for Congestion Experienced
	// marks, in the spirit of ABE (RFC 8511): a mark comes from an AQM
	// that keeps its queue short, where cutting to 0.7 leaves the link
	// idle for a while; a smaller cut keeps it busy. Loss keeps 0.7.
	ecnBetaNum = 85
	ecnBetaDen = 100
	// cubicRenoAlpha is α_cubic = 3(1−β)/(1+β): the additive increase per
	// RTT, in segments, that makes the Reno-friendly estimate W_est match
	// Reno's average window under β_cubic (RFC 9438 §4.3).
	cubicRenoAlpha = 3 * (1 - cubicBeta) / (1 + cubicBeta)
	// cubicMaxTargetGrowth caps the target at 1.5·cwnd, so that one RTT of
	// congestion avoidance adds at most half a window, however far along
	// the curve t is (RFC 9438 §4.2).
	cubicMaxTargetGrowth = 1.5
	// cwndLimitedSlackDatagrams is how far below the window the bytes in
	// flight may be, in congestion avoidance, for the sender to still count
	// as using its window. A paced sender rarely has exactly cwnd in
	// flight when an ACK arrives; a few datagrams of slack keeps it from
	// looking application-limited (RFC 9002 §7.8).
	cwndLimitedSlackDatagrams = 3
)

const (
	// DefaultMaxDatagramSize is the datagram size a Cubic or Pacer starts
	// with when none is given: the UDP payload of a 1280-byte IPv4 packet.
	// It only scales the initial and minimum windows and the pacer's
	// burst; the transport sets its real size with SetMaxDatagramSize.
	DefaultMaxDatagramSize = 1252

	// DefaultMaxWindow bounds the congestion window when CubicOptions does
	// not. 256 MiB covers 10 Gbit/s at 200 ms RTT; the bound only keeps
	// floating-point curve arithmetic and the pacer's burst sane if ACKs
	// keep arriving for a window the sender never fills.
	DefaultMaxWindow = 256 << 20

	// MaxDatagramSizeLimit is the largest datagram size accepted anywhere
	// in this package, the largest UDP payload over IPv6 without jumbograms;
	// larger values are clamped to it.
	MaxDatagramSizeLimit = 65527

	// maxWindowLimit is the largest MaxWindow accepted: 1 TiB, or on
	// 32-bit platforms the largest int (a window is an int of bytes).
	maxWindowLimit = min(1<<40, math.MaxInt)
)

// CubicOptions configures a Cubic. The zero value gives the defaults.
type CubicOptions struct {
	// MaxDatagramSize is the maximum datagram size (SMSS in the RFCs'
	// terms) the window is measured in. Zero means DefaultMaxDatagramSize;
	// values above MaxDatagramSizeLimit are clamped to it.
	MaxDatagramSize int

	// MaxWindow caps the congestion window in bytes. Zero means
	// DefaultMaxWindow.
	MaxWindow int

	// Unpaced must be set if the sender does not use a Pacer. HyStart++
	// then limits each ACK's slow start growth to 8 datagrams (L = 8);
	// with pacing L is infinite, because the pacer spreads the extra
	// packets over the RTT (RFC 9406 §4.3).
	Unpaced bool

	// DisableHyStart turns HyStart++ off, leaving classic slow start that
	// ends only on loss.
	DisableHyStart bool

	// TolerateRandomLoss reduces the window only for losses that carry a
	// congestion signal: a standing queue in the RTT samples, or a loss
	// rate of 10 % or more (lossSignal). Other losses are taken as random
	// (a radio link's) and leave the window as it is. A loss with a
	// shallow queue cuts the window to minRTT/RTT of itself, between 0.7
	// and 0.85, which drains that queue; a deep queue gets CUBIC's 0.7.
	// Without it every loss is congestion, as RFC 9002 and RFC 9438 have it.
	TolerateRandomLoss bool
}

// Cubic is the CUBIC congestion controller of RFC 9438, in bytes, with the
// QUIC recovery rules of RFC 9002 §7 and HyStart++ (RFC 9406) in the
// initial slow start. It implements Controller.
//
// In congestion avoidance the window follows
//
//	W_cubic(t) = C·(t−K)³ + W_max,  K = ∛((W_max − cwnd_epoch)/C)
//
// in segments and seconds, where t runs from the start of the congestion
// avoidance epoch, W_max is the window before the last reduction (lowered
// by fast convergence, §4.7) and cwnd_epoch is the window when the epoch
// began. Each ACK moves cwnd towards W_cubic(t+RTT), clamped to
// [cwnd, 1.5·cwnd], by (target−cwnd)/cwnd per acknowledged segment; but
// when W_cubic(t) is below W_est, the window a Reno flow would have
// reached, cwnd follows W_est instead (§4.3). Here segments are
// MaxDatagramSize bytes and RTT is the smoothed RTT.
//
// The epoch begins with the first ACK that may grow the window after a
// reduction, that is when the recovery period ends, because no growth is
// allowed before. Time during which the sender is application-limited is
// cut out of t, so the curve does not run ahead while the window is
// unused (§5.8).
//
// A reduction whose lost packets all turn out to have been delivered is
// undone (OnSpuriousLoss, §4.9). Congestion Experienced marks reduce the
// window too, by less (OnCongestionExperienced).
type Cubic struct {
	maxDatagramSize int
	maxWindow       int
	burstLimit      int // HyStart++ L in datagrams; 0 means infinity
	hystartEnabled  bool
	tolerant        bool // CubicOptions.TolerateRandomLoss

	cwnd     int
	ssthresh int // math.MaxInt until the first reduction or slow start exit
	// cwndFraction carries sub-byte growth between ACKs in congestion
	// avoidance, where each ACK adds a fraction of a datagram.
	cwndFraction float64

	// Recovery (RFC 9002 §7.3.2).
	recoveryStart time.Time
	haveRecovery  bool // recoveryStart is meaningful
	inRecovery    bool

	// The ACK frame being processed: filled by OnPacketAcked, consumed by
	// OnAckProcessed.
	batchGrowthBytes  int
	batchAckedBytes   int
	batchLargestAcked int64
	lastRTTSamples    uint64
	smoothedRTT       time.Duration // as of the last ACK frame

	// signal classifies losses when tolerant; randomLosses counts the
	// bytes it judged random.
	signal       lossSignal
	randomLosses uint64

	lastAckTime time.Time
	haveLastAck bool

	// CUBIC state (RFC 9438 §4.1), windows in bytes.
	wMax         float64
	cwndPrior    int
	k            float64 // seconds
	epochStart   time.Time
	epochStarted bool
	cwndEpoch    float64
	wEst         float64
	// curveFromEpoch makes the next epoch start its curve at the current
	// window (K = 0, W_max = cwnd_epoch): after persistent congestion
	// (§4.8) and after HyStart++ leaves slow start without a loss (§4.10),
	// the old W_max says nothing about the path.
	curveFromEpoch bool

	hs hystart

	// undo is the state saved at the last reduction (cubic_undo.go).
	undo cubicUndo
}

var _ Controller = (*Cubic)(nil)

// NewCubic returns a CUBIC controller in slow start with the initial window
// of RFC 9002 §7.2.
func NewCubic(opts CubicOptions) *Cubic {
	c := &Cubic{
		maxDatagramSize: opts.MaxDatagramSize,
		maxWindow:       opts.MaxWindow,
		hystartEnabled:  !opts.DisableHyStart,
		tolerant:        opts.TolerateRandomLoss,
	}
	if c.maxDatagramSize <= 0 {
		c.maxDatagramSize = DefaultMaxDatagramSize
	}
	c.maxDatagramSize = min(c.maxDatagramSize, MaxDatagramSizeLimit)
	if c.maxWindow <= 0 {
		c.maxWindow = DefaultMaxWindow
	}
	// Keep window arithmetic far from overflow and the minimum reachable.
	c.maxWindow = max(min(c.maxWindow, maxWindowLimit), MinimumWindow(c.maxDatagramSize))
	if opts.Unpaced {
		c.burstLimit = hystartUnpacedBurstLimit
	}
	c.reset()
	return c
}

// reset restores the initial state, keeping the configuration.
func (c *Cubic) reset() {
	*c = Cubic{
		maxDatagramSize:   c.maxDatagramSize,
		maxWindow:         c.maxWindow,
		burstLimit:        c.burstLimit,
		hystartEnabled:    c.hystartEnabled,
		tolerant:          c.tolerant,
		cwnd:              min(InitialWindow(c.maxDatagramSize), c.maxWindow),
		ssthresh:          math.MaxInt,
		batchLargestAcked: -1,
	}
	c.hs.reset()
}

// Reset returns the controller to its initial window and slow start, for a
// new path (RFC 9000 §9.4). The datagram size is kept; the transport sets
// the new path's with SetMaxDatagramSize.
func (c *Cubic) Reset(now time.Time) { c.reset() }

// OnPacketSent implements Controller. HyStart++ uses the packet number to
// find the end of each round.
func (c *Cubic) OnPacketSent(now time.Time, pn int64, bytes int) {
	c.hs.onPacketSent(pn)
}

// OnPacketAcked implements Controller.
func (c *Cubic) OnPacketAcked(now time.Time, pn int64, bytes int, sentTime time.Time) {
	c.batchLargestAcked = max(c.batchLargestAcked, pn)
	c.batchAckedBytes += max(bytes, 0)
	if c.haveRecovery && !sentTime.After(c.recoveryStart) {
		return
	}
	c.inRecovery = false
	if bytes > 0 {
		c.batchGrowthBytes = min(c.batchGrowthBytes+bytes, c.maxWindow)
	}
}

// OnAckProcessed implements Controller.
func (c *Cubic) OnAckProcessed(now time.Time, priorInFlight int, rtt *RTTStats) {
	growth := c.batchGrowthBytes
	largestAcked := c.batchLargestAcked
	ackedBytes := c.batchAckedBytes
	c.batchGrowthBytes = 0
	c.batchAckedBytes = 0
	c.batchLargestAcked = -1

	smoothed := DefaultInitialRTT
	var sample time.Duration
	haveSample := false
	if rtt != nil {
		smoothed = rtt.Smoothed()
		haveSample = rtt.HasSample() && rtt.Samples() != c.lastRTTSamples
		c.lastRTTSamples = rtt.Samples()
		sample = rtt.Latest()
	}
	c.smoothedRTT = smoothed
	if c.tolerant {
		if haveSample {
			c.signal.onRTTSample(now, rtt)
		}
		c.signal.onAcked(now, ackedBytes, smoothed)
	}
	cwndLimited := c.cwndLimited(priorInFlight)

	if c.InSlowStart() {
		if growth > 0 && cwndLimited {
			c.slowStart(growth)
		}
		if c.hystartActive() && c.hs.onAck(largestAcked, sample, haveSample) == PhaseCongestionAvoidance {
			c.exitSlowStart()
		}
	} else if !cwndLimited {
		// Freeze the curve while the window is unused (RFC 9438 §5.8):
		// shifting the epoch start by the time since the last ACK keeps t
		// from counting it.
		if c.epochStarted && c.haveLastAck && now.After(c.lastAckTime) {
			c.epochStart = c.epochStart.Add(now.Sub(c.lastAckTime))
		}
	} else if growth > 0 {
		c.congestionAvoidance(now, growth, smoothed)
	}
	c.lastAckTime = now
	c.haveLastAck = true
}

// cwndLimited reports whether the sender was using its window when the ACK
// arrived. In slow start, where the window doubles each round, having sent
// at least half of it is enough (the rest is this round's growth); in
// congestion avoidance the flight must be within a few datagrams of it.
func (c *Cubic) cwndLimited(priorInFlight int) bool {
	if c.cwnd < c.ssthresh {
		return 2*priorInFlight >= c.cwnd
	}
	return priorInFlight+cwndLimitedSlackDatagrams*c.maxDatagramSize >= c.cwnd
}

// hystartActive reports whether HyStart++ governs slow start: only the
// initial slow start uses it, because later ones stop at the ssthresh a
// loss already measured (RFC 9406 §4.3).
func (c *Cubic) hystartActive() bool {
	return c.hystartEnabled && c.ssthresh == math.MaxInt && !c.hs.done()
}

// slowStart grows the window by the bytes acknowledged (RFC 9002 §7.3.1),
// limited to L datagrams per ACK and divided by CSS_GROWTH_DIVISOR in
// conservative slow start (RFC 9406 §4.2). Growth may overshoot ssthresh
// by at most one ACK's worth, as in RFC 9002's pseudocode.
func (c *Cubic) slowStart(growth int) {
	if c.burstLimit > 0 {
		growth = min(growth, c.burstLimit*c.maxDatagramSize)
	}
	if c.hystartActive() && c.hs.phase == PhaseConservativeSlowStart {
		growth /= hystartCSSGrowthDivisor
	}
	c.cwnd = min(c.cwnd+growth, c.maxWindow)
}

// exitSlowStart moves to congestion avoidance after conservative slow
// start, without a loss: ssthresh and cwnd_prior become the current window
// and the first epoch starts its curve there (RFC 9406 §4.2,
// RFC 9438 §4.10).
func (c *Cubic) exitSlowStart() {
	c.ssthresh = c.cwnd
	c.cwndPrior = c.cwnd
	c.curveFromEpoch = true
	c.epochStarted = false
}

// startEpoch begins a congestion avoidance epoch at now with the current
// window as cwnd_epoch (RFC 9438 §4.2). K may come out negative when
// cwnd_epoch is above W_max; the curve then starts in its convex part,
// still passing through cwnd_epoch at t = 0.
func (c *Cubic) startEpoch(now time.Time) {
	c.epochStart = now
	c.epochStarted = true
	c.cwndEpoch = float64(c.cwnd)
	if c.curveFromEpoch {
		c.wMax = c.cwndEpoch
		c.curveFromEpoch = false
	}
	c.k = math.Cbrt((c.wMax - c.cwndEpoch) / (cubicC * float64(c.maxDatagramSize)))
	c.wEst = c.cwndEpoch
	c.cwndFraction = 0
}

// wCubic evaluates W_cubic(t) in bytes for t seconds into the epoch.
func (c *Cubic) wCubic(t float64) float64 {
	d := t - c.k
	return cubicC*float64(c.maxDatagramSize)*d*d*d + c.wMax
}

// congestionAvoidance applies one ACK frame's growth of acked bytes
// (RFC 9438 §4.2-§4.5).
func (c *Cubic) congestionAvoidance(now time.Time, acked int, smoothed time.Duration) {
	if !c.epochStarted {
		c.startEpoch(now)
	}
	t := now.Sub(c.epochStart).Seconds()
	mss := float64(c.maxDatagramSize)
	cwnd := float64(c.cwnd) + c.cwndFraction

	// W_est gains α_cubic segments per window of acknowledged data; α
	// becomes 1, Reno's own rate, once W_est is back at the window before
	// the last reduction (§4.3).
	alpha := cubicRenoAlpha
	if c.wEst >= float64(c.cwndPrior) {
		alpha = 1
	}
	c.wEst += alpha * float64(acked) * mss / cwnd

	if c.wCubic(t) < c.wEst {
		// Reno-friendly region: CUBIC would be slower than Reno here.
		cwnd = max(cwnd, c.wEst)
	} else {
		// Concave (cwnd < W_max) and convex regions share one rule.
		target := min(max(c.wCubic(t+smoothed.Seconds()), cwnd), cubicMaxTargetGrowth*cwnd)
		cwnd += (target - cwnd) * float64(acked) / cwnd
	}
	if cwnd >= float64(c.maxWindow) {
		c.cwnd = c.maxWindow
		c.cwndFraction = 0
		return
	}
	whole := math.Floor(cwnd)
	c.cwnd = int(whole)
	c.cwndFraction = cwnd - whole
}

// OnLoss implements Controller. The reduction is CUBIC's (RFC 9438 §4.6,
// §4.7): W_max becomes the window before the loss, lowered to
// cwnd·(1+β)/2 by fast convergence if the window did not get back to the
// previous W_max; ssthresh and cwnd become β·cwnd, at least the minimum
// window. With TolerateRandomLoss, a loss without a congestion signal
// changes nothing and is reported as not taken, and β follows the queue.
func (c *Cubic) OnLoss(now time.Time, lostBytes int, largestLostSentTime time.Time) bool {
	if lostBytes <= 0 {
		return false
	}
	if c.haveRecovery && !largestLostSentTime.After(c.recoveryStart) {
		// Part of the congestion event that already reduced the window:
		// its undo now needs these bytes to be spurious too. The loss
		// rate leaves them out, as answered (lossSignal.onReduced).
		c.undo.lostBytes += lostBytes
		return true
	}
	betaNum, betaDen := cubicBetaNum, cubicBetaDen
	if c.tolerant {
		if c.signal.onLost(now, lostBytes, c.maxDatagramSize, c.smoothedRTT, c.InSlowStart()) == lossRandom {
			c.randomLosses += uint64(lostBytes)
			return false
		}
		betaNum, betaDen = int(c.signal.beta()*1000), 1000
	}
	c.saveUndo(now, lostBytes)
	c.reduce(now, betaNum, betaDen)
	if c.tolerant {
		c.signal.onReduced(now, c.smoothedRTT)
	}
	return true
}

// RandomLossBytes reports the bytes lost that TolerateRandomLoss judged
// random and did not reduce the window for.
func (c *Cubic) RandomLossBytes() uint64 { return c.randomLosses }

// OnCongestionExperienced implements Controller: the same reduction as a
// loss, once per recovery period, but one no later acknowledgement can
// undo (RFC 9002 §7.1, RFC 3168 §6.1.2).
func (c *Cubic) OnCongestionExperienced(now, largestAckedSentTime time.Time) bool {
	if c.haveRecovery && !largestAckedSentTime.After(c.recoveryStart) {
		// The marks confirm the congestion the current reduction answered:
		// its losses were not spurious.
		c.undo.valid = false
		return false
	}
	c.undo.valid = false
	c.undo.reductions++
	c.reduce(now, ecnBetaNum, ecnBetaDen)
	if c.tolerant {
		c.signal.onReduced(now, c.smoothedRTT)
	}
	return true
}

// reduce starts a recovery period at now and cuts the window to
// betaNum/betaDen of itself.
func (c *Cubic) reduce(now time.Time, betaNum, betaDen int) {
	c.recoveryStart = now
	c.haveRecovery = true
	c.inRecovery = true
	// Packets acknowledged earlier in this ACK frame were sent before now,
	// so they belong to the recovery period and must not grow the window.
	c.batchGrowthBytes = 0
	c.hs.stop()

	w := float64(c.cwnd)
	if w < c.wMax {
		// Fast convergence releases as much again as the cut did: a
		// gentler cut (CE marks, a shallow queue) lowers W_max less.
		beta := float64(betaNum) / float64(betaDen)
		c.wMax = w * (1 + beta) / 2
	} else {
		c.wMax = w
	}
	c.cwndPrior = c.cwnd
	c.ssthresh = max(c.cwnd*betaNum/betaDen, MinimumWindow(c.maxDatagramSize))
	c.cwnd = c.ssthresh
	c.cwndFraction = 0
	c.epochStarted = false
	c.curveFromEpoch = false
}

// reduced is β_cubic·w in whole bytes, but at least the minimum window.
func (c *Cubic) reduced(w int) int {
	return max(w*cubicBetaNum/cubicBetaDen, MinimumWindow(c.maxDatagramSize))
}

// OnPersistentCongestion implements Controller. The window collapses to the
// minimum and slow start climbs back to the ssthresh the preceding OnLoss
// set; the first epoch after it starts a fresh curve at the window it
// reaches (RFC 9438 §4.8).
func (c *Cubic) OnPersistentCongestion(now time.Time) {
	if c.ssthresh == math.MaxInt {
		// No OnLoss came first: take the reduction now so slow start has a
		// target.
		c.wMax = float64(c.cwnd)
		c.cwndPrior = c.cwnd
		c.ssthresh = c.reduced(c.cwnd)
	}
	c.hs.stop()
	c.undo.valid = false // a collapse is not undone: see OnSpuriousLoss
	c.cwnd = MinimumWindow(c.maxDatagramSize)
	c.cwndFraction = 0
	c.haveRecovery = false
	c.inRecovery = false
	c.batchGrowthBytes = 0
	c.epochStarted = false
	c.curveFromEpoch = true
}

// Window implements Controller.
func (c *Cubic) Window() int { return c.cwnd }

// CanSend implements Controller.
func (c *Cubic) CanSend(bytesInFlight int) bool {
	return bytesInFlight+c.maxDatagramSize <= c.cwnd
}

// InSlowStart implements Controller.
func (c *Cubic) InSlowStart() bool { return c.cwnd < c.ssthresh }

// InRecovery reports whether a loss has been declared and no packet sent
// after it has been acknowledged yet.
func (c *Cubic) InRecovery() bool { return c.inRecovery }

// SlowStartThreshold is ssthresh in bytes, or math.MaxInt before the first
// loss or slow start exit.
func (c *Cubic) SlowStartThreshold() int { return c.ssthresh }

// MaxDatagramSize is the datagram size the window is measured in.
func (c *Cubic) MaxDatagramSize() int { return c.maxDatagramSize }

// Phase reports the controller's current phase.
func (c *Cubic) Phase() Phase {
	switch {
	case c.inRecovery:
		return PhaseRecovery
	case c.cwnd >= c.ssthresh:
		return PhaseCongestionAvoidance
	case c.hystartActive() && c.hs.phase == PhaseConservativeSlowStart:
		return PhaseConservativeSlowStart
	default:
		return PhaseSlowStart
	}
}

// SetMaxDatagramSize implements Controller. While the window is still the
// initial one (nothing acknowledged or lost has changed it), it becomes the
// initial window for the new size, as RFC 9002 §7.2 recommends; otherwise
// the window is kept, raised to the new minimum if needed. The current
// epoch ends, since its curve was scaled by the old segment size.
func (c *Cubic) SetMaxDatagramSize(n int) {
	if n <= 0 {
		return
	}
	n = min(n, MaxDatagramSizeLimit)
	if n == c.maxDatagramSize {
		return
	}
	untouched := c.ssthresh == math.MaxInt && c.cwnd == min(InitialWindow(c.maxDatagramSize), c.maxWindow)
	c.maxDatagramSize = n
	minimum := MinimumWindow(n)
	if untouched {
		c.cwnd = min(InitialWindow(n), c.maxWindow)
	}
	c.cwnd = max(c.cwnd, minimum)
	if c.ssthresh != math.MaxInt {
		c.ssthresh = max(c.ssthresh, minimum)
	}
	c.cwndFraction = 0
	c.epochStarted = false
	c.undo.valid = false // the saved windows are in the old size's units
}
