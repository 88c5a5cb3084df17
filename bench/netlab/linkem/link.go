package linkem

import (
	"math/rand/v2"
	"time"
)

// MaxPacketSize is the longest packet Enqueue takes: the largest IPv4 or
// IPv6 packet without jumbogram options.
const MaxPacketSize = 65535

// Link is one direction of an emulated link; see the package documentation
// for the model. A Link is not safe for concurrent use: one goroutine owns
// it, or a mutex guards it.
type Link struct {
	cfg        Config
	queueLimit int // packet limit in force, 0 for none
	rng        *rand.Rand
	pcg        *rand.PCG
	bad        bool // Gilbert–Elliott state

	// busyUntil is when the bottleneck finishes serializing the last
	// accepted packet; waiting holds the serialization start times of
	// accepted packets that have not started yet, oldest first.
	busyUntil time.Time
	waiting   timeRing

	// inFlight holds every accepted packet until it is delivered, ordered
	// by delivery time and then by acceptance; seq numbers acceptances.
	inFlight deliveryHeap
	seq      uint64

	stats Stats
}

// New returns an empty link with the given configuration, or an error
// matching ErrInvalidConfig.
func New(cfg Config) (*Link, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pcg := rand.NewPCG(0, 0)
	l := &Link{pcg: pcg, rng: rand.New(pcg)}
	l.apply(cfg)
	return l, nil
}

// SetConfig changes the link's parameters for packets offered from now on;
// packets already accepted keep the delivery time they were given. It
// restarts the random sequence from cfg.Seed and the Gilbert–Elliott model
// in its good state, so that each benchmark run started with SetConfig meets
// the same losses. An invalid cfg returns an error matching
// ErrInvalidConfig and changes nothing.
func (l *Link) SetConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	l.apply(cfg)
	return nil
}

// apply installs a valid configuration.
func (l *Link) apply(cfg Config) {
	l.cfg = cfg
	l.queueLimit = cfg.queueLimitPackets()
	// The second PCG word is fixed: one seed names one sequence.
	l.pcg.Seed(cfg.Seed, 0x6c696e6b656d) // "linkem"
	l.bad = false
}

// Config returns the link's current configuration.
func (l *Link) Config() Config { return l.cfg }

// Enqueue offers pkt to the link at time now. If the verdict is Accepted,
// the link keeps pkt (without copying it) until Dequeue returns it, and the
// caller must not modify it in the meantime; otherwise pkt stays the
// caller's. Times passed to Enqueue and Dequeue must not go backwards.
func (l *Link) Enqueue(pkt []byte, now time.Time) Verdict {
	v := l.admit(pkt, now)
	l.stats.Offered++
	l.stats.OfferedBytes += uint64(len(pkt))
	l.stats.count(v)
	return v
}

// admit decides pkt's fate and, if it is accepted, schedules it. The random
// draws happen for every packet in the same order whatever the verdict, so
// the loss pattern depends only on the seed and the packet count.
func (l *Link) admit(pkt []byte, now time.Time) Verdict {
	burstLost := l.drawBurstLoss()
	lost := l.draw(l.cfg.Loss)
	held := l.draw(l.cfg.Reorder.Probability)
	switch {
	case len(pkt) > MaxPacketSize:
		return TooLarge
	case burstLost:
		return BurstLost
	case lost:
		return Lost
	case l.inFlight.len() >= Capacity:
		return Overflow
	}

	// Packets whose serialization has started no longer wait.
	for l.waiting.len() > 0 && !l.waiting.front().After(now) {
		l.waiting.popFront()
	}
	start := now
	if l.busyUntil.After(now) {
		start = l.busyUntil
		if l.queueLimit > 0 && l.waiting.len() >= l.queueLimit {
			return QueueFull
		}
		if l.cfg.QueueLimitTime > 0 && start.Sub(now) > l.cfg.QueueLimitTime {
			return QueueFull
		}
		l.waiting.pushBack(start)
	}
	l.busyUntil = start.Add(l.cfg.serialization(len(pkt)))
	deliverAt := l.busyUntil.Add(l.cfg.Delay)
	if held {
		deliverAt = deliverAt.Add(l.cfg.Reorder.ExtraDelay)
		l.stats.Reordered++
	}
	l.seq++
	l.inFlight.push(pending{deliverAt: deliverAt, seq: l.seq, pkt: pkt})
	return Accepted
}

// draw returns true with probability p, consuming a random number only when
// the outcome is in doubt.
func (l *Link) draw(p float64) bool {
	if p <= 0 {
		return false
	}
	if p >= 1 {
		return true
	}
	return l.rng.Float64() < p
}

// drawBurstLoss decides the Gilbert–Elliott loss for one packet in the
// current state and then moves the model to its state for the next packet.
func (l *Link) drawBurstLoss() bool {
	g := l.cfg.Burst
	if !g.enabled() {
		return false
	}
	var lost bool
	if l.bad {
		lost = l.draw(g.LossBad)
		if l.draw(g.R) {
			l.bad = false
		}
	} else {
		lost = l.draw(g.LossGood)
		if l.draw(g.P) {
			l.bad = true
		}
	}
	return lost
}

// Dequeue returns the next packet whose delivery time is not after now, and
// hands it back to the caller; ok is false when no packet is due. Packets
// due at the same time come out in the order they were accepted.
func (l *Link) Dequeue(now time.Time) (pkt []byte, ok bool) {
	if l.inFlight.len() == 0 || l.inFlight.top().deliverAt.After(now) {
		return nil, false
	}
	p := l.inFlight.pop()
	l.stats.Delivered++
	l.stats.DeliveredBytes += uint64(len(p.pkt))
	return p.pkt, true
}

// NextDelivery returns when the earliest held packet is due; ok is false
// when the link holds none.
func (l *Link) NextDelivery() (at time.Time, ok bool) {
	if l.inFlight.len() == 0 {
		return time.Time{}, false
	}
	return l.inFlight.top().deliverAt, true
}

// Len returns how many packets the link holds, waiting or in flight.
func (l *Link) Len() int { return l.inFlight.len() }

// Stats returns the link's counters.
func (l *Link) Stats() Stats { return l.stats }
