package pmtud

import (
	"slices"
	"time"
)

// BaseSize is the datagram size every path starts at and falls back to:
// QUIC's minimum, which every path must carry (RFC 9000 §14), and
// RFC 8899's BASE_PLPMTU for it.
const BaseSize = 1200

// MaxProbes is how many probes of one size must be lost before the size is
// taken to be too big (RFC 8899 MAX_PROBES).
const MaxProbes = 3

// Granularity ends the binary search: once the largest size known to work
// and the smallest known to fail are this close, the search stops. 32
// bytes is about 2 % of a 1500-byte MTU, and every step below it would
// cost MaxProbes lost probes.
const Granularity = 32

// maxBisectGap bounds the gaps the search bisects. Between the common MTUs
// up to Ethernet's, tunnels leave odd limits that bisection finds; above
// it a path is jumbo or it is not, and bisecting 1500 to 9000 would cost a
// dozen lost probes on every path that crosses a jumbo LAN to the
// Internet.
const maxBisectGap = 256

// RaiseInterval is how long a search that found a limit below the ceiling
// waits before it tries larger sizes again. RFC 8899 suggests 600 s; a
// path's MTU changes when a tunnel comes or goes or a route moves, and
// looking again costs at most MaxProbes lost probes (the first size tried
// is the one that failed), so limpet looks sooner.
const RaiseInterval = 10 * time.Second

// blackHoleLosses is how many packets larger than BaseSize must be lost,
// with none of them acknowledged since, before a smaller packet's
// acknowledgement convicts the path of swallowing large ones.
const blackHoleLosses = MaxProbes

// commonMTUs are link MTUs users' paths often have: the IPv6 minimum, IPsec
// and cloud VPNs, WireGuard, IPv6-in-IPv4 and PPPoE, Ethernet, jumbo
// Ethernet, and the 64 KiB of loopback. The search tries the payloads they
// allow before it bisects.
var commonMTUs = [...]int{1280, 1400, 1420, 1480, 1492, 1500, 9000, 16384, 65535}

// Event is something the search did that the transport must act on.
type Event uint8

const (
	NoEvent   Event = iota
	Raised          // a probe was acknowledged: Current grew
	Suspected       // large packets seem to vanish: Current fell to BaseSize until a probe tells
	BlackHole       // the probe of the old size was lost too: the search starts again
)

// Searcher searches one path's datagram size.
type Searcher struct {
	max      int // the search's ceiling
	overhead int // IP and UDP header bytes, to turn MTUs into payloads

	current int // the largest size known to get through
	tooBig  int // the smallest size known not to (max+1 when none is)

	probing    bool // a probe is in flight
	probeSize  int
	probePN    int64
	probeLosts int // probes of probeSize lost so far

	done bool // the search has nothing left to try
	// descending marks a new path's first probes: from the ceiling down
	// through the common sizes while the local system refuses them, so
	// that the first probe it sends is the largest the local interface
	// carries (section 11, "The search").
	descending bool
	// raising marks a search the raise timer started; retry is the size
	// it tries first, the smallest that failed last time.
	raising bool
	retry   int
	// suspect is the size in use when a black hole was suspected; a probe
	// of it, acknowledged or lost, settles the matter. 0 when none is.
	suspect int
	raiseAt time.Time // when a finished search looks again (zero: never)

	// Black-hole detection, over ordinary packets (probes excluded).
	largeLost      int   // packets > BaseSize lost since one was last acknowledged
	firstLargeLost int64 // the earliest of those
	lastLargeAcked int64
	lastSmallAcked int64
}

// New returns a search of a path whose datagrams may be at most max bytes
// (our configuration and the peer's max_udp_payload_size together), whose
// IP version adds overhead bytes of IP and UDP header (28 for IPv4, 48 for
// IPv6). A max at or below BaseSize disables the search.
func New(max, overhead int, now time.Time) *Searcher {
	s := &Searcher{max: max, overhead: overhead}
	s.Reset(now)
	s.descending = !s.done
	return s
}

// Reset starts the search again from BaseSize: the path changed.
func (s *Searcher) Reset(now time.Time) {
	*s = Searcher{max: s.max, overhead: s.overhead, current: BaseSize, tooBig: s.max + 1,
		lastLargeAcked: -1, lastSmallAcked: -1, firstLargeLost: -1}
	s.done = s.max <= BaseSize
	if s.done {
		s.current = min(BaseSize, max(s.max, 0))
	}
}

// Current is the largest datagram to send: the size last confirmed.
func (s *Searcher) Current() int { return s.current }

// Max is the search's ceiling.
func (s *Searcher) Max() int { return s.max }

// Raising reports whether the search under way is one the raise timer
// started, rather than the first on the path or one after a black hole.
func (s *Searcher) Raising() bool { return s.raising && !s.done }

// Searching reports whether the search is still looking for a larger size.
func (s *Searcher) Searching() bool { return !s.done }

// ProbeDue returns the size of the probe to send now, if one is due: the
// search is on and no probe is in flight.
func (s *Searcher) ProbeDue(now time.Time) (size int, ok bool) {
	if s.done && !s.raiseAt.IsZero() && !now.Before(s.raiseAt) {
		// Look again for a larger size: the limit found may have gone.
		// The size that failed goes first; if it fails again, so would
		// everything above it, and the search is over at once.
		s.done, s.raiseAt, s.raising = false, time.Time{}, true
		s.retry, s.tooBig = s.tooBig, s.max+1
	}
	if s.probing {
		return 0, false
	}
	if s.suspect > 0 {
		return s.suspect, true
	}
	if s.done {
		return 0, false
	}
	size = s.nextSize()
	if size == 0 {
		s.finish(now)
		return 0, false
	}
	return size, true
}

// nextSize picks the next size to try: the smallest common payload between
// what works and what does not, else the midpoint; 0 when the gap is below
// Granularity.
func (s *Searcher) nextSize() int {
	if s.descending {
		if p := s.largestCandidateBelow(s.tooBig); p > s.current {
			return p
		}
		s.descending = false
	}
	if s.probeSize > s.current && s.probeSize < s.tooBig && s.probeLosts > 0 {
		return s.probeSize // this size is still being tried
	}
	if s.retry > s.current && s.retry < s.tooBig {
		return s.retry
	}
	for _, mtu := range commonMTUs {
		if p := mtu - s.overhead; p > s.current && p < s.tooBig {
			return p
		}
	}
	if p := s.max; p > s.current && p < s.tooBig {
		return p
	}
	if gap := s.tooBig - s.current; gap <= Granularity || gap > maxBisectGap {
		return 0
	}
	return (s.current + s.tooBig) / 2
}

// largestCandidateBelow is the largest common payload or the ceiling below
// limit, or 0.
func (s *Searcher) largestCandidateBelow(limit int) int {
	if s.max < limit {
		return s.max
	}
	for i := len(commonMTUs) - 1; i >= 0; i-- {
		if p := commonMTUs[i] - s.overhead; p < limit && p <= s.max {
			return p
		}
	}
	return 0
}

// finish ends a search; one that stopped below the ceiling looks again
// after RaiseInterval.
func (s *Searcher) finish(now time.Time) {
	s.done = true
	s.probeSize, s.probeLosts = 0, 0
	if s.current < s.max {
		s.raiseAt = now.Add(RaiseInterval)
	}
}

// OnProbeSent records that a probe of size bytes went out as packet pn.
func (s *Searcher) OnProbeSent(pn int64, size int) {
	if size != s.probeSize {
		s.probeSize, s.probeLosts = size, 0
	}
	s.probing, s.probePN = true, pn
}

// IsProbe reports whether pn is the probe in flight.
func (s *Searcher) IsProbe(pn int64) bool { return s.probing && pn == s.probePN }

// OnProbeAcked records the probe's acknowledgement: its size gets through.
// It returns Raised when Current grew.
func (s *Searcher) OnProbeAcked(pn int64) Event {
	if !s.IsProbe(pn) {
		return NoEvent
	}
	s.probing = false
	s.probeLosts = 0
	s.descending = false
	if s.suspect > 0 {
		// The old size still gets through: the losses were something
		// else (an outage, a burst).
		s.current, s.suspect = s.probeSize, 0
		s.largeLost, s.firstLargeLost = 0, -1
		return Raised
	}
	if s.probeSize <= s.current {
		return NoEvent
	}
	s.current = s.probeSize
	// Sizes up to this one work: losses of smaller packets before now say
	// nothing about it.
	s.largeLost, s.firstLargeLost = 0, -1
	return Raised
}

// OnProbeLost records the probe's loss. MaxProbes losses in a row make its
// size too big. The loss of the probe that checks a suspected black hole
// confirms it and returns BlackHole: the search starts again from
// BaseSize, below the size that failed.
func (s *Searcher) OnProbeLost(pn int64, now time.Time) Event {
	if !s.IsProbe(pn) {
		return NoEvent
	}
	s.probing = false
	if s.descending {
		// The largest size the local interface carries is lost further
		// on: climb from the bottom instead, where this size will be
		// tried again, MaxProbes times, if the climb reaches it.
		s.descending = false
		return NoEvent
	}
	if s.suspect > 0 {
		failed := s.suspect
		s.Reset(now)
		s.tooBig = failed
		return BlackHole
	}
	s.probeLosts++
	if s.probeLosts >= MaxProbes {
		s.tooBig = s.probeSize
		s.probeLosts = 0
	}
	return NoEvent
}

// OnProbeTooBig records that the local system refused to send a probe of
// size bytes (EMSGSIZE: larger than the interface's MTU), which settles
// that size at once. A refused probe of a suspected black hole's size
// confirms the black hole (the interface itself shrank) and returns
// BlackHole.
func (s *Searcher) OnProbeTooBig(size int, now time.Time) Event {
	s.probing = false
	s.probeLosts = 0
	if s.suspect > 0 && size >= s.suspect {
		s.Reset(now)
		s.tooBig = size
		return BlackHole
	}
	if size > s.current {
		s.tooBig = min(s.tooBig, size)
	}
	return NoEvent
}

// OnPacketAcked records the acknowledgement of an ordinary packet (not a
// probe) of size bytes sent as pn.
func (s *Searcher) OnPacketAcked(pn int64, size int) {
	if size > BaseSize {
		if pn > s.lastLargeAcked {
			s.lastLargeAcked = pn
		}
		s.largeLost, s.firstLargeLost = 0, -1
	} else if pn > s.lastSmallAcked {
		s.lastSmallAcked = pn
	}
}

// OnPacketLost records the loss of an ordinary packet.
func (s *Searcher) OnPacketLost(pn int64, size int) {
	if size <= BaseSize {
		if s.largeLost > 0 && pn > s.firstLargeLost {
			// Small packets are lost too: an outage or congestion, not
			// a black hole. Count afresh.
			s.largeLost, s.firstLargeLost = 0, -1
		}
		return
	}
	if pn < s.lastLargeAcked {
		return
	}
	if s.largeLost == 0 || pn < s.firstLargeLost {
		s.firstLargeLost = pn
	}
	s.largeLost++
}

// CheckBlackHole decides, after an ACK has been processed, whether the
// path may have become a black hole for the current size: at least
// blackHoleLosses large packets lost and none acknowledged since, while a
// small packet sent after the first of them was acknowledged and none was
// lost. Congestion loses large and small packets alike and lets later
// large ones through; an outage lets nothing through. A path that comes
// back from a short outage looks the same, though, so the verdict waits
// for one probe of the current size: meanwhile Current is BaseSize, so
// data keeps getting through, and the probe's fate (OnProbeAcked,
// OnProbeLost) ends the suspicion. It returns Suspected.
func (s *Searcher) CheckBlackHole(now time.Time) Event {
	if s.current <= BaseSize || s.suspect > 0 || s.largeLost < blackHoleLosses || s.lastSmallAcked <= s.firstLargeLost {
		return NoEvent
	}
	s.suspect, s.current = s.current, BaseSize
	// A search probe still in flight is forgotten: its fate no longer
	// matters, and the check probe goes at once.
	s.probing, s.probeLosts = false, 0
	return Suspected
}

// SmallProbesWanted reports whether probe-timeout packets should be no
// larger than BaseSize: large packets are being lost with nothing
// acknowledged, so a small probe both gets data through a black hole and
// lets CheckBlackHole tell a black hole from an outage.
func (s *Searcher) SmallProbesWanted() bool { return s.current > BaseSize }

// Suspecting reports whether a suspected black hole awaits its probe.
func (s *Searcher) Suspecting() bool { return s.suspect > 0 }

// candidates lists the sizes a fresh search would try, for tests and docs.
func (s *Searcher) candidates() []int {
	var out []int
	for _, mtu := range commonMTUs {
		if p := mtu - s.overhead; p > BaseSize && p <= s.max {
			out = append(out, p)
		}
	}
	if !slices.Contains(out, s.max) && s.max > BaseSize {
		out = append(out, s.max)
	}
	return out
}
