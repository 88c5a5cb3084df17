package linkem

import (
	"math"
	"time"
)

// CoDel's defaults, from RFC 8289 section 4.
const (
	DefaultCoDelTarget   = 5 * time.Millisecond
	DefaultCoDelInterval = 100 * time.Millisecond
)

// CoDelConfig turns on CoDel, the Controlled Delay queue management of RFC
// 8289, at a link's bottleneck. The zero value leaves it off; any non-zero
// field turns it on, with the defaults for the durations left zero, so
// CoDelConfig{ECN: true} is CoDel as fq_codel runs it by default.
//
// CoDel watches how long each packet waited in the queue (its sojourn
// time). Once every packet for a whole Interval has waited at least Target,
// it signals congestion on the packet leaving the queue and then on more
// and more of them, the next one Interval/sqrt(count) after the last, until
// a packet waits less than Target again. The signal is a drop, or with ECN
// a Congestion Experienced mark on a packet whose sender declared it
// ECN-capable. A packet leaving no more than one packet's worth of bytes
// behind it (the link's MTU: Config.MTU, or 1500 bytes) is never
// signalled, however long it waited: on a link too slow to send a full
// packet within Target, the queue could not drain otherwise.
type CoDelConfig struct {
	// Target is the standing queue delay CoDel tolerates; zero means
	// DefaultCoDelTarget.
	Target time.Duration
	// Interval is how long the delay must stay above Target before CoDel
	// acts, about a worst-case round trip; zero means
	// DefaultCoDelInterval.
	Interval time.Duration
	// ECN marks packets carrying ECT(0) or ECT(1) with CE (RFC 3168)
	// instead of dropping them, as fq_codel's ecn option does; packets
	// that are not ECN-capable (Not-ECT, or not IP) are still dropped.
	ECN bool
}

// Enabled reports whether c turns CoDel on.
func (c CoDelConfig) Enabled() bool {
	return c.Target != 0 || c.Interval != 0 || c.ECN
}

// withDefaults fills in the zero durations.
func (c CoDelConfig) withDefaults() CoDelConfig {
	if c.Target == 0 {
		c.Target = DefaultCoDelTarget
	}
	if c.Interval == 0 {
		c.Interval = DefaultCoDelInterval
	}
	return c
}

// codelAction is what CoDel does to a packet leaving the queue.
type codelAction uint8

const (
	codelPass codelAction = iota
	codelMark             // set CE and send
	codelDrop
)

// codel is the state of RFC 8289's algorithm for one queue. Its dequeue
// method is called for every packet in the order the packets leave the
// queue, with the time each leaves, and says what to do with it. It is the
// RFC's pseudocode (section 5) turned from a loop that drops packets inside
// one dequeue call into a decision per packet: after a drop, the caller
// asks about the next packet at the same time, which is what the RFC's loop
// does; with ECN, a marked packet is sent and ends that loop, as in Linux's
// codel_dequeue. The RFC's empty-queue case needs no code of its own: a
// packet that found the queue empty leaves with zero sojourn time, below
// any target, which ends the dropping state and the time above target.
type codel struct {
	cfg CoDelConfig // with defaults filled in

	// firstAbove is when the sojourn time, above Target since then
	// without a break, will have been so for an Interval; zero while
	// below Target.
	firstAbove time.Time
	// dropping is the RFC's dropping state: signalling at dropNext, then
	// every Interval/sqrt(count) after.
	dropping bool
	dropNext time.Time
	// count is the signals of this dropping state (or, right after
	// entering it, the estimate carried over from the last one);
	// lastCount is count when the state was last entered.
	count, lastCount uint32
	// passNext lets the packet after a drop that entered the dropping
	// state through unexamined, as the RFC does.
	passNext bool
}

func newCodel(cfg CoDelConfig) codel {
	return codel{cfg: cfg.withDefaults()}
}

// dequeue decides the fate of a packet leaving the queue at now after
// waiting sojourn, with backlog bytes still queued behind it. maxPacket is
// the link's MTU: a queue holding no more than one packet is never
// signalled, however long that packet waited, since a link that slow would
// otherwise drop forever (RFC 8289 section 5.4). ecnCapable says the
// packet can take a CE mark instead of being dropped.
func (c *codel) dequeue(now time.Time, sojourn time.Duration, backlog, maxPacket int, ecnCapable bool) codelAction {
	ok := c.okToSignal(now, sojourn, backlog, maxPacket)
	signal := codelDrop
	if c.cfg.ECN && ecnCapable {
		signal = codelMark
	}
	if c.passNext {
		c.passNext = false
		return codelPass
	}
	if c.dropping {
		if !ok {
			c.dropping = false
			return codelPass
		}
		if now.Before(c.dropNext) {
			return codelPass
		}
		c.count++
		c.dropNext = c.controlLaw(c.dropNext)
		return signal
	}
	if !ok {
		return codelPass
	}
	c.dropping = true
	// If the queue went above target again soon after the last dropping
	// state, start from the signal rate that controlled it then.
	delta := c.count - c.lastCount
	c.count = 1
	if delta > 1 && now.Sub(c.dropNext) < 16*c.cfg.Interval {
		c.count = delta
	}
	c.lastCount = c.count
	c.dropNext = c.controlLaw(now)
	c.passNext = signal == codelDrop
	return signal
}

// okToSignal is the RFC's dodequeue test: whether the sojourn time has
// been at or above Target for at least an Interval.
func (c *codel) okToSignal(now time.Time, sojourn time.Duration, backlog, maxPacket int) bool {
	if sojourn < c.cfg.Target || backlog <= maxPacket {
		c.firstAbove = time.Time{}
		return false
	}
	if c.firstAbove.IsZero() {
		c.firstAbove = now.Add(c.cfg.Interval)
		return false
	}
	return !now.Before(c.firstAbove)
}

// controlLaw returns the time of the next signal after t: Interval divided
// by the square root of the signals so far, so that the signal rate grows
// until the sender's response brings the delay down.
func (c *codel) controlLaw(t time.Time) time.Time {
	return t.Add(time.Duration(float64(c.cfg.Interval) / math.Sqrt(float64(c.count))))
}
