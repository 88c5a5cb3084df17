package congestion

import (
	"math"
	"math/bits"
	"time"
)

const (
	// PacerBurstDatagrams is the bucket size in datagrams at low rates: a
	// sender may release this many back to back, enough for one GSO batch,
	// after which it sends at the pacing rate.
	PacerBurstDatagrams = 10

	// PacerBurstInterval raises the bucket, at high rates, to what the
	// pacing rate releases in this long. A sender's timer cannot wake it
	// every few hundred nanoseconds, which is the gap between datagrams at
	// several GB/s, and on a busy machine it wakes a millisecond or two
	// late; a bucket smaller than that lateness throws tokens away, and
	// the bucket, not the path, caps the rate. With 1 ms, limpet through a
	// 100 Mbit/s CoDel bottleneck at RTT 50 ms was held by pacing over
	// half the time and moved 73 Mbit/s; with 4 ms, 81–84.
	PacerBurstInterval = 4 * time.Millisecond

	// PacerBurstIntervalBBR is the burst interval for a controller whose
	// pacing rate is its bandwidth estimate (BBR): tokens a late timer
	// throws away lower the delivery rate it measures, which lowers the
	// rate, and so on down. The Go scheduler's time slice is 10 ms, and on
	// the 2-core lab machine a 10 ms bucket still lost a tenth of the rate
	// at 100 Mbit/s; with 20 ms, none.
	PacerBurstIntervalBBR = 20 * time.Millisecond

	// Pacing gains in quarters (RFC 9002 §7.7 suggests N = 1.25): twice
	// the window per RTT in slow start, so pacing never holds back the
	// window's doubling, and 1.25 in congestion avoidance, so ACK-clock
	// jitter does not leave the window unused.
	pacingGainSlowStart           = 8
	pacingGainCongestionAvoidance = 5
	pacingGainDenominator         = 4

	// maxPacingRTT bounds the RTT the rate is computed from; no real
	// estimate comes near it, and the bound keeps the arithmetic in range.
	maxPacingRTT = time.Hour
)

// Pacer spreads a congestion window's worth of datagrams over the smoothed
// RTT (RFC 9002 §7.7), so that a window opening does not leave as a
// line-rate burst that overflows a bottleneck queue.
//
// It is a token bucket counted in bytes. Tokens accrue at
// gain·cwnd/smoothed_rtt, with the gain given in SetRate, up to a bucket of
// PacerBurstDatagrams datagrams or PacerBurstInterval's worth of the rate,
// whichever is larger; the bucket starts full. A datagram may leave when
// the bucket holds a full maximum-size datagram. The rate is kept as an
// exact fraction (bytes per nanosecond) and fractions of a byte are carried
// over in 128-bit arithmetic, so rates from a few bytes per second to
// terabytes per second are honoured without rounding drift or overflow.
//
// The zero value paces nothing until SetRate is called. A Pacer is owned
// by the connection's goroutine, is not safe for concurrent use, and does
// not allocate.
type Pacer struct {
	maxDatagramSize int
	burstInterval   time.Duration // 0 means PacerBurstInterval

	// The rate is rateNum bytes per rateDen nanoseconds; rateNum == 0
	// means unpaced.
	rateNum uint64
	rateDen uint64

	capacity int64 // bucket size in bytes
	tokens   int64 // bytes that may leave now; negative after a forced send
	// fraction is the part of a byte accrued but not yet credited, in
	// units of 1/rateDen byte; always below rateDen.
	fraction uint64
	last     time.Time
	started  bool
}

// NewPacer returns an unpaced Pacer for datagrams of up to maxDatagramSize
// bytes (DefaultMaxDatagramSize if not positive). Call SetRate once the
// window and RTT are known; the zero RTTStats already gives an initial RTT.
func NewPacer(maxDatagramSize int) *Pacer {
	p := &Pacer{}
	p.SetMaxDatagramSize(maxDatagramSize)
	return p
}

func (p *Pacer) datagramSize() int {
	if p.maxDatagramSize <= 0 {
		return DefaultMaxDatagramSize
	}
	return p.maxDatagramSize
}

// SetMaxDatagramSize sets the datagram size the pacer waits for and sizes
// the bucket in. Non-positive sizes select DefaultMaxDatagramSize; sizes
// above MaxDatagramSizeLimit are clamped to it.
func (p *Pacer) SetMaxDatagramSize(n int) {
	if n <= 0 {
		n = DefaultMaxDatagramSize
	}
	p.maxDatagramSize = min(n, MaxDatagramSizeLimit)
	p.capacity = p.bucketSize()
	p.tokens = min(p.tokens, p.capacity)
}

// SetRate sets the pacing rate from the congestion window and smoothed RTT:
// 2·cwnd/srtt in slow start, 1.25·cwnd/srtt otherwise. Tokens accrued at
// the old rate up to now are credited first. A non-positive window or RTT
// turns pacing off, leaving the congestion window alone to limit sending.
// Calling it with unchanged arguments is cheap, so the transport may call
// it before every send decision.
func (p *Pacer) SetRate(now time.Time, cwnd int, smoothedRTT time.Duration, slowStart bool) {
	p.refill(now)
	var num, den uint64
	if cwnd > 0 && smoothedRTT > 0 {
		gain := uint64(pacingGainCongestionAvoidance)
		if slowStart {
			gain = pacingGainSlowStart
		}
		num = uint64(min(cwnd, maxWindowLimit)) * gain
		den = uint64(min(smoothedRTT, maxPacingRTT)) * pacingGainDenominator
	}
	if num == p.rateNum && den == p.rateDen {
		return
	}
	p.setRate(num, den)
}

// setRate changes the rate to num bytes per den nanoseconds.
func (p *Pacer) setRate(num, den uint64) {
	if num != 0 && p.rateNum != 0 && p.fraction != 0 {
		// Re-express the pending fraction of a byte in the new units;
		// fraction < old den keeps the quotient below the new den.
		hi, lo := bits.Mul64(p.fraction, den)
		p.fraction, _ = bits.Div64(hi, lo, p.rateDen)
	} else {
		p.fraction = 0
	}
	wasUnpaced := p.rateNum == 0
	p.rateNum, p.rateDen = num, den
	p.capacity = p.bucketSize()
	if wasUnpaced {
		// An unpaced sender owes nothing: pacing starts with a full bucket.
		p.tokens = p.capacity
		p.fraction = 0
	}
	p.tokens = min(p.tokens, p.capacity)
}

// SetBurstInterval sets how much of the rate may leave back to back after
// a pause, in time; zero restores PacerBurstInterval.
func (p *Pacer) SetBurstInterval(d time.Duration) {
	p.burstInterval = max(d, 0)
	p.capacity = p.bucketSize()
	p.tokens = min(p.tokens, p.capacity)
}

// SetBytesPerSecond sets the pacing rate directly, for a controller that
// computes its own (BBR); zero turns pacing off.
func (p *Pacer) SetBytesPerSecond(now time.Time, rate uint64) {
	p.refill(now)
	var num, den uint64
	if rate > 0 {
		num, den = rate, uint64(time.Second)
	}
	if num == p.rateNum && den == p.rateDen {
		return
	}
	p.setRate(num, den)
}

// Rate is the pacing rate in bytes per second, rounded down, or zero when
// unpaced.
func (p *Pacer) Rate() uint64 {
	if p.rateNum == 0 {
		return 0
	}
	hi, lo := bits.Mul64(p.rateNum, uint64(time.Second))
	if hi >= p.rateDen {
		return math.MaxUint64
	}
	q, _ := bits.Div64(hi, lo, p.rateDen)
	return q
}

// Burst is the bucket size in bytes: how much may leave back to back after
// the sender has been quiet.
func (p *Pacer) Burst() int { return int(p.bucketSize()) }

// bucketSize computes the bucket for the current rate and datagram size.
func (p *Pacer) bucketSize() int64 {
	burst := uint64(PacerBurstDatagrams * p.datagramSize())
	if p.rateNum != 0 {
		// Bytes per burst interval = rateNum/rateDen bytes/ns × interval.
		interval := p.burstInterval
		if interval <= 0 {
			interval = PacerBurstInterval
		}
		hi, lo := bits.Mul64(p.rateNum, uint64(interval))
		perInterval := uint64(maxWindowLimit)
		if hi < p.rateDen {
			perInterval, _ = bits.Div64(hi, lo, p.rateDen)
		}
		burst = max(burst, min(perInterval, maxWindowLimit))
	}
	return int64(burst)
}

// refill credits the tokens accrued since the last call. The first call
// starts the pacer with a full bucket. Time that goes backwards is
// ignored.
func (p *Pacer) refill(now time.Time) {
	if !p.started {
		p.started = true
		p.last = now
		p.capacity = p.bucketSize()
		p.tokens = p.capacity
		p.fraction = 0
		return
	}
	if !now.After(p.last) {
		return
	}
	elapsed := uint64(now.Sub(p.last))
	p.last = now
	if p.tokens >= p.capacity || p.rateNum == 0 {
		p.tokens = p.capacity
		p.fraction = 0
		return
	}
	hi, lo := bits.Mul64(elapsed, p.rateNum)
	var carry uint64
	lo, carry = bits.Add64(lo, p.fraction, 0)
	hi += carry
	if hi >= p.rateDen {
		// More than 2^64 bytes accrued: certainly a full bucket.
		p.tokens = p.capacity
		p.fraction = 0
		return
	}
	credit, rest := bits.Div64(hi, lo, p.rateDen)
	if credit >= uint64(p.capacity-p.tokens) {
		p.tokens = p.capacity
		p.fraction = 0
		return
	}
	p.tokens += int64(credit)
	p.fraction = rest
}

// TimeUntilSend reports how long the sender must wait, from now, before
// the next datagram; zero means it may send at once. It assumes a
// maximum-size datagram, because the sender has not built it yet.
func (p *Pacer) TimeUntilSend(now time.Time) time.Duration {
	p.refill(now)
	if p.rateNum == 0 {
		return 0
	}
	need := int64(p.datagramSize()) - p.tokens
	if need <= 0 {
		return 0
	}
	// Smallest t with t·rateNum + fraction >= need·rateDen, i.e.
	// ceil((need·rateDen − fraction) / rateNum).
	hi, lo := bits.Mul64(uint64(need), p.rateDen)
	var borrow, carry uint64
	lo, borrow = bits.Sub64(lo, p.fraction, 0)
	hi -= borrow
	lo, carry = bits.Add64(lo, p.rateNum-1, 0)
	hi += carry
	if hi >= p.rateNum {
		return time.Duration(math.MaxInt64)
	}
	wait, _ := bits.Div64(hi, lo, p.rateNum)
	if wait > math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(wait)
}

// NextSendTime is now plus TimeUntilSend(now): when the transport should
// arm its timer if it has data but must wait.
func (p *Pacer) NextSendTime(now time.Time) time.Time {
	return now.Add(p.TimeUntilSend(now))
}

// OnSent takes a sent datagram's bytes from the bucket. Sends the pacer did
// not allow, such as PTO probes (RFC 9002 §7.5), may overdraw the bucket;
// the debt is repaid at the pacing rate but is limited to one bucket, so
// a burst of forced sends cannot silence the sender for long.
func (p *Pacer) OnSent(now time.Time, bytes int) {
	p.refill(now)
	if bytes <= 0 {
		return
	}
	p.tokens = max(p.tokens-int64(bytes), -p.capacity)
}

// Reset forgets the rate and starts again with a full bucket at the next
// call, for a new path. The datagram size is kept.
func (p *Pacer) Reset() {
	*p = Pacer{maxDatagramSize: p.maxDatagramSize, burstInterval: p.burstInterval}
	p.capacity = p.bucketSize()
}
