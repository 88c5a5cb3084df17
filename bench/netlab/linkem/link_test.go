package linkem

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"
)

// t0 is the scripted clock's origin; it has no monotonic reading, like every
// time the tests build from it.
var t0 = time.Unix(1_700_000_000, 0)

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// newLink is New for a configuration the test knows to be valid.
func newLink(t testing.TB, cfg Config) *Link {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return l
}

// packet returns a packet of size bytes whose first byte is id, so that a
// test can tell delivered packets apart.
func packet(id byte, size int) []byte {
	p := make([]byte, size)
	p[0] = id
	return p
}

// delivery is a packet's identity and when it came out.
type delivery struct {
	id byte
	at time.Duration
}

// drain steps the scripted clock from delivery to delivery until the link
// is empty, checking that no packet is due a nanosecond before its time.
func drain(t *testing.T, l *Link) []delivery {
	t.Helper()
	var got []delivery
	for {
		next, ok := l.NextDelivery()
		if !ok {
			return got
		}
		if pkt, ok := l.Dequeue(next.Add(-time.Nanosecond)); ok {
			t.Fatalf("Dequeue a nanosecond before %v returned packet %d", next.Sub(t0), pkt[0])
		}
		for {
			pkt, ok := l.Dequeue(next)
			if !ok {
				break
			}
			got = append(got, delivery{pkt[0], next.Sub(t0)})
		}
	}
}

func TestDeliveryTimes(t *testing.T) {
	t.Parallel()
	type send struct {
		at   time.Duration
		size int
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		desc  string
		cfg   Config
		sends []send
		want  []time.Duration // delivery time of each packet, in sending order
	}{
		{
			desc:  "delay only: every packet takes exactly the delay",
			cfg:   Config{Delay: 25 * ms},
			sends: []send{{0, 1500}, {0, 40}, {3 * ms, 1500}, {3*ms + 1, 9000}},
			want:  []time.Duration{25 * ms, 25 * ms, 28 * ms, 28*ms + 1},
		},
		{
			desc: "back-to-back burst leaves the bottleneck one serialization apart",
			// 1500 bytes at 12 Mbit/s take exactly 1 ms.
			cfg:   Config{Delay: 10 * ms, RateBitsPerSecond: 12_000_000},
			sends: []send{{0, 1500}, {0, 1500}, {0, 1500}, {0, 1500}, {0, 1500}},
			want:  []time.Duration{11 * ms, 12 * ms, 13 * ms, 14 * ms, 15 * ms},
		},
		{
			desc: "an idle bottleneck starts a packet at once",
			cfg:  Config{Delay: 10 * ms, RateBitsPerSecond: 12_000_000},
			// The second packet arrives while the first is on the wire and
			// waits for it; the third finds the bottleneck idle.
			sends: []send{{0, 1500}, {ms / 2, 750}, {5 * ms, 1500}},
			want:  []time.Duration{11 * ms, 11*ms + ms/2, 16 * ms},
		},
		{
			desc: "serialization rounds up to whole nanoseconds",
			// 1 byte at 3 bit/s is 2.666... s, rounded up.
			cfg:   Config{RateBitsPerSecond: 3},
			sends: []send{{0, 1}, {0, 1}},
			want:  []time.Duration{2666666667, 2 * 2666666667},
		},
		{
			desc: "100 Mbit/s: a full-size packet every 120 µs",
			cfg:  Config{Delay: 5 * ms, RateBitsPerSecond: 100_000_000},
			sends: []send{
				{0, 1500}, {0, 1500}, {0, 1500},
			},
			want: []time.Duration{5*ms + 120*time.Microsecond, 5*ms + 240*time.Microsecond, 5*ms + 360*time.Microsecond},
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			l := newLink(t, tc.cfg)
			for i, s := range tc.sends {
				if v := l.Enqueue(packet(byte(i), s.size), at(s.at)); v != Accepted {
					t.Fatalf("packet %d: verdict %v, want accepted", i, v)
				}
			}
			got := drain(t, l)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d deliveries %v, want %d", len(got), got, len(tc.want))
			}
			for i, d := range got {
				if d.id != byte(i) || d.at != tc.want[i] {
					t.Errorf("delivery %d: got packet %d at %v, want packet %d at %v", i, d.id, d.at, i, tc.want[i])
				}
			}
		})
	}
}

func TestQueueLimits(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	for _, tc := range []struct {
		desc     string
		cfg      Config
		burst    int
		accepted int // the first accepted packets of the burst, the rest dropped
	}{
		{
			desc:     "packet limit counts waiting packets, not the one on the wire",
			cfg:      Config{RateBitsPerSecond: 12_000_000, QueueLimitPackets: 3},
			burst:    10,
			accepted: 4,
		},
		{
			// Packet k of the burst would wait k ms.
			desc:     "time limit drops packets that would wait too long",
			cfg:      Config{RateBitsPerSecond: 12_000_000, QueueLimitTime: 2*ms + ms/2},
			burst:    10,
			accepted: 3,
		},
		{
			desc:     "a wait of exactly the time limit is allowed",
			cfg:      Config{RateBitsPerSecond: 12_000_000, QueueLimitTime: 2 * ms},
			burst:    10,
			accepted: 3,
		},
		{
			desc:     "the tighter of both limits applies",
			cfg:      Config{RateBitsPerSecond: 12_000_000, QueueLimitPackets: 1, QueueLimitTime: 5 * ms},
			burst:    10,
			accepted: 2,
		},
		{
			desc:     "a rate without limits gets DefaultQueuePackets",
			cfg:      Config{RateBitsPerSecond: 12_000_000},
			burst:    DefaultQueuePackets + 100,
			accepted: DefaultQueuePackets + 1,
		},
		{
			desc:     "no rate, no queue: nothing is dropped",
			cfg:      Config{Delay: ms, QueueLimitPackets: 1},
			burst:    100,
			accepted: 100,
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			l := newLink(t, tc.cfg)
			for i := range tc.burst {
				want := Accepted
				if i >= tc.accepted {
					want = QueueFull
				}
				if got := l.Enqueue(packet(byte(i), 1500), t0); got != want {
					t.Fatalf("packet %d of the burst: verdict %v, want %v", i, got, want)
				}
			}
			st := l.Stats()
			if st.Accepted != uint64(tc.accepted) || st.QueueFull != uint64(tc.burst-tc.accepted) || st.Offered != uint64(tc.burst) {
				t.Errorf("stats %+v, want %d offered, %d accepted, %d queue drops", st, tc.burst, tc.accepted, tc.burst-tc.accepted)
			}
			if got := l.Len(); got != tc.accepted {
				t.Errorf("Len() = %d, want %d", got, tc.accepted)
			}
		})
	}
}

func TestQueueDrainsAndAcceptsAgain(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	l := newLink(t, Config{Delay: 10 * ms, RateBitsPerSecond: 12_000_000, QueueLimitPackets: 2})
	for i := range 3 {
		if v := l.Enqueue(packet(byte(i), 1500), t0); v != Accepted {
			t.Fatalf("packet %d: %v, want accepted", i, v)
		}
	}
	if v := l.Enqueue(packet(3, 1500), t0); v != QueueFull {
		t.Fatalf("fourth packet into a full queue: %v, want queue full", v)
	}
	// At 1 ms the second packet is on the wire and one waits: room for one.
	for i, want := range []Verdict{Accepted, QueueFull} {
		if v := l.Enqueue(packet(byte(4+i), 1500), at(ms)); v != want {
			t.Errorf("packet %d at 1 ms: %v, want %v", 4+i, v, want)
		}
	}
	// At 4 ms the bottleneck is idle again: the queue is empty.
	for i, want := range []Verdict{Accepted, Accepted, Accepted, QueueFull} {
		if v := l.Enqueue(packet(byte(6+i), 1500), at(4*ms)); v != want {
			t.Errorf("packet %d at 4 ms: %v, want %v", 6+i, v, want)
		}
	}
	want := []delivery{{0, 11 * ms}, {1, 12 * ms}, {2, 13 * ms}, {4, 14 * ms}, {6, 15 * ms}, {7, 16 * ms}, {8, 17 * ms}}
	got := drain(t, l)
	if len(got) != len(want) {
		t.Fatalf("deliveries %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("delivery %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// binomialBound returns the range within k standard deviations of the mean
// of Binomial(n, p).
func binomialBound(n int, p, k float64) (lo, hi float64) {
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	return mean - k*sd, mean + k*sd
}

// verdicts offers n packets at the same instant to a link without rate or
// delay and returns what happened to each, draining as it goes.
func verdicts(t *testing.T, l *Link, n int) []Verdict {
	t.Helper()
	out := make([]Verdict, n)
	pkt := packet(0, 100)
	for i := range out {
		out[i] = l.Enqueue(pkt, t0)
		for {
			if _, ok := l.Dequeue(t0); !ok {
				break
			}
		}
	}
	return out
}

func TestRandomLoss(t *testing.T) {
	t.Parallel()
	const n = 100_000
	for _, p := range []float64{0.001, 0.01, 0.03, 0.5} {
		l := newLink(t, Config{Loss: p, Seed: 7})
		lost := 0
		for _, v := range verdicts(t, l, n) {
			if v == Lost {
				lost++
			} else if v != Accepted {
				t.Fatalf("loss %v: verdict %v, want accepted or lost", p, v)
			}
		}
		if lo, hi := binomialBound(n, p, 5); float64(lost) < lo || float64(lost) > hi {
			t.Errorf("loss %v: lost %d of %d, want %.0f..%.0f", p, lost, n, lo, hi)
		}
		st := l.Stats()
		if st.Lost != uint64(lost) || st.Delivered != uint64(n-lost) || st.Accepted != st.Delivered {
			t.Errorf("loss %v: stats %+v, want %d lost and %d delivered", p, st, lost, n-lost)
		}
	}
	for _, p := range []float64{0, 1} {
		l := newLink(t, Config{Loss: p})
		for i, v := range verdicts(t, l, 1000) {
			if want := map[float64]Verdict{0: Accepted, 1: Lost}[p]; v != want {
				t.Fatalf("loss %v, packet %d: %v, want %v", p, i, v, want)
			}
		}
	}
}

func TestSameSeedSameLosses(t *testing.T) {
	t.Parallel()
	cfg := Config{Loss: 0.1, Burst: GilbertElliott{P: 0.05, R: 0.3, LossBad: 1}, Seed: 42}
	a := verdicts(t, newLink(t, cfg), 5000)
	b := verdicts(t, newLink(t, cfg), 5000)
	cfg.Seed = 43
	c := verdicts(t, newLink(t, cfg), 5000)
	differ := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("packet %d: verdicts %v and %v with the same seed", i, a[i], b[i])
		}
		if a[i] != c[i] {
			differ++
		}
	}
	if differ == 0 {
		t.Errorf("seeds 42 and 43 gave the same 5000 verdicts")
	}
}

func TestGilbertElliottBursts(t *testing.T) {
	t.Parallel()
	const n = 400_000
	for _, tc := range []struct {
		desc string
		ge   GilbertElliott
	}{
		{"Gilbert: good never loses, bad always does", GilbertElliott{P: 0.01, R: 0.25, LossBad: 1}},
		{"long bursts", GilbertElliott{P: 0.002, R: 0.1, LossBad: 1}},
		{"single losses", GilbertElliott{P: 0.02, R: 1, LossBad: 1}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			l := newLink(t, Config{Burst: tc.ge, Seed: 3})
			lost, bursts, run := 0, 0, 0
			for _, v := range verdicts(t, l, n) {
				switch v {
				case BurstLost:
					lost++
					run++
				case Accepted:
					if run > 0 {
						bursts++
					}
					run = 0
				default:
					t.Fatalf("verdict %v, want accepted or burst lost", v)
				}
			}
			// With LossBad 1 and LossGood 0 a loss burst is one stay in the
			// bad state, geometric with mean 1/R; the stationary share of
			// the bad state is P/(P+R).
			wantBurst := 1 / tc.ge.R
			gotBurst := float64(lost) / float64(bursts)
			sdBurst := math.Sqrt((1-tc.ge.R)/(tc.ge.R*tc.ge.R)) / math.Sqrt(float64(bursts))
			if math.Abs(gotBurst-wantBurst) > 5*sdBurst+1e-9 {
				t.Errorf("mean burst length %.3f over %d bursts, want %.3f ± %.3f", gotBurst, bursts, wantBurst, 5*sdBurst)
			}
			wantRate := tc.ge.P / (tc.ge.P + tc.ge.R)
			if gotRate := float64(lost) / n; math.Abs(gotRate-wantRate) > 0.15*wantRate {
				t.Errorf("loss rate %.4f, want %.4f ± 15%%", gotRate, wantRate)
			}
			if st := l.Stats(); st.BurstLost != uint64(lost) {
				t.Errorf("Stats().BurstLost = %d, want %d", st.BurstLost, lost)
			}
		})
	}
}

func TestReorder(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	const n = 20_000
	const p = 0.1
	// One packet per millisecond; a held packet is 5.5 ms late, so the
	// next five packets overtake it whatever else is held.
	l := newLink(t, Config{Delay: 10 * ms, Reorder: Reorder{Probability: p, ExtraDelay: 5*ms + ms/2}, Seed: 11})
	for i := range n {
		pkt := binary.BigEndian.AppendUint32(nil, uint32(i))
		if v := l.Enqueue(pkt, at(time.Duration(i)*ms)); v != Accepted {
			t.Fatalf("packet %d: %v", i, v)
		}
	}
	late, delivered := 0, 0
	highest := -1
	for {
		next, ok := l.NextDelivery()
		if !ok {
			break
		}
		pkt, ok := l.Dequeue(next)
		if !ok {
			t.Fatalf("Dequeue(%v) found nothing although NextDelivery said so", next.Sub(t0))
		}
		delivered++
		i := int(binary.BigEndian.Uint32(pkt))
		onTime := at(time.Duration(i)*ms + 10*ms)
		switch {
		case next.Equal(onTime):
		case next.Equal(onTime.Add(5*ms + ms/2)):
			if i >= highest {
				t.Errorf("packet %d was held back but nothing overtook it", i)
			}
		default:
			t.Fatalf("packet %d delivered at %v, want %v or 5.5 ms later", i, next.Sub(t0), onTime.Sub(t0))
		}
		if i < highest {
			late++
		}
		highest = max(highest, i)
	}
	st := l.Stats()
	if delivered != n || st.Delivered != n {
		t.Errorf("delivered %d (stats %d), want %d", delivered, st.Delivered, n)
	}
	// The last packets have nobody behind them to overtake them.
	if late > int(st.Reordered) || int(st.Reordered)-late > 5 {
		t.Errorf("%d packets arrived after a later one, want Stats().Reordered = %d less at most 5 held at the end", late, st.Reordered)
	}
	if lo, hi := binomialBound(n, p, 5); float64(st.Reordered) < lo || float64(st.Reordered) > hi {
		t.Errorf("held back %d of %d packets, want %.0f..%.0f", st.Reordered, n, lo, hi)
	}
}

func TestSetConfigRestartsRandomSequence(t *testing.T) {
	t.Parallel()
	cfg := Config{Loss: 0.2, Burst: GilbertElliott{P: 0.05, R: 0.2, LossBad: 1}, Seed: 5}
	l := newLink(t, cfg)
	first := verdicts(t, l, 1000)
	if err := l.SetConfig(cfg); err != nil {
		t.Fatalf("SetConfig: %v", err)
	}
	second := verdicts(t, l, 1000)
	for i := range first {
		if first[i] != second[i] {
			t.Fatalf("packet %d: %v before SetConfig, %v after; want the same sequence again", i, first[i], second[i])
		}
	}

	bad := cfg
	bad.Loss = 2
	if err := l.SetConfig(bad); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("SetConfig with loss 2: %v, want ErrInvalidConfig", err)
	}
	if got := l.Config(); got != cfg {
		t.Errorf("after a rejected SetConfig, Config() = %+v, want %+v", got, cfg)
	}
}

func TestSetConfigKeepsHeldPackets(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	l := newLink(t, Config{Delay: 10 * ms})
	if v := l.Enqueue(packet(1, 100), t0); v != Accepted {
		t.Fatalf("packet 1: %v", v)
	}
	if err := l.SetConfig(Config{Delay: 2 * ms}); err != nil {
		t.Fatalf("SetConfig: %v", err)
	}
	if v := l.Enqueue(packet(2, 100), at(ms)); v != Accepted {
		t.Fatalf("packet 2: %v", v)
	}
	got := drain(t, l)
	want := []delivery{{2, 3 * ms}, {1, 10 * ms}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("deliveries %+v, want %+v", got, want)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		desc string
		cfg  Config
		ok   bool
	}{
		{"zero value", Config{}, true},
		{"typical path", Config{Delay: 25 * time.Millisecond, RateBitsPerSecond: 100e6, QueueLimitPackets: 100, Loss: 0.01,
			Burst: GilbertElliott{P: 0.01, R: 0.3, LossBad: 1}, Reorder: Reorder{0.01, time.Millisecond}}, true},
		{"negative delay", Config{Delay: -1}, false},
		{"delay too long", Config{Delay: MaxDelay + 1}, false},
		{"negative packet limit", Config{QueueLimitPackets: -1}, false},
		{"negative time limit", Config{QueueLimitTime: -1}, false},
		{"loss above 1", Config{Loss: 1.01}, false},
		{"negative loss", Config{Loss: -0.1}, false},
		{"NaN loss", Config{Loss: math.NaN()}, false},
		{"infinite loss", Config{Loss: math.Inf(1)}, false},
		{"NaN P", Config{Burst: GilbertElliott{P: math.NaN()}}, false},
		{"R above 1", Config{Burst: GilbertElliott{P: 0.1, R: 2}}, false},
		{"negative LossGood", Config{Burst: GilbertElliott{LossGood: -1}}, false},
		{"LossBad above 1", Config{Burst: GilbertElliott{LossBad: 1.5}}, false},
		{"reorder without extra delay", Config{Reorder: Reorder{Probability: 0.1}}, false},
		{"negative extra delay", Config{Reorder: Reorder{Probability: 0.1, ExtraDelay: -1}}, false},
		{"reorder probability above 1", Config{Reorder: Reorder{Probability: 1.1, ExtraDelay: 1}}, false},
	} {
		err := tc.cfg.Validate()
		if tc.ok && err != nil {
			t.Errorf("%s: Validate() = %v, want nil", tc.desc, err)
		}
		if !tc.ok && !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate() = %v, want ErrInvalidConfig", tc.desc, err)
		}
		if _, err := New(tc.cfg); (err == nil) != tc.ok {
			t.Errorf("%s: New error %v, want error: %v", tc.desc, err, !tc.ok)
		}
	}
}

func TestCapacityAndSizeLimits(t *testing.T) {
	t.Parallel()
	l := newLink(t, Config{Delay: time.Second})
	pkt := packet(0, 1)
	for i := range Capacity {
		if v := l.Enqueue(pkt, t0); v != Accepted {
			t.Fatalf("packet %d of %d: %v, want accepted", i, Capacity, v)
		}
	}
	if v := l.Enqueue(pkt, t0); v != Overflow {
		t.Errorf("packet beyond Capacity: %v, want overflow", v)
	}
	if v := l.Enqueue(make([]byte, MaxPacketSize+1), t0); v != TooLarge {
		t.Errorf("packet of %d bytes: %v, want too large", MaxPacketSize+1, v)
	}
	// Delivery makes room again.
	if _, ok := l.Dequeue(at(time.Second)); !ok {
		t.Fatalf("no packet due after the delay")
	}
	if v := l.Enqueue(make([]byte, MaxPacketSize), at(time.Second)); v != Accepted {
		t.Errorf("packet of %d bytes after a delivery: %v, want accepted", MaxPacketSize, v)
	}
	st := l.Stats()
	if st.Offered != Capacity+3 || st.Accepted != Capacity+1 || st.Overflow != 1 || st.TooLarge != 1 || st.Delivered != 1 {
		t.Errorf("stats %+v, want %d offered, %d accepted, 1 overflow, 1 too large, 1 delivered",
			st, Capacity+3, Capacity+1)
	}
	if st.OfferedBytes != (Capacity+1)+(MaxPacketSize+1)+MaxPacketSize || st.DeliveredBytes != 1 {
		t.Errorf("bytes: offered %d delivered %d", st.OfferedBytes, st.DeliveredBytes)
	}
}

func TestSteadyStateDoesNotAllocate(t *testing.T) {
	ms := time.Millisecond
	l := newLink(t, Config{Delay: 10 * ms, RateBitsPerSecond: 100e6, QueueLimitPackets: 100, Loss: 0.01,
		Burst: GilbertElliott{P: 0.01, R: 0.5, LossBad: 1}, Reorder: Reorder{0.01, ms}})
	pkt := packet(0, 1500)
	now := t0
	step := func() {
		now = now.Add(100 * time.Microsecond)
		l.Enqueue(pkt, now)
		for {
			if _, ok := l.Dequeue(now); !ok {
				break
			}
		}
		l.NextDelivery()
	}
	for range 10_000 {
		step()
	}
	if allocs := testing.AllocsPerRun(10_000, step); allocs != 0 {
		t.Errorf("%v allocations per packet in steady state, want 0", allocs)
	}
}

func TestVerdictString(t *testing.T) {
	t.Parallel()
	for v, want := range map[Verdict]string{
		Accepted: "accepted", Lost: "lost", BurstLost: "burst lost", QueueFull: "queue full",
		Overflow: "overflow", TooLarge: "too large", Verdict(42): "Verdict(42)",
	} {
		if got := v.String(); got != want {
			t.Errorf("Verdict(%d).String() = %q, want %q", int(v), got, want)
		}
	}
}

func BenchmarkLink(b *testing.B) {
	l, err := New(Config{Delay: 25 * time.Millisecond, RateBitsPerSecond: 100e6, QueueLimitPackets: 1000, Loss: 0.01})
	if err != nil {
		b.Fatal(err)
	}
	pkt := make([]byte, 1500)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(120 * time.Microsecond)
		l.Enqueue(pkt, now)
		for {
			if _, ok := l.Dequeue(now); !ok {
				break
			}
		}
	}
}
