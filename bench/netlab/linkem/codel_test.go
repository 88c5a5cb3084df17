package linkem

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// codelLink is a link where a 1500-byte packet takes exactly 1 ms to
// serialize, with no delay, so that a packet's delivery time is the time it
// left the queue plus 1 ms.
func codelLink(t *testing.T, codel CoDelConfig) *Link {
	t.Helper()
	return newLink(t, Config{RateBitsPerSecond: 12_000_000, QueueLimitTime: MaxDelay, CoDel: codel})
}

// codelOutcome is what happened to each packet a codelRun sent.
type codelOutcome struct {
	// left is when each delivered packet left the queue, by id.
	left map[uint16]time.Duration
	// marked and dropped list ids in the order they left the queue.
	marked, dropped []uint16
}

// codelRun offers the link a burst of burst packets at time zero and then
// one packet every millisecond (the link's rate, so the queue neither grows
// nor drains) for the given time, all of 1500 bytes with the given ECN
// codepoint (IPv4, or IPv6 with v6), stepping the clock a millisecond at a
// time. Packets are numbered from 0 in sending order.
func codelRun(t *testing.T, l *Link, burst int, steady time.Duration, ecn byte, v6 bool) codelOutcome {
	t.Helper()
	out := codelOutcome{left: map[uint16]time.Duration{}}
	var id uint16
	send := func(now time.Time) {
		pkt := ipv4Packet(id, 1500, ecn)
		if v6 {
			pkt = ipv6Packet(id, 1500, ecn)
		}
		if v := l.Enqueue(pkt, now); v != Accepted {
			t.Fatalf("packet %d at %v: %v", id, now.Sub(t0), v)
		}
		id++
	}
	packetID := func(pkt []byte) uint16 {
		if pkt[0]>>4 == 6 {
			return binary.BigEndian.Uint16(pkt[40:])
		}
		return binary.BigEndian.Uint16(pkt[4:])
	}
	for range burst {
		send(t0)
	}
	for ms := time.Duration(0); ; ms += time.Millisecond {
		now := at(ms)
		if ms > 0 && ms <= steady {
			send(now)
		}
		for {
			pkt, ok := l.Dequeue(now)
			if !ok {
				break
			}
			got, _ := packetECN(pkt)
			switch {
			case got == ecnCE && ecn != ecnCE:
				out.marked = append(out.marked, packetID(pkt))
			case got != ecn:
				t.Fatalf("packet %d left with ECN %02b, sent with %02b", packetID(pkt), got, ecn)
			}
			if !v6 && !checksumValid(pkt[:20]) {
				t.Fatalf("packet %d: IPv4 header checksum does not verify", packetID(pkt))
			}
			out.left[packetID(pkt)] = ms - time.Millisecond
		}
		if l.Len() == 0 && ms > steady {
			break
		}
	}
	for i := range id {
		if _, ok := out.left[i]; !ok {
			out.dropped = append(out.dropped, i)
		}
	}
	st := l.Stats()
	if st.Accepted != st.Delivered+st.CoDelDropped || st.CEMarked != uint64(len(out.marked)) || st.CoDelDropped != uint64(len(out.dropped)) {
		t.Errorf("stats %+v: %d marked and %d dropped seen", st, len(out.marked), len(out.dropped))
	}
	return out
}

// codelSchedule returns when RFC 8289's control law signals a standing
// queue that has been above target since firstAbove-interval, on a link
// where packets leave every millisecond: the first signal at firstAbove,
// each next one Interval/sqrt(count) after the time the previous one was
// scheduled, rounded up to the next departure.
func codelSchedule(firstAbove, interval time.Duration, n int) []time.Duration {
	var out []time.Duration
	next := float64(firstAbove)
	for count := 1; len(out) < n; count++ {
		out = append(out, time.Duration(math.Ceil(next/float64(time.Millisecond)))*time.Millisecond)
		next += float64(interval) / math.Sqrt(float64(count))
	}
	return out
}

func TestCoDelMarksStandingQueueOnSchedule(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	for _, tc := range []struct {
		desc string
		ecn  byte
		v6   bool
	}{
		{"IPv4 ECT(0)", ecnECT0, false},
		{"IPv4 ECT(1)", ecnECT1, false},
		{"IPv6 ECT(0)", ecnECT0, true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			// 20 packets of standing queue: every packet after the first
			// few waits 19 ms, above the 5 ms target. Packet 5 is the first
			// to leave after waiting 5 ms, at 5 ms, so CoDel may act from
			// 105 ms on.
			l := codelLink(t, CoDelConfig{ECN: true})
			out := codelRun(t, l, 20, time.Second, tc.ecn, tc.v6)
			if len(out.dropped) != 0 {
				t.Errorf("ECN-capable packets %v dropped, want marked", out.dropped)
			}
			want := codelSchedule(105*ms, 100*ms, 10)
			if got := want[:4]; !slices.Equal(got, []time.Duration{105 * ms, 205 * ms, 276 * ms, 334 * ms}) {
				t.Fatalf("test's schedule starts %v", got)
			}
			var got []time.Duration
			for _, id := range out.marked {
				got = append(got, out.left[id])
			}
			if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
				t.Errorf("marks left the queue at %v, want %v first", got, want)
			}
			// The sender does not respond, so the marks keep coming, ever
			// faster: about 2·sqrt(n)·100 ms for the first n.
			if len(got) < 20 {
				t.Errorf("%d marks in 1 s of standing queue, want at least 20", len(got))
			}
		})
	}
}

func TestCoDelDropsNotECT(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		desc  string
		codel CoDelConfig
		ecn   byte
	}{
		{"Not-ECT with ECN marking on", CoDelConfig{ECN: true}, ecnNotECT},
		{"ECT(0) with ECN marking off", CoDelConfig{Target: DefaultCoDelTarget}, ecnECT0},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			l := codelLink(t, tc.codel)
			out := codelRun(t, l, 20, time.Second, tc.ecn, false)
			if len(out.marked) != 0 {
				t.Errorf("packets %v marked, want dropped", out.marked)
			}
			// Packet 105 would leave at 105 ms, when CoDel first acts. A
			// dropped packet takes no time on the link, so the packets
			// behind it leave a millisecond earlier: the next drop, 100 ms
			// later, falls on packet 206.
			if len(out.dropped) < 10 || out.dropped[0] != 105 || out.dropped[1] != 206 {
				t.Errorf("dropped %v, want packets 105, 206 and at least 8 more", out.dropped)
			}
		})
	}
}

func TestCoDelLeavesShortBurstsAlone(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	// 90 packets take 90 ms to drain: they wait above the target, but
	// for less than the 100 ms interval.
	l := codelLink(t, CoDelConfig{ECN: true})
	out := codelRun(t, l, 90, 0, ecnECT0, false)
	if len(out.marked) != 0 || len(out.dropped) != 0 {
		t.Errorf("a 90 ms burst: marked %v, dropped %v; want none", out.marked, out.dropped)
	}
	// After the queue emptied, the next burst starts afresh.
	now := at(200 * ms)
	for i := range 90 {
		l.Enqueue(ipv4Packet(uint16(i), 1500, ecnECT0), now)
	}
	for now.Before(at(400 * ms)) {
		now = now.Add(ms)
		for {
			if _, ok := l.Dequeue(now); !ok {
				break
			}
		}
	}
	if st := l.Stats(); st.CEMarked != 0 || st.CoDelDropped != 0 || st.Delivered != 180 {
		t.Errorf("two 90 ms bursts: stats %+v, want 180 delivered and no marks", st)
	}

	// A 150 ms burst stays above target past the interval: its packets
	// leaving from 105 ms on are marked.
	l = codelLink(t, CoDelConfig{ECN: true})
	out = codelRun(t, l, 150, 0, ecnECT0, false)
	if len(out.marked) == 0 || out.marked[0] != 105 {
		t.Errorf("a 150 ms burst: marked %v, want packet 105 first", out.marked)
	}
}

func TestCoDelConfig(t *testing.T) {
	t.Parallel()
	if (CoDelConfig{}).Enabled() {
		t.Errorf("zero CoDelConfig enabled")
	}
	for _, c := range []CoDelConfig{{ECN: true}, {Target: time.Millisecond}, {Interval: time.Second}} {
		if !c.Enabled() {
			t.Errorf("%+v not enabled", c)
		}
	}
	if got := (CoDelConfig{ECN: true}).withDefaults(); got.Target != 5*time.Millisecond || got.Interval != 100*time.Millisecond {
		t.Errorf("defaults %+v, want target 5 ms, interval 100 ms", got)
	}
	for _, c := range []Config{
		{CoDel: CoDelConfig{Target: -1}},
		{CoDel: CoDelConfig{Interval: MaxDelay + 1}},
		{MTU: -1},
		{MTU: MaxPacketSize + 1},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", c)
		}
	}
}

// arrival is one packet of a scripted arrival pattern.
type arrival struct {
	at   time.Duration
	size int
	ecn  byte
}

// referenceCoDel plays arrivals through a FIFO bottleneck that decides
// every packet exactly when it leaves the queue, with the bytes that have
// arrived behind it by then, and returns each packet's delivery time (or
// -1 for a drop) and whether it was marked. It shares only the CoDel state
// machine with Link, so that Link's early and deferred decisions can be
// checked against it.
func referenceCoDel(cfg Config, arrivals []arrival) (deliveries []time.Duration, marked []bool) {
	c := newCodel(cfg.CoDel)
	busy := time.Duration(-1)
	for i, a := range arrivals {
		leave := max(busy, a.at)
		backlog := 0
		for _, b := range arrivals[i+1:] {
			if b.at <= leave {
				backlog += b.size
			}
		}
		switch c.dequeue(at(leave), leave-a.at, backlog, codelMaxPacket, a.ecn != ecnNotECT) {
		case codelDrop:
			deliveries, marked = append(deliveries, -1), append(marked, false)
			continue
		case codelMark:
			marked = append(marked, true)
		default:
			marked = append(marked, false)
		}
		busy = leave + cfg.serialization(a.size)
		deliveries = append(deliveries, busy+cfg.Delay)
	}
	return deliveries, marked
}

// TestCoDelDecidesAsAtDeparture drives a link with random bursts and gaps
// and checks every packet's fate and delivery time against referenceCoDel.
func TestCoDelDecidesAsAtDeparture(t *testing.T) {
	t.Parallel()
	cfg := Config{Delay: 3 * time.Millisecond, RateBitsPerSecond: 12_000_000, QueueLimitTime: MaxDelay,
		CoDel: CoDelConfig{Target: 2 * time.Millisecond, Interval: 20 * time.Millisecond, ECN: true}}
	var totalMarks, totalDrops int
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 99))
		var arrivals []arrival
		var now time.Duration
		for len(arrivals) < 3000 {
			// Bursts of up to 150 packets arriving faster than the link
			// sends them, then gaps of up to 30 ms: the queue fills,
			// stands and empties again.
			for range 1 + rng.IntN(150) {
				ecn := byte(ecnECT0)
				if rng.IntN(3) == 0 {
					ecn = ecnNotECT
				}
				arrivals = append(arrivals, arrival{now, 40 + rng.IntN(1461), ecn})
				now += time.Duration(rng.IntN(600)) * time.Microsecond
			}
			now += time.Duration(rng.IntN(30_000)) * time.Microsecond
		}
		wantAt, wantMarked := referenceCoDel(cfg, arrivals)

		// Odd seeds poll the link only now and then, as a late emulator
		// thread does: packets then leave the queue in a later call, with
		// packets behind them that arrived after they left.
		lazy := seed%2 == 1
		l := newLink(t, cfg)
		gotAt := make([]time.Duration, len(arrivals))
		gotMarked := make([]bool, len(arrivals))
		for i := range gotAt {
			gotAt[i] = -1
		}
		take := func(now time.Time) {
			for {
				pkt, ok := l.Dequeue(now)
				if !ok {
					return
				}
				id := binary.BigEndian.Uint16(pkt[4:])
				ecn, _ := packetECN(pkt)
				gotAt[id], gotMarked[id] = now.Sub(t0), ecn == ecnCE
			}
		}
		collect := func(until time.Duration) {
			for {
				next, ok := l.NextDelivery()
				if !ok || next.Sub(t0) > until {
					return
				}
				take(next)
			}
		}
		for i, a := range arrivals {
			switch {
			case !lazy:
				collect(a.at)
			case rng.IntN(20) == 0:
				take(at(a.at))
			}
			if v := l.Enqueue(ipv4Packet(uint16(i), a.size, a.ecn), at(a.at)); v != Accepted {
				t.Fatalf("seed %d: packet %d: %v", seed, i, v)
			}
		}
		collect(MaxDelay)
		if lazy {
			// Delivery times are those of the polls; only fates compare.
			for i := range arrivals {
				if gotAt[i] >= 0 && wantAt[i] >= 0 {
					gotAt[i] = wantAt[i]
				}
			}
		}
		var marks, drops int
		for i := range arrivals {
			if gotAt[i] != wantAt[i] || gotMarked[i] != wantMarked[i] {
				t.Fatalf("seed %d: packet %d (%+v): delivered at %v, marked %v; want %v, %v",
					seed, i, arrivals[i], gotAt[i], gotMarked[i], wantAt[i], wantMarked[i])
			}
			if wantAt[i] < 0 {
				drops++
			} else if wantMarked[i] {
				marks++
			}
		}
		totalMarks, totalDrops = totalMarks+marks, totalDrops+drops
	}
	if totalMarks < 100 || totalDrops < 50 {
		t.Errorf("%d marks and %d drops in all: the patterns do not exercise CoDel", totalMarks, totalDrops)
	}
}

func TestMTUDropsLongerPackets(t *testing.T) {
	t.Parallel()
	l := newLink(t, Config{MTU: 1280})
	for _, tc := range []struct {
		size int
		want Verdict
	}{{1280, Accepted}, {1281, OverMTU}, {1500, OverMTU}, {40, Accepted}} {
		if got := l.Enqueue(make([]byte, tc.size), t0); got != tc.want {
			t.Errorf("%d-byte packet through MTU 1280: %v, want %v", tc.size, got, tc.want)
		}
	}
	if st := l.Stats(); st.OverMTU != 2 || st.Accepted != 2 {
		t.Errorf("stats %+v, want 2 over MTU and 2 accepted", st)
	}
}

func TestCapacityBytesBoundsJumboPackets(t *testing.T) {
	t.Parallel()
	l := newLink(t, Config{Delay: time.Second})
	pkt := make([]byte, 9000)
	n := CapacityBytes / len(pkt)
	for i := range n {
		if v := l.Enqueue(pkt, t0); v != Accepted {
			t.Fatalf("jumbo packet %d of %d: %v", i, n, v)
		}
	}
	if v := l.Enqueue(pkt, t0); v != Overflow {
		t.Errorf("jumbo packet beyond CapacityBytes: %v, want overflow", v)
	}
	if v := l.Enqueue(pkt[:CapacityBytes-n*len(pkt)], t0); v != Accepted {
		t.Errorf("a packet filling CapacityBytes exactly: %v, want accepted", v)
	}
}

func TestCoDelSteadyStateDoesNotAllocate(t *testing.T) {
	l := newLink(t, Config{Delay: 10 * time.Millisecond, RateBitsPerSecond: 100e6, QueueLimitTime: 50 * time.Millisecond,
		CoDel: CoDelConfig{ECN: true}})
	ect, notECT := ipv4Packet(0, 1500, ecnECT0), ipv4Packet(0, 1500, ecnNotECT)
	now := t0
	var i int
	step := func() {
		// Slightly faster than the link: a standing queue CoDel works on.
		now = now.Add(110 * time.Microsecond)
		pkt := ect
		if i++; i%4 == 0 {
			pkt = notECT
		}
		l.Enqueue(pkt, now)
		for {
			if _, ok := l.Dequeue(now); !ok {
				break
			}
		}
		l.NextDelivery()
	}
	for range 20_000 {
		step()
	}
	if allocs := testing.AllocsPerRun(10_000, step); allocs != 0 {
		t.Errorf("%v allocations per packet in steady state, want 0", allocs)
	}
	if st := l.Stats(); st.CEMarked == 0 || st.CoDelDropped == 0 {
		t.Errorf("stats %+v: CoDel never acted", st)
	}
}
