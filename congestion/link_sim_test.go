package congestion

import (
	"container/heap"
	"math/rand/v2"
	"testing"
	"time"
)

// linkSim sends greedy flows through one bottleneck: a link of rate bytes
// per second behind a drop-tail queue of queueLimit bytes (0: no limit),
// with delay each way, and optionally random loss after the bottleneck.
// Each flow has its own controller and pacer, driven as the transport
// drives them: a lost packet is reported, packet by packet and then
// together, with the ACK that would have acknowledged it. Time moves from
// event to event; nothing reads the real clock.
type linkSim struct {
	t          *testing.T
	rate       float64 // bytes per second
	delay      time.Duration
	queueLimit int
	loss       float64
	rng        *rand.Rand
	now        time.Time
	linkFree   time.Time // when the link finishes what is queued
	flows      []*simFlow
}

// simFlow is one sender on a linkSim.
type simFlow struct {
	cc      Controller
	pacer   *Pacer
	rtt     RTTStats
	mss     int
	start   time.Time     // sends nothing before
	extra   time.Duration // added to its packets' delay from now on
	nextPN  int64
	flight  arrivals
	lost    map[int64]bool
	inFlt   int
	acked   int64 // bytes acknowledged
	dropped int64 // packets lost at the queue or at random
	sent    int64 // packets sent
}

func newLinkSim(t *testing.T, mbit float64, rtt time.Duration, queueLimit int) *linkSim {
	return &linkSim{
		t: t, rate: mbit * 1e6 / 8, delay: rtt / 2, queueLimit: queueLimit,
		rng: rand.New(rand.NewPCG(1, 2)), now: simEpoch,
	}
}

// bdp is the link's bandwidth-delay product in bytes.
func (l *linkSim) bdp() int { return int(l.rate * (2 * l.delay).Seconds()) }

// add starts a flow under cc after wait.
func (l *linkSim) add(cc Controller, wait time.Duration) *simFlow {
	const mss = 1452
	cc.SetMaxDatagramSize(mss)
	f := &simFlow{cc: cc, pacer: NewPacer(mss), mss: mss, start: l.now.Add(wait), lost: map[int64]bool{}}
	if _, ok := cc.(*BBR); ok {
		f.pacer.SetBurstInterval(PacerBurstIntervalBBR)
	}
	l.flows = append(l.flows, f)
	return f
}

func (f *simFlow) setPacingRate(now time.Time) {
	if r, ok := f.cc.(interface{ PacingRate() uint64 }); ok {
		f.pacer.SetBytesPerSecond(now, r.PacingRate())
		return
	}
	f.pacer.SetRate(now, f.cc.Window(), f.rtt.Smoothed(), f.cc.InSlowStart())
}

// sendable reports whether f may send at l.now.
func (l *linkSim) sendable(f *simFlow) bool {
	return !l.now.Before(f.start) && f.cc.CanSend(f.inFlt) && f.pacer.TimeUntilSend(l.now) == 0
}

// send puts one datagram of f on the link.
func (l *linkSim) send(f *simFlow) {
	p := simPacket{pn: f.nextPN, size: f.mss, sent: l.now}
	f.nextPN++
	f.sent++
	start := l.now
	if l.linkFree.After(start) {
		start = l.linkFree
	}
	queued := l.rate * start.Sub(l.now).Seconds()
	serialize := time.Duration(float64(p.size) / l.rate * float64(time.Second))
	if l.queueLimit > 0 && int(queued)+p.size > l.queueLimit {
		f.lost[p.pn] = true // dropped at the queue; found out a round trip later
		p.arrive = start.Add(2*l.delay + f.extra)
	} else {
		l.linkFree = start.Add(serialize)
		p.arrive = l.linkFree.Add(2*l.delay + f.extra)
		if l.loss > 0 && l.rng.Float64() < l.loss {
			f.lost[p.pn] = true
		}
	}
	f.cc.OnPacketSent(l.now, p.pn, p.size)
	f.pacer.OnSent(l.now, p.size)
	f.inFlt += p.size
	heap.Push(&f.flight, p)
}

// run processes events for d.
func (l *linkSim) run(d time.Duration) {
	end := l.now.Add(d)
	for {
		for _, f := range l.flows {
			f.setPacingRate(l.now)
			for l.sendable(f) {
				l.send(f)
			}
		}
		var next time.Time
		var who *simFlow
		ack := false
		for _, f := range l.flows {
			if len(f.flight) > 0 && (next.IsZero() || f.flight[0].arrive.Before(next)) {
				next, who, ack = f.flight[0].arrive, f, true
			}
			if f.cc.CanSend(f.inFlt) {
				at := f.pacer.NextSendTime(l.now)
				if f.start.After(at) {
					at = f.start
				}
				if next.IsZero() || at.Before(next) {
					next, who, ack = at, f, false
				}
			}
		}
		if next.IsZero() || next.After(end) {
			l.now = end
			return
		}
		if next.After(l.now) {
			l.now = next
		}
		if ack {
			who.deliver(l.now)
		}
	}
}

// deliver processes the ACK, or the loss, of f's next packet.
func (f *simFlow) deliver(now time.Time) {
	p := heap.Pop(&f.flight).(simPacket)
	prior := f.inFlt
	f.inFlt -= p.size
	if f.lost[p.pn] {
		delete(f.lost, p.pn)
		f.dropped++
		if o, ok := f.cc.(PacketLossObserver); ok {
			o.OnPacketLost(now, p.pn, p.size)
		}
		f.cc.OnLoss(now, p.size, p.sent)
		f.cc.OnAckProcessed(now, prior, &f.rtt)
		return
	}
	f.rtt.Update(now.Sub(p.sent), 0, true)
	f.cc.OnPacketAcked(now, p.pn, p.size, p.sent)
	f.cc.OnAckProcessed(now, prior, &f.rtt)
	f.acked += int64(p.size)
}

// goodputs runs the link for d and returns each flow's delivery over it,
// in Mbit/s.
func (l *linkSim) goodputs(d time.Duration) []float64 {
	before := make([]int64, len(l.flows))
	for i, f := range l.flows {
		before[i] = f.acked
	}
	l.run(d)
	out := make([]float64, len(l.flows))
	for i, f := range l.flows {
		out[i] = float64(f.acked-before[i]) * 8 / 1e6 / d.Seconds()
	}
	return out
}

// newSimBBR is a BBR as the draft has it, with repeatable random
// choices.
func newSimBBR(seed uint64) *BBR {
	b := NewBBR(BBROptions{MaxDatagramSize: 1452})
	b.seed(seed)
	return b
}
