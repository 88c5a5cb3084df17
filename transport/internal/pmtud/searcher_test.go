package pmtud

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)

// path answers probes as a path with the given MTU would (payload limit
// mtu−overhead), with sizes above local refused by the interface.
type path struct {
	limit, local int
}

// search runs a searcher against p until it settles or gives up after
// many probes, and returns the sizes it probed and the probes lost.
func search(t *testing.T, s *Searcher, p path, now time.Time) (probed []int, lost int) {
	t.Helper()
	pn := int64(0)
	for range 200 {
		size, ok := s.ProbeDue(now)
		if !ok {
			return probed, lost
		}
		probed = append(probed, size)
		if p.local > 0 && size > p.local {
			s.OnProbeTooBig(size, now)
			continue
		}
		pn++
		s.OnProbeSent(pn, size)
		if size <= p.limit {
			s.OnProbeAcked(pn)
		} else {
			lost++
			s.OnProbeLost(pn, now)
		}
	}
	t.Fatalf("search did not settle: probed %v", probed)
	return nil, 0
}

func TestSearchSettles(t *testing.T) {
	for _, tc := range []struct {
		desc            string
		max, overhead   int
		p               path
		want            int
		wantLostAtMost  int
		wantFirstProbes []int
	}{
		{desc: "IPv4 Ethernet, 9000-byte interface refuses jumbo locally", max: 65527, overhead: 28,
			// Refused down to the interface's size, which is the first
			// probe on the wire, and the last.
			p: path{limit: 1472, local: 1472}, want: 1472, wantLostAtMost: 0,
			wantFirstProbes: []int{65527, 65507, 16356, 8972, 1472}},
		{desc: "IPv6 WireGuard tunnel (MTU 1420)", max: 1452, overhead: 48,
			p: path{limit: 1372}, want: 1372, wantLostAtMost: 2*MaxProbes + 1,
			wantFirstProbes: []int{1452, 1232, 1352, 1372, 1432}},
		{desc: "IPv4 path of MTU 1280", max: 1472, overhead: 28,
			p: path{limit: 1252}, want: 1252, wantLostAtMost: 3*MaxProbes + 1},
		{desc: "odd MTU 1350 found within Granularity", max: 1472, overhead: 28,
			p: path{limit: 1322}, wantLostAtMost: 4*MaxProbes + 1},
		{desc: "jumbo LAN, Ethernet path beyond: no bisection above 1472", max: 65527, overhead: 28,
			// The lost first probe is not the size's verdict: the
			// climb tries it MaxProbes times.
			p: path{limit: 1472, local: 8972}, want: 1472, wantLostAtMost: MaxProbes + 1,
			wantFirstProbes: []int{65527, 65507, 16356, 8972, 1252, 1372, 1392, 1452, 1464, 1472, 8972, 8972, 8972}},
		{desc: "jumbo 9000", max: 65527, overhead: 28,
			p: path{limit: 8972, local: 8972}, want: 8972},
		{desc: "loopback, ceiling 65527", max: 65527, overhead: 28,
			p: path{limit: 65507, local: 65507}, want: 65507 - 0},
		{desc: "ceiling at BaseSize: no search", max: 1200, overhead: 28,
			p: path{limit: 1472}, want: 1200},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			s := New(tc.max, tc.overhead, t0)
			if got := s.Current(); got != min(BaseSize, tc.max) {
				t.Fatalf("Current before search = %d, want %d", got, BaseSize)
			}
			probed, lost := search(t, s, tc.p, t0)
			got := s.Current()
			if tc.want != 0 && got != tc.want {
				t.Errorf("settled at %d, want %d (probed %v)", got, tc.want, probed)
			}
			if got > tc.p.limit && got > BaseSize {
				t.Errorf("settled at %d, above the path's %d", got, tc.p.limit)
			}
			if tc.p.limit-got > Granularity && got < tc.max && tc.p.limit <= tc.max {
				t.Errorf("settled at %d, more than %d below the path's %d (probed %v)", got, Granularity, tc.p.limit, probed)
			}
			if lost > tc.wantLostAtMost && tc.wantLostAtMost > 0 {
				t.Errorf("%d probes lost, want at most %d (probed %v)", lost, tc.wantLostAtMost, probed)
			}
			if tc.wantFirstProbes != nil && !slices.Equal(probed[:min(len(probed), len(tc.wantFirstProbes))], tc.wantFirstProbes) {
				t.Errorf("first probes %v, want %v", probed, tc.wantFirstProbes)
			}
		})
	}
}

func TestProbeLostFewerThanMaxProbesIsRetried(t *testing.T) {
	s := New(1472, 28, t0)
	loseFirstProbe(t, s, 1472)
	size, _ := s.ProbeDue(t0)
	for i := range MaxProbes - 1 {
		s.OnProbeSent(int64(i+1), size)
		s.OnProbeLost(int64(i+1), t0)
		if again, ok := s.ProbeDue(t0); !ok || again != size {
			t.Fatalf("after %d losses: ProbeDue = %d, %v; want %d again", i+1, again, ok, size)
		}
	}
	s.OnProbeSent(10, size)
	if ev := s.OnProbeAcked(10); ev != Raised || s.Current() != size {
		t.Fatalf("OnProbeAcked = %v, Current %d; want Raised, %d", ev, s.Current(), size)
	}
}

// loseFirstProbe checks that a new path's first probe is want, the largest
// size the interface carries, and loses it: the search climbs from the
// bottom then.
func loseFirstProbe(t *testing.T, s *Searcher, want int) {
	t.Helper()
	size, ok := s.ProbeDue(t0)
	if !ok || size != want {
		t.Fatalf("first probe %d, %v; want %d", size, ok, want)
	}
	s.OnProbeSent(1000, size)
	if ev := s.OnProbeLost(1000, t0); ev != NoEvent {
		t.Fatalf("losing the first probe: %v, want NoEvent", ev)
	}
	if next, ok := s.ProbeDue(t0); !ok || next != 1200+52 {
		t.Fatalf("after the first probe was lost: ProbeDue = %d, %v; want the climb's first size 1252", next, ok)
	}
}

// TestFirstProbeLargestLocal: a new path's first probe on the wire is the
// largest candidate the local interface does not refuse, so a path that
// carries it (loopback, a LAN, most of the Internet at 1500) settles in one
// round trip; a path that loses it is searched from the bottom.
func TestFirstProbeLargestLocal(t *testing.T) {
	s := New(65507, 28, t0)
	size, _ := s.ProbeDue(t0)
	if size != 65507 {
		t.Fatalf("first probe %d, want the ceiling 65507", size)
	}
	s.OnProbeSent(1, size)
	if ev := s.OnProbeAcked(1); ev != Raised || s.Current() != 65507 {
		t.Fatalf("OnProbeAcked = %v, Current %d; want Raised, 65507", ev, s.Current())
	}
	if size, ok := s.ProbeDue(t0); ok || s.Searching() {
		t.Fatalf("after the ceiling was acknowledged: ProbeDue = %d, %v, searching %v; want done", size, ok, s.Searching())
	}

	s = New(65527, 28, t0)
	for _, refused := range []int{65527, 65507, 16356} {
		if size, _ := s.ProbeDue(t0); size != refused {
			t.Fatalf("probe %d, want %d", size, refused)
		}
		s.OnProbeTooBig(refused, t0)
	}
	loseFirstProbe(t, s, 8972)
}

func TestProbeInFlightBlocksNext(t *testing.T) {
	s := New(1472, 28, t0)
	loseFirstProbe(t, s, 1472)
	size, _ := s.ProbeDue(t0)
	s.OnProbeSent(1, size)
	if _, ok := s.ProbeDue(t0); ok {
		t.Fatal("a second probe is due while one is in flight")
	}
	// Acknowledgements and losses of other packets are not the probe's.
	if ev := s.OnProbeAcked(2); ev != NoEvent || s.Current() != BaseSize {
		t.Fatalf("ack of another packet raised the size to %d", s.Current())
	}
	s.OnProbeLost(3, t0)
	if _, ok := s.ProbeDue(t0); ok {
		t.Fatal("loss of another packet ended the probe")
	}
}

func TestRaiseIntervalLooksAgain(t *testing.T) {
	s := New(1472, 28, t0)
	search(t, s, path{limit: 1252}, t0)
	if s.Current() != 1252 || s.Searching() {
		t.Fatalf("Current = %d, Searching %v; want 1252, false", s.Current(), s.Searching())
	}
	if _, ok := s.ProbeDue(t0.Add(RaiseInterval - time.Second)); ok {
		t.Fatal("probe due before RaiseInterval")
	}
	// The path has not changed: the size that failed is tried first, fails
	// again, and that ends it.
	probed, _ := search(t, s, path{limit: 1252}, t0.Add(RaiseInterval))
	if want := []int{1282, 1282, 1282}; !slices.Equal(probed, want) || s.Current() != 1252 {
		t.Fatalf("looking again on the same path: probed %v, settled at %d; want %v, 1252", probed, s.Current(), want)
	}
	// The path's MTU has gone back up.
	later := t0.Add(3 * RaiseInterval)
	search(t, s, path{limit: 1472}, later)
	if s.Current() != 1472 {
		t.Fatalf("after the raise: Current = %d, want 1472", s.Current())
	}
	if _, ok := s.ProbeDue(later.Add(time.Hour)); ok {
		t.Fatal("a search that reached its ceiling probes again")
	}
}

func TestBlackHole(t *testing.T) {
	settled := func() *Searcher {
		s := New(1472, 28, t0)
		search(t, s, path{limit: 1472}, t0)
		if s.Current() != 1472 {
			t.Fatalf("Current = %d", s.Current())
		}
		return s
	}
	t.Run("large lost, small acked after: black hole", func(t *testing.T) {
		s := settled()
		for pn := int64(100); pn < 110; pn++ {
			s.OnPacketLost(pn, 1472)
		}
		if ev := s.CheckBlackHole(t0); ev != NoEvent {
			t.Fatal("black hole declared with no small packet acknowledged")
		}
		s.OnPacketAcked(110, 1200) // a probe-timeout packet, kept small
		if ev := s.CheckBlackHole(t0); ev != Suspected || s.Current() != BaseSize {
			t.Fatalf("CheckBlackHole = %v, Current %d; want Suspected, %d", ev, s.Current(), BaseSize)
		}
		// One probe of the old size settles it.
		size, ok := s.ProbeDue(t0)
		if !ok || size != 1472 {
			t.Fatalf("ProbeDue = %d, %v; want the old size 1472", size, ok)
		}
		s.OnProbeSent(111, size)
		if ev := s.OnProbeLost(111, t0); ev != BlackHole || s.Current() != BaseSize {
			t.Fatalf("OnProbeLost = %v, Current %d; want BlackHole, %d", ev, s.Current(), BaseSize)
		}
		// The search starts again below the size that failed.
		probed, _ := search(t, s, path{limit: 1252}, t0)
		if s.Current() != 1252 || slices.Contains(probed, 1472) {
			t.Fatalf("re-search settled at %d probing %v; want 1252 without 1472", s.Current(), probed)
		}
	})
	t.Run("a short outage: suspected, and the probe clears it", func(t *testing.T) {
		s := settled()
		for pn := int64(100); pn < 110; pn++ {
			s.OnPacketLost(pn, 1472)
		}
		s.OnPacketAcked(110, 1200)
		if ev := s.CheckBlackHole(t0); ev != Suspected {
			t.Fatalf("CheckBlackHole = %v, want Suspected", ev)
		}
		size, _ := s.ProbeDue(t0)
		s.OnProbeSent(111, size)
		if ev := s.OnProbeAcked(111); ev != Raised || s.Current() != 1472 {
			t.Fatalf("OnProbeAcked = %v, Current %d; want Raised, 1472", ev, s.Current())
		}
		if _, ok := s.ProbeDue(t0); ok {
			t.Fatal("a probe is due after the suspicion cleared")
		}
	})
	t.Run("small packets lost among the large: an outage", func(t *testing.T) {
		s := settled()
		for pn := int64(100); pn < 110; pn++ {
			s.OnPacketLost(pn, 1472)
		}
		s.OnPacketLost(110, 1200)
		s.OnPacketAcked(111, 1200)
		if ev := s.CheckBlackHole(t0); ev != NoEvent {
			t.Fatalf("CheckBlackHole = %v after small packets were lost too", ev)
		}
	})
	t.Run("small ack sent before the losses does not convict", func(t *testing.T) {
		s := settled()
		s.OnPacketAcked(99, 300)
		for pn := int64(100); pn < 110; pn++ {
			s.OnPacketLost(pn, 1472)
		}
		if ev := s.CheckBlackHole(t0); ev != NoEvent {
			t.Fatal("black hole declared from an acknowledgement older than the losses")
		}
	})
	t.Run("congestion: later large packets acknowledged", func(t *testing.T) {
		s := settled()
		s.OnPacketAcked(120, 1472) // the ACK that declared them lost acked later large ones
		for pn := int64(100); pn < 110; pn++ {
			s.OnPacketLost(pn, 1472)
		}
		s.OnPacketAcked(121, 200)
		if ev := s.CheckBlackHole(t0); ev != NoEvent {
			t.Fatal("congestion loss taken for a black hole")
		}
	})
	t.Run("fewer than the threshold lost", func(t *testing.T) {
		s := settled()
		for pn := int64(100); pn < 100+blackHoleLosses-1; pn++ {
			s.OnPacketLost(pn, 1472)
		}
		s.OnPacketAcked(130, 200)
		if ev := s.CheckBlackHole(t0); ev != NoEvent {
			t.Fatal("black hole declared below the loss threshold")
		}
	})
	t.Run("at BaseSize there is nothing to fall back from", func(t *testing.T) {
		s := New(1472, 28, t0)
		for pn := int64(100); pn < 110; pn++ {
			s.OnPacketLost(pn, 1200)
		}
		s.OnPacketAcked(130, 100)
		if ev := s.CheckBlackHole(t0); ev != NoEvent {
			t.Fatal("black hole at BaseSize")
		}
	})
}

func TestResetStartsOver(t *testing.T) {
	s := New(1472, 28, t0)
	search(t, s, path{limit: 1472}, t0)
	s.Reset(t0)
	if s.Current() != BaseSize || !s.Searching() {
		t.Fatalf("after Reset: Current %d, Searching %v", s.Current(), s.Searching())
	}
	if got, want := s.candidates(), []int{1252, 1372, 1392, 1452, 1464, 1472}; !slices.Equal(got, want) {
		t.Fatalf("candidates = %v, want %v", got, want)
	}
}

// TestRefusedCheckProbeConfirmsBlackHole: the interface itself shrank
// under the size in use, so the probe that checks a suspected black hole
// is refused locally; that confirms it, and the search starts again.
func TestRefusedCheckProbeConfirmsBlackHole(t *testing.T) {
	s := New(1472, 28, t0)
	search(t, s, path{limit: 1472}, t0)
	for pn := int64(100); pn < 110; pn++ {
		s.OnPacketLost(pn, 1472)
	}
	s.OnPacketAcked(110, 1200)
	if ev := s.CheckBlackHole(t0); ev != Suspected {
		t.Fatalf("CheckBlackHole = %v", ev)
	}
	size, ok := s.ProbeDue(t0)
	if !ok || size != 1472 {
		t.Fatalf("ProbeDue = %d, %v", size, ok)
	}
	if ev := s.OnProbeTooBig(size, t0); ev != BlackHole || s.Current() != BaseSize || s.Suspecting() {
		t.Fatalf("OnProbeTooBig = %v, Current %d, suspecting %v; want BlackHole, %d, false", ev, s.Current(), s.Suspecting(), BaseSize)
	}
	probed, _ := search(t, s, path{limit: 1392, local: 1400}, t0)
	if s.Current() != 1392 || slices.Contains(probed, 1472) {
		t.Fatalf("re-search settled at %d probing %v; want 1392, never 1472", s.Current(), probed)
	}
}
