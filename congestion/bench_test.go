package congestion

import (
	"testing"
	"time"
)

// Hot-path steps, shared by the benchmarks and the allocation test.

type ackBench struct {
	c   *Cubic
	rtt RTTStats
	now time.Time
	pn  int64
}

// newAckBench returns a controller in congestion avoidance (slowStart
// false) or in HyStart++ slow start.
func newAckBench(slowStart bool) *ackBench {
	a := &ackBench{c: NewCubic(CubicOptions{MaxDatagramSize: 1400}), now: simEpoch}
	if !slowStart {
		a.c.OnLoss(a.now, 1400, a.now)
	}
	return a
}

// step sends one datagram and acknowledges the one sent 50 ms of packets
// earlier, as a steady flow does.
func (a *ackBench) step() {
	a.now = a.now.Add(10 * time.Microsecond)
	a.c.OnPacketSent(a.now, a.pn, 1400)
	a.rtt.Update(50*time.Millisecond, time.Millisecond, true)
	a.c.OnPacketAcked(a.now, a.pn-5000, 1400, a.now.Add(-50*time.Millisecond))
	a.c.OnAckProcessed(a.now, a.c.Window(), &a.rtt)
	a.pn++
}

type pacerBench struct {
	p   *Pacer
	now time.Time
}

func newPacerBench() *pacerBench {
	b := &pacerBench{p: NewPacer(1452), now: simEpoch}
	b.p.SetRate(b.now, 500000, 100*time.Microsecond, false)
	return b
}

func (b *pacerBench) step() {
	b.now = b.now.Add(b.p.TimeUntilSend(b.now))
	b.p.OnSent(b.now, 1452)
	b.p.SetRate(b.now, 500000, 100*time.Microsecond, false)
}

func TestHotPathsDoNotAllocate(t *testing.T) {
	tests := []struct {
		desc string
		step func()
	}{
		{desc: "ACK in congestion avoidance", step: newAckBench(false).step},
		{desc: "ACK in slow start with HyStart++", step: newAckBench(true).step},
		{desc: "pacer send decision", step: newPacerBench().step},
		{desc: "RTT update", step: func() {
			var r RTTStats
			r.Update(time.Millisecond, 0, true)
		}},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(1000, tt.step); got != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tt.desc, got)
		}
	}
}

func BenchmarkCubicOnPacketSent(b *testing.B) {
	c := NewCubic(CubicOptions{MaxDatagramSize: 1400})
	now := simEpoch
	var pn int64
	b.ReportAllocs()
	for b.Loop() {
		c.OnPacketSent(now, pn, 1400)
		pn++
	}
}

func BenchmarkCubicOnAck(b *testing.B) {
	for _, bc := range []struct {
		name      string
		slowStart bool
	}{
		{name: "CongestionAvoidance", slowStart: false},
		{name: "SlowStart", slowStart: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			a := newAckBench(bc.slowStart)
			b.ReportAllocs()
			for b.Loop() {
				a.step()
			}
		})
	}
}

func BenchmarkPacerTimeUntilSend(b *testing.B) {
	pb := newPacerBench()
	b.ReportAllocs()
	for b.Loop() {
		pb.step()
	}
}

func BenchmarkRTTUpdate(b *testing.B) {
	var r RTTStats
	b.ReportAllocs()
	for b.Loop() {
		r.Update(50*time.Millisecond, time.Millisecond, true)
	}
}
