package congestion

import (
	"math"
	"testing"
	"time"
)

// greedySend sends maximum-size datagrams from start as fast as the pacer
// allows until end and returns the bytes sent.
func greedySend(p *Pacer, start, end time.Time, size int) int {
	sent := 0
	now := start
	for {
		now = now.Add(p.TimeUntilSend(now))
		if now.After(end) {
			return sent
		}
		p.OnSent(now, size)
		sent += size
	}
}

func TestPacerReleasesRateTimesDuration(t *testing.T) {
	tests := []struct {
		desc      string
		size      int
		cwnd      int
		srtt      time.Duration
		slowStart bool
		duration  time.Duration
		wantRate  uint64 // bytes per second
		wantBurst int
	}{
		{desc: "congestion avoidance: 1.25·cwnd/srtt", size: 1400, cwnd: 125000, srtt: 100 * time.Millisecond,
			duration: time.Second, wantRate: 1562500, wantBurst: 14000},
		{desc: "slow start: 2·cwnd/srtt", size: 1400, cwnd: 125000, srtt: 100 * time.Millisecond, slowStart: true,
			duration: time.Second, wantRate: 2500000, wantBurst: 14000},
		{desc: "rate that is not a whole number of bytes per nanosecond", size: 1252, cwnd: 12520, srtt: 333 * time.Millisecond,
			duration: time.Second, wantRate: 46996, wantBurst: 12520},
		{desc: "very low rate: 300 B/s", size: 1200, cwnd: 2400, srtt: 10 * time.Second,
			duration: 100 * time.Second, wantRate: 300, wantBurst: 12000},
		{desc: "loopback: 6.25 GB/s, bucket of 4 ms", size: 1452, cwnd: 500000, srtt: 100 * time.Microsecond,
			duration: 20 * time.Millisecond, wantRate: 6250000000, wantBurst: 25000000},
	}
	for _, tt := range tests {
		p := NewPacer(tt.size)
		start := simEpoch
		p.SetRate(start, tt.cwnd, tt.srtt, tt.slowStart)
		if got := p.Rate(); got != tt.wantRate {
			t.Errorf("%s: Rate: got %d, want %d", tt.desc, got, tt.wantRate)
		}
		if got := p.Burst(); got != tt.wantBurst {
			t.Errorf("%s: Burst: got %d, want %d", tt.desc, got, tt.wantBurst)
		}
		// The bucket starts full, then refills at the exact (unrounded)
		// rate; the last datagram may or may not fit before the end.
		exact := float64(tt.cwnd) * map[bool]float64{false: 1.25, true: 2}[tt.slowStart] / tt.srtt.Seconds()
		want := float64(tt.wantBurst) + exact*tt.duration.Seconds()
		got := greedySend(p, start, start.Add(tt.duration), tt.size)
		if math.Abs(float64(got)-want) > float64(tt.size) {
			t.Errorf("%s: sent %d bytes in %v, want %.0f ± one datagram (%d)", tt.desc, got, tt.duration, want, tt.size)
		}
	}
}

func TestPacerBurstThenSpacing(t *testing.T) {
	const size = 1400
	p := NewPacer(size)
	now := simEpoch
	// 1.25 · 125000 B / 100 ms = 1.5625 B/µs: one datagram every 896 µs.
	p.SetRate(now, 125000, 100*time.Millisecond, false)
	for i := range PacerBurstDatagrams {
		if got := p.TimeUntilSend(now); got != 0 {
			t.Fatalf("datagram %d of the burst: wait %v, want 0", i+1, got)
		}
		p.OnSent(now, size)
	}
	if got, want := p.TimeUntilSend(now), 896*time.Microsecond; got != want {
		t.Fatalf("after the burst: wait %v, want %v", got, want)
	}
	if got, want := p.NextSendTime(now), now.Add(896*time.Microsecond); !got.Equal(want) {
		t.Fatalf("NextSendTime: got %v, want %v", got, want)
	}
	now = now.Add(895 * time.Microsecond)
	if got, want := p.TimeUntilSend(now), time.Microsecond; got != want {
		t.Fatalf("1 µs early: wait %v, want %v", got, want)
	}
	now = now.Add(time.Microsecond)
	if got := p.TimeUntilSend(now); got != 0 {
		t.Fatalf("on time: wait %v, want 0", got)
	}
	p.OnSent(now, size)
	if got, want := p.TimeUntilSend(now), 896*time.Microsecond; got != want {
		t.Fatalf("next datagram: wait %v, want %v", got, want)
	}
	// A long idle refills the bucket to the burst, not beyond.
	now = now.Add(time.Hour)
	sent := 0
	for p.TimeUntilSend(now) == 0 {
		p.OnSent(now, size)
		sent++
	}
	if sent != PacerBurstDatagrams {
		t.Fatalf("datagrams released after an hour idle: got %d, want %d", sent, PacerBurstDatagrams)
	}
}

func TestPacerRateChangeCreditsAccruedTokens(t *testing.T) {
	const size = 1400
	p := NewPacer(size)
	now := simEpoch
	p.SetRate(now, 125000, 100*time.Millisecond, false) // 1.5625 B/µs
	for range PacerBurstDatagrams {
		p.OnSent(now, size)
	}
	// 448 µs at the old rate earn 700 bytes; the other 700 at the doubled
	// rate take 224 µs.
	now = now.Add(448 * time.Microsecond)
	p.SetRate(now, 250000, 100*time.Millisecond, false)
	if got, want := p.TimeUntilSend(now), 224*time.Microsecond; got != want {
		t.Fatalf("wait after doubling the rate halfway: got %v, want %v", got, want)
	}
	// Calling SetRate again with the same values changes nothing.
	p.SetRate(now, 250000, 100*time.Millisecond, false)
	if got, want := p.TimeUntilSend(now), 224*time.Microsecond; got != want {
		t.Fatalf("wait after a repeated SetRate: got %v, want %v", got, want)
	}
}

func TestPacerCarriesFractionsAcrossRateChanges(t *testing.T) {
	// At 1/3000 byte per nanosecond, 1 µs earns a third of a byte. The
	// rate then doubles with a different RTT, so the pending third must be
	// re-expressed in the new units rather than dropped.
	p := NewPacer(1200)
	now := simEpoch
	p.SetRate(now, 4, 15*time.Microsecond, false) // 5·4 B / (4·15000 ns)
	for range PacerBurstDatagrams {
		p.OnSent(now, 1200)
	}
	now = now.Add(time.Microsecond)
	p.SetRate(now, 16, 30*time.Microsecond, false) // 2/3000 B/ns
	// 1200 B take 1.8 ms at the new rate, less the third of a byte
	// already earned (0.5 µs).
	if got, want := p.TimeUntilSend(now), 1799500*time.Nanosecond; got != want {
		t.Fatalf("wait: got %v, want %v", got, want)
	}
	now = now.Add(1799499 * time.Nanosecond)
	if got, want := p.TimeUntilSend(now), time.Nanosecond; got != want {
		t.Fatalf("wait 1 ns before: got %v, want %v", got, want)
	}
}

func TestPacerUnpaced(t *testing.T) {
	tests := []struct {
		desc  string
		setup func(p *Pacer, now time.Time)
	}{
		{desc: "zero value, never configured", setup: func(*Pacer, time.Time) {}},
		{desc: "zero window", setup: func(p *Pacer, now time.Time) { p.SetRate(now, 0, 100*time.Millisecond, false) }},
		{desc: "zero RTT", setup: func(p *Pacer, now time.Time) { p.SetRate(now, 12000, 0, false) }},
		{desc: "negative RTT", setup: func(p *Pacer, now time.Time) { p.SetRate(now, 12000, -time.Second, true) }},
		{desc: "reset after pacing", setup: func(p *Pacer, now time.Time) {
			p.SetRate(now, 12000, time.Second, false)
			p.Reset()
		}},
	}
	for _, tt := range tests {
		var p Pacer
		now := simEpoch
		tt.setup(&p, now)
		if got := p.Rate(); got != 0 {
			t.Errorf("%s: Rate: got %d, want 0 (unpaced)", tt.desc, got)
		}
		for i := range 1000 {
			if got := p.TimeUntilSend(now); got != 0 {
				t.Errorf("%s: datagram %d: wait %v, want 0", tt.desc, i, got)
				break
			}
			p.OnSent(now, 1500)
		}
	}
}

func TestPacerBeforeFirstRTTSample(t *testing.T) {
	var rtt RTTStats
	c := NewCubic(CubicOptions{})
	p := NewPacer(c.MaxDatagramSize())
	now := simEpoch
	p.SetRate(now, c.Window(), rtt.Smoothed(), c.InSlowStart())
	// 2 · 14720 B / 333 ms.
	if got, want := p.Rate(), uint64(88408); got != want {
		t.Fatalf("Rate with the initial RTT: got %d, want %d", got, want)
	}
	for range PacerBurstDatagrams {
		p.OnSent(now, c.MaxDatagramSize())
	}
	// 1252 B at 14720·8/(333 ms·4) B/ns: ceil(1252·1332e6/117760) ns.
	if got, want := p.TimeUntilSend(now), 14161549*time.Nanosecond; got != want {
		t.Fatalf("wait after the initial burst: got %v, want %v", got, want)
	}
}

func TestPacerExtremes(t *testing.T) {
	now := simEpoch
	p := NewPacer(1500)
	// A window of a terabyte over a nanosecond: the rate overflows bytes
	// per second, the bucket stays bounded, nothing panics.
	p.SetRate(now, math.MaxInt, time.Nanosecond, true)
	// Slow-start gain 2 over 1 ns: 2·window·10^9 bytes/s, which saturates
	// a uint64 when the window limit is 1 TiB (64-bit) but not when it is
	// 2^31−1 (32-bit).
	want := uint64(math.MaxUint64)
	if w := uint64(maxWindowLimit); w < math.MaxUint64/2_000_000_000 {
		want = 2 * w * 1e9
	}
	if got := p.Rate(); got != want {
		t.Errorf("Rate at an absurd window: got %d, want %d", got, want)
	}
	if got, want := p.Burst(), maxWindowLimit; got != want {
		t.Errorf("Burst at an absurd rate: got %d, want %d", got, want)
	}
	p.OnSent(now, 1500)
	if got := p.TimeUntilSend(now.Add(time.Nanosecond)); got != 0 {
		t.Errorf("wait at an absurd rate: got %v, want 0", got)
	}

	// The slowest rate: two datagrams over an hour-long RTT (longer RTTs
	// are treated as an hour), after a century of idleness.
	p = NewPacer(1500)
	p.SetRate(now, 3000, 100*365*24*time.Hour, false)
	if got, want := p.Rate(), uint64(1); got != want {
		t.Errorf("Rate: got %d, want %d", got, want)
	}
	later := now.Add(100 * 365 * 24 * time.Hour)
	if got := p.TimeUntilSend(later); got != 0 {
		t.Errorf("wait after a century idle: got %v, want 0", got)
	}
	for range PacerBurstDatagrams {
		p.OnSent(later, 1500)
	}
	// 1500 B at 15000 B per 1.44e13 ns take exactly 1440 s.
	if got, want := p.TimeUntilSend(later), 1440*time.Second; got != want {
		t.Errorf("wait at 1.04 B/s: got %v, want %v", got, want)
	}

	// Time going backwards neither credits nor panics.
	if got, want := p.TimeUntilSend(later.Add(-time.Hour)), 1440*time.Second; got != want {
		t.Errorf("wait when asked about an earlier time: got %v, want %v", got, want)
	}
}

func TestPacerDebtIsBounded(t *testing.T) {
	const size = 1400
	p := NewPacer(size)
	now := simEpoch
	p.SetRate(now, 125000, 100*time.Millisecond, false) // 1.5625 B/µs, bucket 14000
	// A hundred forced sends (PTO probes) overdraw the bucket, but by no
	// more than one bucket: then one datagram needs 15400 bytes of credit,
	// 9856 µs.
	for range 100 {
		p.OnSent(now, size)
	}
	if got, want := p.TimeUntilSend(now), 9856*time.Microsecond; got != want {
		t.Fatalf("wait after overdrawing: got %v, want %v", got, want)
	}
	p.OnSent(now, 0)
	p.OnSent(now, -5)
	if got, want := p.TimeUntilSend(now), 9856*time.Microsecond; got != want {
		t.Fatalf("wait after empty sends: got %v, want %v", got, want)
	}
}

func TestPacerSetMaxDatagramSize(t *testing.T) {
	tests := []struct {
		desc      string
		size      int
		wantBurst int
	}{
		{desc: "explicit", size: 1452, wantBurst: 14520},
		{desc: "non-positive selects the default", size: 0, wantBurst: 12520},
		{desc: "oversized is clamped", size: 1 << 30, wantBurst: 10 * MaxDatagramSizeLimit},
	}
	for _, tt := range tests {
		p := NewPacer(1200)
		p.SetMaxDatagramSize(tt.size)
		if got := p.Burst(); got != tt.wantBurst {
			t.Errorf("%s: Burst: got %d, want %d", tt.desc, got, tt.wantBurst)
		}
	}
}
