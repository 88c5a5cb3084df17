package linkem

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrInvalidConfig is matched by errors.Is when a Config has a parameter out
// of range.
var ErrInvalidConfig = errors.New("linkem: invalid link configuration")

// DefaultQueuePackets is the drop-tail limit of a rate-limited link whose
// Config sets neither QueueLimitPackets nor QueueLimitTime, the same as
// Linux's default txqueuelen. A rate limit without any queue bound would
// hide unbounded bufferbloat in a benchmark.
const DefaultQueuePackets = 1000

// Capacity and CapacityBytes bound what a Link holds at once, waiting and
// in flight together: at most Capacity packets of at most CapacityBytes
// bytes in all; beyond either, Enqueue returns Overflow. They bound the
// memory a fast sender can pin through a long delay. 32768 packets of 1500
// bytes are 48 MiB, more than 1 Gbit/s needs across 200 ms, so at that
// size the packet count binds; with 9000-byte jumbo packets the byte bound
// does, at about 7400 packets (still 1 Gbit/s across 500 ms). The caller's
// buffers may be larger than the packets in them: the network lab's
// emulator sizes each buffer for the lab's MTU.
const (
	Capacity      = 1 << 15
	CapacityBytes = 64 << 20
)

// MaxDelay bounds Delay and Reorder.ExtraDelay, which keeps time arithmetic
// far from overflow and rejects values that are certainly typos.
const MaxDelay = time.Minute

// Config describes one direction of an emulated link. The zero value is a
// perfect link: no delay, no rate limit, no loss, no reordering.
type Config struct {
	// Delay is the one-way propagation delay every packet sees after it
	// leaves the bottleneck; a round trip through two links with Delay d
	// takes 2d plus serialization and queueing.
	Delay time.Duration

	// RateBitsPerSecond is the bottleneck rate, counted over whole IP
	// packets. Zero means unlimited: packets are never serialized or
	// queued, only delayed.
	RateBitsPerSecond uint64

	// QueueLimitPackets caps how many packets may wait for the bottleneck,
	// not counting the one being serialized; a packet that finds the queue
	// full is dropped (drop-tail). Zero means no packet limit.
	QueueLimitPackets int

	// QueueLimitTime caps how long a packet may wait for the bottleneck;
	// a packet that would wait longer is dropped. It sizes the buffer in
	// time, the way a buffer of one bandwidth-delay product is usually
	// specified. Zero means no time limit. When both limits are zero on a
	// rate-limited link, DefaultQueuePackets applies.
	QueueLimitTime time.Duration

	// Loss is the probability, from 0 to 1, that a packet is dropped
	// independently of every other packet.
	Loss float64

	// Burst adds correlated loss; its zero value adds none.
	Burst GilbertElliott

	// Reorder holds back a share of packets so that later ones overtake
	// them; its zero value reorders nothing.
	Reorder Reorder

	// MTU, if positive, is the largest packet the link carries: a longer
	// packet is dropped without a trace (verdict OverMTU), as a link
	// whose MTU is smaller than its neighbours' does. No ICMP "packet too
	// big" goes back, so to a sender this is a path MTU black hole
	// (RFC 2923 section 2.1). Zero means no limit below MaxPacketSize.
	MTU int

	// CoDel, when enabled, manages the bottleneck queue with CoDel (RFC
	// 8289) instead of leaving it to the drop-tail limits alone, which
	// still apply as a backstop. It only acts on a rate-limited link,
	// where packets queue.
	CoDel CoDelConfig

	// Seed starts the link's random number generator. The same seed and
	// the same packet sequence give the same losses and reorderings, so
	// that benchmark runs over TCP and limpet meet the same path.
	Seed uint64
}

// GilbertElliott is the two-state bursty loss model of Gilbert (1960) and
// Elliott (1963), as netem's "loss gemodel" implements it: the link is in a
// good or a bad state, loses each packet with the current state's
// probability, and then changes state with probability P (good to bad) or
// R (bad to good). With LossGood 0 and LossBad 1, losses come in bursts of
// mean length 1/R packets and the long-run loss rate is P/(P+R).
type GilbertElliott struct {
	// P is the per-packet probability of moving from the good state to the
	// bad one. Zero disables the model.
	P float64
	// R is the per-packet probability of moving from the bad state back to
	// the good one.
	R float64
	// LossGood is the loss probability in the good state, usually 0.
	LossGood float64
	// LossBad is the loss probability in the bad state, usually 1.
	LossBad float64
}

// enabled reports whether the model can ever lose a packet.
func (g GilbertElliott) enabled() bool {
	return g.P > 0 || g.LossGood > 0
}

// Reorder makes the link deliver some packets late: each packet is picked
// independently with Probability and propagates for ExtraDelay longer than
// the others, so every packet that leaves the bottleneck within ExtraDelay
// after it arrives first. Unlike netem, which sends the picked packets
// early, this never shortens a path's delay.
type Reorder struct {
	// Probability is the share of packets held back, from 0 to 1.
	Probability float64
	// ExtraDelay is how much longer a held-back packet propagates; it must
	// be positive when Probability is.
	ExtraDelay time.Duration
}

// Validate returns an error matching ErrInvalidConfig that names the first
// parameter out of range, or nil.
func (c Config) Validate() error {
	switch {
	case c.Delay < 0 || c.Delay > MaxDelay:
		return fmt.Errorf("%w: delay %v not in [0, %v]", ErrInvalidConfig, c.Delay, MaxDelay)
	case c.QueueLimitPackets < 0:
		return fmt.Errorf("%w: queue limit %d packets is negative", ErrInvalidConfig, c.QueueLimitPackets)
	case c.QueueLimitTime < 0 || c.QueueLimitTime > MaxDelay:
		return fmt.Errorf("%w: queue limit %v not in [0, %v]", ErrInvalidConfig, c.QueueLimitTime, MaxDelay)
	case c.Reorder.ExtraDelay < 0 || c.Reorder.ExtraDelay > MaxDelay:
		return fmt.Errorf("%w: reorder extra delay %v not in [0, %v]", ErrInvalidConfig, c.Reorder.ExtraDelay, MaxDelay)
	case c.MTU < 0 || c.MTU > MaxPacketSize:
		return fmt.Errorf("%w: MTU %d not in [0, %d]", ErrInvalidConfig, c.MTU, MaxPacketSize)
	case c.CoDel.Target < 0 || c.CoDel.Target > MaxDelay:
		return fmt.Errorf("%w: CoDel target %v not in [0, %v]", ErrInvalidConfig, c.CoDel.Target, MaxDelay)
	case c.CoDel.Interval < 0 || c.CoDel.Interval > MaxDelay:
		return fmt.Errorf("%w: CoDel interval %v not in [0, %v]", ErrInvalidConfig, c.CoDel.Interval, MaxDelay)
	case c.Reorder.Probability > 0 && c.Reorder.ExtraDelay == 0:
		return fmt.Errorf("%w: reorder probability %v without an extra delay reorders nothing", ErrInvalidConfig, c.Reorder.Probability)
	}
	for _, p := range []struct {
		name  string
		value float64
	}{
		{"loss", c.Loss},
		{"Gilbert-Elliott P", c.Burst.P},
		{"Gilbert-Elliott R", c.Burst.R},
		{"Gilbert-Elliott loss in the good state", c.Burst.LossGood},
		{"Gilbert-Elliott loss in the bad state", c.Burst.LossBad},
		{"reorder probability", c.Reorder.Probability},
	} {
		if math.IsNaN(p.value) || p.value < 0 || p.value > 1 {
			return fmt.Errorf("%w: %s %v not in [0, 1]", ErrInvalidConfig, p.name, p.value)
		}
	}
	return nil
}

// queueLimitPackets returns the packet limit in force, applying
// DefaultQueuePackets, or 0 for none.
func (c Config) queueLimitPackets() int {
	if c.RateBitsPerSecond > 0 && c.QueueLimitPackets == 0 && c.QueueLimitTime == 0 {
		return DefaultQueuePackets
	}
	return c.QueueLimitPackets
}

// serialization returns how long the bottleneck takes to send size bytes,
// rounded up so that the link never exceeds its rate.
func (c Config) serialization(size int) time.Duration {
	if c.RateBitsPerSecond == 0 {
		return 0
	}
	bits := uint64(size) * 8 * uint64(time.Second)
	return time.Duration((bits + c.RateBitsPerSecond - 1) / c.RateBitsPerSecond)
}
