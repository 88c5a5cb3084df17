package congestion

import (
	"container/heap"
	"testing"
	"time"
)

// simEpoch is an arbitrary fixed origin for fake clocks. Tests never read
// the real clock.
var simEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// simPacket is one datagram in flight in a pathSim.
type simPacket struct {
	pn     int64
	size   int
	sent   time.Time
	arrive time.Time // when its ACK reaches the sender
}

// arrivals orders in-flight packets by ACK arrival, then packet number.
type arrivals []simPacket

func (a arrivals) Len() int { return len(a) }
func (a arrivals) Less(i, j int) bool {
	if !a[i].arrive.Equal(a[j].arrive) {
		return a[i].arrive.Before(a[j].arrive)
	}
	return a[i].pn < a[j].pn
}
func (a arrivals) Swap(i, j int) { a[i], a[j] = a[j], a[i] }
func (a *arrivals) Push(x any)   { *a = append(*a, x.(simPacket)) }
func (a *arrivals) Pop() any {
	old := *a
	p := old[len(old)-1]
	*a = old[:len(old)-1]
	return p
}

// pathSim drives a Cubic and a Pacer the way the transport will: a
// greedy (or capped) sender, one ACK per packet arriving rtt(sent) after
// the packet left, and scripted losses. It is deterministic: time moves
// only from event to event.
type pathSim struct {
	t     *testing.T
	cc    *Cubic
	pacer *Pacer
	rtt   RTTStats
	mss   int
	now   time.Time

	// rttOf gives each packet's round-trip time from its send time.
	rttOf func(sent time.Time) time.Duration
	// appLimit, if positive, caps the bytes the application keeps in
	// flight, making the sender application-limited below the window.
	appLimit int

	// lossTimes are scripted: the first ACK due at or after each of them
	// is replaced by that packet's loss, reported alone the way a loss
	// timer would.
	lossTimes []time.Time

	// onAck, if set, runs after every processed ACK or loss.
	onAck func(s *pathSim, p simPacket, lost bool)
	// onLoss, if set, runs just before a scripted loss is reported.
	onLoss func(s *pathSim, p simPacket)

	nextPN   int64
	inFlight int
	flight   arrivals
	acks     int
}

func newPathSim(t *testing.T, cc *Cubic, mss int, rtt time.Duration) *pathSim {
	t.Helper()
	return &pathSim{
		t:     t,
		cc:    cc,
		pacer: NewPacer(mss),
		mss:   mss,
		now:   simEpoch,
		rttOf: func(time.Time) time.Duration { return rtt },
	}
}

// sendAllowed sends every datagram the window, the pacer and the
// application allow at s.now.
func (s *pathSim) sendAllowed() {
	for s.cc.CanSend(s.inFlight) && s.pacer.TimeUntilSend(s.now) == 0 && s.hasData() {
		p := simPacket{pn: s.nextPN, size: s.mss, sent: s.now, arrive: s.now.Add(s.rttOf(s.now))}
		s.nextPN++
		s.cc.OnPacketSent(s.now, p.pn, p.size)
		s.pacer.OnSent(s.now, p.size)
		s.inFlight += p.size
		heap.Push(&s.flight, p)
	}
}

func (s *pathSim) hasData() bool {
	return s.appLimit <= 0 || s.inFlight+s.mss <= s.appLimit
}

// run processes events until the next one would be after end.
func (s *pathSim) run(end time.Time) {
	s.t.Helper()
	for {
		s.pacer.SetRate(s.now, s.cc.Window(), s.rtt.Smoothed(), s.cc.InSlowStart())
		s.sendAllowed()
		if len(s.flight) == 0 && !s.cc.CanSend(s.inFlight) {
			s.t.Fatalf("at %v: nothing in flight and the window (%d) forbids sending", s.now.Sub(simEpoch), s.cc.Window())
		}
		next := time.Time{}
		ackNext := len(s.flight) > 0
		if ackNext {
			next = s.flight[0].arrive
		}
		if s.cc.CanSend(s.inFlight) && s.hasData() {
			if at := s.pacer.NextSendTime(s.now); !ackNext || at.Before(next) {
				next = at
				ackNext = false
			}
		}
		if next.IsZero() || next.After(end) {
			s.now = end
			return
		}
		s.now = next
		if ackNext {
			s.deliver(heap.Pop(&s.flight).(simPacket))
		}
	}
}

// deliver processes the ACK (or scripted loss) of p at s.now.
func (s *pathSim) deliver(p simPacket) {
	prior := s.inFlight
	s.inFlight -= p.size
	if len(s.lossTimes) > 0 && !s.now.Before(s.lossTimes[0]) {
		s.lossTimes = s.lossTimes[1:]
		if s.onLoss != nil {
			s.onLoss(s, p)
		}
		s.cc.OnLoss(s.now, p.size, p.sent)
		if s.onAck != nil {
			s.onAck(s, p, true)
		}
		return
	}
	s.rtt.Update(s.now.Sub(p.sent), 0, true)
	s.cc.OnPacketAcked(s.now, p.pn, p.size, p.sent)
	s.cc.OnAckProcessed(s.now, prior, &s.rtt)
	s.acks++
	if s.onAck != nil {
		s.onAck(s, p, false)
	}
}
