package congestion

import (
	"testing"
	"time"
)

// Two CUBIC flows (the transport's default, tolerant of random loss) on a
// 100 Mbit/s, 50 ms link with a drop-tail queue of one BDP: started
// together they share it evenly; started 75 ms apart (a handshake), the
// first leaves slow start with about three times the other's window and
// CUBIC gives the difference back over tens of seconds. The lab measures
// the same: 0.65 for the first of two limpet flows over 30 s, 0.67 for
// TCP CUBIC (README, "Lossy paths").
func TestCubicPairSharesLink(t *testing.T) {
	shares := func(gap time.Duration) []float64 {
		l := newLinkSim(t, 100, 50*time.Millisecond, 0)
		l.queueLimit = l.bdp()
		l.add(NewCubic(CubicOptions{MaxDatagramSize: 1452, TolerateRandomLoss: true}), 0)
		l.add(NewCubic(CubicOptions{MaxDatagramSize: 1452, TolerateRandomLoss: true}), gap)
		l.run(5 * time.Second)
		var s []float64
		for range 6 {
			g := l.goodputs(5 * time.Second)
			if g[0]+g[1] < 90 {
				t.Errorf("gap %v: together %.1f Mbit/s, want the link full", gap, g[0]+g[1])
			}
			s = append(s, g[0]/(g[0]+g[1]))
		}
		t.Logf("gap %v: the first flow's share per 5 s: %.2f", gap, s)
		return s
	}
	for _, s := range shares(0) {
		if s < 0.4 || s > 0.6 {
			t.Errorf("flows started together: a share of %.2f, want 0.4–0.6", s)
		}
	}
	s := shares(75 * time.Millisecond)
	if s[0] < 0.6 || s[5] >= s[0] {
		t.Errorf("flows started 75 ms apart: shares %.2f, want the first flow ahead at first and its lead shrinking", s)
	}
}
