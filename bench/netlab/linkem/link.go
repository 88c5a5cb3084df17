package linkem

import (
	"math/rand/v2"
	"time"
)

// MaxPacketSize is the longest packet Enqueue takes: the largest IPv4 or
// IPv6 packet without jumbogram options.
const MaxPacketSize = 65535

// codelMaxPacket is CoDel's maximum packet size on a link without an MTU:
// Ethernet's, as Linux's codel takes the device MTU.
const codelMaxPacket = 1500

// Link is one direction of an emulated link; see the package documentation
// for the model. A Link is not safe for concurrent use: one goroutine owns
// it, or a mutex guards it.
type Link struct {
	cfg        Config
	queueLimit int // packet limit in force, 0 for none
	rng        *rand.Rand
	pcg        *rand.PCG
	bad        bool // Gilbert–Elliott state

	// codel manages the bottleneck queue when cfg.CoDel is enabled;
	// maxPacket is its notion of the MTU.
	codel     codel
	codelOn   bool
	maxPacket int

	// queue holds the accepted packets that have not left the bottleneck
	// queue yet, oldest first. Without CoDel a packet's fate is sealed on
	// arrival and it leaves queue within the Enqueue that put it there;
	// with CoDel its fate is decided when it leaves, and that decision
	// needs to know how many bytes wait behind it, so the last packet or
	// two of a short queue stay until their time comes. queuedBytes and
	// queuedSerialization sum the packets in queue.
	queue               ring[queued]
	queuedBytes         int
	queuedSerialization time.Duration

	// busyUntil is when the bottleneck finishes serializing the last
	// packet that left the queue; waiting holds the serialization start
	// times of the packets that left queue but have not started yet,
	// oldest first.
	busyUntil time.Time
	waiting   ring[time.Time]

	// inFlight holds every packet that left the queue until it is
	// delivered, ordered by delivery time and then by acceptance; seq
	// numbers them. heldBytes counts the bytes in queue and inFlight.
	inFlight  deliveryHeap
	seq       uint64
	heldBytes int

	stats Stats
}

// queued is an accepted packet waiting for the bottleneck.
type queued struct {
	pkt     []byte
	arrival time.Time
	// serialization is what the packet adds to queuedSerialization.
	serialization time.Duration
	// held marks a packet Reorder picked.
	held bool
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
// packets already accepted keep the delivery time they were given (with
// CoDel, those still in the queue meet the new parameters when they leave
// it). It restarts the random sequence from cfg.Seed, the Gilbert–Elliott
// model in its good state and CoDel's state machine, so that each
// benchmark run started with SetConfig meets the same losses. An invalid
// cfg returns an error matching ErrInvalidConfig and changes nothing.
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
	l.codelOn = cfg.CoDel.Enabled()
	l.codel = newCodel(cfg.CoDel)
	l.maxPacket = codelMaxPacket
	if cfg.MTU > 0 {
		l.maxPacket = cfg.MTU
	}
}

// Config returns the link's current configuration.
func (l *Link) Config() Config { return l.cfg }

// Enqueue offers pkt to the link at time now. If the verdict is Accepted,
// the link keeps pkt (without copying it) until Dequeue returns it, and the
// caller must not modify it in the meantime; otherwise pkt stays the
// caller's. With CoDel an accepted packet may still be dropped when it
// leaves the queue (Stats.CoDelDropped), and is then never returned, or
// marked, which rewrites its ECN bits in place. Times passed to Enqueue and
// Dequeue must not go backwards.
func (l *Link) Enqueue(pkt []byte, now time.Time) Verdict {
	v := l.admit(pkt, now)
	l.stats.Offered++
	l.stats.OfferedBytes += uint64(len(pkt))
	l.stats.count(v)
	return v
}

// admit decides pkt's fate on arrival and, if it is accepted, queues it.
// The random draws happen for every packet in the same order whatever the
// verdict, so the loss pattern depends only on the seed and the packet
// count.
func (l *Link) admit(pkt []byte, now time.Time) Verdict {
	burstLost := l.drawBurstLoss()
	lost := l.draw(l.cfg.Loss)
	held := l.draw(l.cfg.Reorder.Probability)
	switch {
	case len(pkt) > MaxPacketSize:
		return TooLarge
	case l.cfg.MTU > 0 && len(pkt) > l.cfg.MTU:
		return OverMTU
	case burstLost:
		return BurstLost
	case lost:
		return Lost
	case l.Len() >= Capacity || l.heldBytes+len(pkt) > CapacityBytes:
		return Overflow
	}

	l.advance(now)
	// Packets whose serialization has started no longer wait.
	for l.waiting.len() > 0 && !l.waiting.front().After(now) {
		l.waiting.popFront()
	}
	start := now
	if l.busyUntil.After(now) {
		start = l.busyUntil
	}
	start = start.Add(l.queuedSerialization)
	if start.After(now) {
		if l.queueLimit > 0 && l.waiting.len()+l.queue.len() >= l.queueLimit {
			return QueueFull
		}
		if l.cfg.QueueLimitTime > 0 && start.Sub(now) > l.cfg.QueueLimitTime {
			return QueueFull
		}
	}
	ser := l.cfg.serialization(len(pkt))
	l.queue.pushBack(queued{pkt: pkt, arrival: now, serialization: ser, held: held})
	l.queuedBytes += len(pkt)
	l.queuedSerialization += ser
	l.heldBytes += len(pkt)
	if held {
		l.stats.Reordered++
	}
	l.advance(now)
	return Accepted
}

// advance moves packets from the queue to the bottleneck, in order, for as
// long as their fate can be decided at now: each leaves the queue when the
// bottleneck has finished the packet before it, and CoDel (if on) judges it
// then. A packet due to leave after now is judged early if more than
// maxPacket bytes already wait behind it, since later arrivals can only add
// to them; otherwise it waits until now reaches its time.
func (l *Link) advance(now time.Time) {
	for l.queue.len() > 0 {
		head := l.queue.front()
		leave := head.arrival
		if l.busyUntil.After(leave) {
			leave = l.busyUntil
		}
		size := len(head.pkt)
		action := codelPass
		if l.codelOn {
			// Enqueue moves the queue up to its now before it adds a
			// packet, so every packet behind the head arrived before
			// the head leaves: they are its backlog.
			backlog := l.queuedBytes - size
			if leave.After(now) && backlog <= l.maxPacket {
				return
			}
			ecn, _ := packetECN(head.pkt)
			action = l.codel.dequeue(leave, leave.Sub(head.arrival), backlog, l.maxPacket, ecn != ecnNotECT)
		}
		q := l.queue.popFront()
		l.queuedBytes -= size
		l.queuedSerialization -= q.serialization
		switch action {
		case codelDrop:
			l.stats.CoDelDropped++
			l.heldBytes -= size
			continue
		case codelMark:
			markCE(q.pkt)
			l.stats.CEMarked++
		}
		if leave.After(now) {
			l.waiting.pushBack(leave)
		}
		l.busyUntil = leave.Add(l.cfg.serialization(size))
		deliverAt := l.busyUntil.Add(l.cfg.Delay)
		if q.held {
			deliverAt = deliverAt.Add(l.cfg.Reorder.ExtraDelay)
		}
		l.seq++
		l.inFlight.push(pending{deliverAt: deliverAt, seq: l.seq, pkt: q.pkt})
	}
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
	l.advance(now)
	if l.inFlight.len() == 0 || l.inFlight.top().deliverAt.After(now) {
		return nil, false
	}
	p := l.inFlight.pop()
	l.heldBytes -= len(p.pkt)
	l.stats.Delivered++
	l.stats.DeliveredBytes += uint64(len(p.pkt))
	return p.pkt, true
}

// NextDelivery returns when the earliest held packet is due; ok is false
// when the link holds none. With CoDel, that is as things stand: a packet
// still in the queue, whose fate waits for the packets that arrive behind
// it, is counted as passing, which it does if none arrive; one that does
// arrive may change that, so the caller asks again after Enqueue.
func (l *Link) NextDelivery() (at time.Time, ok bool) {
	if l.queue.len() > 0 {
		head := l.queue.front()
		leave := head.arrival
		if l.busyUntil.After(leave) {
			leave = l.busyUntil
		}
		at, ok = leave.Add(l.cfg.serialization(len(head.pkt))+l.cfg.Delay), true
		if head.held {
			at = at.Add(l.cfg.Reorder.ExtraDelay)
		}
	}
	if l.inFlight.len() > 0 {
		if d := l.inFlight.top().deliverAt; !ok || d.Before(at) {
			at, ok = d, true
		}
	}
	return at, ok
}

// Len returns how many packets the link holds, waiting or in flight.
func (l *Link) Len() int { return l.queue.len() + l.inFlight.len() }

// Stats returns the link's counters.
func (l *Link) Stats() Stats { return l.stats }
