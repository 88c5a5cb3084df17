package congestion

import (
	"testing"
	"time"
)

type rttSample struct {
	latest    time.Duration
	ackDelay  time.Duration
	confirmed bool
}

// The expected values below are worked by hand from RFC 9002 §5.3:
//
//	first sample:  min = smoothed = latest, rttvar = latest/2
//	later samples: min = min(min, latest)
//	               ack_delay = min(ack_delay, max_ack_delay) once confirmed
//	               adjusted = latest − ack_delay if latest >= min + ack_delay
//	               rttvar = 3/4·rttvar + 1/4·|smoothed − adjusted|
//	               smoothed = 7/8·smoothed + 1/8·adjusted
//
// All chosen so that every step is exact in nanoseconds.
func TestRTTUpdate(t *testing.T) {
	tests := []struct {
		desc         string
		maxAckDelay  time.Duration // 0: leave the default (25 ms)
		samples      []rttSample
		wantSmoothed time.Duration
		wantVar      time.Duration
		wantMin      time.Duration
		wantLatest   time.Duration
	}{
		{
			desc:         "first sample ignores ack delay",
			samples:      []rttSample{{ms(100), ms(10), true}},
			wantSmoothed: ms(100), wantVar: ms(50), wantMin: ms(100), wantLatest: ms(100),
		},
		{
			// adjusted = 140 − 20 = 120; rttvar = (3·50 + 20)/4 = 42.5;
			// smoothed = (7·100 + 120)/8 = 102.5.
			desc:         "second sample subtracts ack delay",
			samples:      []rttSample{{ms(100), 0, false}, {ms(140), ms(20), true}},
			wantSmoothed: ms(102.5), wantVar: ms(42.5), wantMin: ms(100), wantLatest: ms(140),
		},
		{
			// Confirmed: 200 ms of claimed delay is clamped to 25 ms, so
			// adjusted = 175; rttvar = (150 + 75)/4 = 56.25;
			// smoothed = (700 + 175)/8 = 109.375.
			desc:         "ack delay clamped to the default max_ack_delay after confirmation",
			samples:      []rttSample{{ms(100), 0, false}, {ms(200), ms(200), true}},
			wantSmoothed: ms(109.375), wantVar: ms(56.25), wantMin: ms(100), wantLatest: ms(200),
		},
		{
			// Clamped to 40 ms: adjusted = 160; rttvar = (150 + 60)/4 = 52.5;
			// smoothed = (700 + 160)/8 = 107.5.
			desc:         "ack delay clamped to the peer's max_ack_delay",
			maxAckDelay:  ms(40),
			samples:      []rttSample{{ms(100), 0, false}, {ms(200), ms(200), true}},
			wantSmoothed: ms(107.5), wantVar: ms(52.5), wantMin: ms(100), wantLatest: ms(200),
		},
		{
			// Not clamped before confirmation, and 200 − 200 would fall
			// below min, so nothing is subtracted: adjusted = 200;
			// rttvar = (150 + 100)/4 = 62.5; smoothed = (700 + 200)/8 = 112.5.
			desc:         "unconfirmed delay that would undercut min is not subtracted",
			samples:      []rttSample{{ms(100), 0, false}, {ms(200), ms(200), false}},
			wantSmoothed: ms(112.5), wantVar: ms(62.5), wantMin: ms(100), wantLatest: ms(200),
		},
		{
			// Not clamped before confirmation: adjusted = 200 − 50 = 150;
			// rttvar = (150 + 50)/4 = 50; smoothed = (700 + 150)/8 = 106.25.
			desc:         "unconfirmed ack delay is used unclamped",
			samples:      []rttSample{{ms(100), 0, false}, {ms(200), ms(50), false}},
			wantSmoothed: ms(106.25), wantVar: ms(50), wantMin: ms(100), wantLatest: ms(200),
		},
		{
			// 105 < 100 + 10: adjusted = 105; rttvar = (150 + 5)/4 = 38.75;
			// smoothed = (700 + 105)/8 = 100.625.
			desc:         "ack delay not subtracted below min RTT",
			samples:      []rttSample{{ms(100), 0, false}, {ms(105), ms(10), true}},
			wantSmoothed: ms(100.625), wantVar: ms(38.75), wantMin: ms(100), wantLatest: ms(105),
		},
		{
			// min takes the raw sample (80), not 80 − 20; 80 < 80 + 20 so
			// adjusted = 80; rttvar = (150 + 20)/4 = 42.5;
			// smoothed = (700 + 80)/8 = 97.5.
			desc:         "min RTT falls to the raw sample",
			samples:      []rttSample{{ms(100), 0, false}, {ms(80), ms(20), true}},
			wantSmoothed: ms(97.5), wantVar: ms(42.5), wantMin: ms(80), wantLatest: ms(80),
		},
		{
			// Third sample 120 with no delay: rttvar = (3·42.5 + 22.5)/4 = 37.5;
			// smoothed = (7·97.5 + 120)/8 = 100.3125.
			desc:         "min RTT does not rise with later samples",
			samples:      []rttSample{{ms(100), 0, false}, {ms(80), ms(20), true}, {ms(120), 0, true}},
			wantSmoothed: ms(100.3125), wantVar: ms(37.5), wantMin: ms(80), wantLatest: ms(120),
		},
		{
			desc:         "negative sample is ignored, negative delay is zero",
			samples:      []rttSample{{ms(100), 0, false}, {-ms(5), 0, true}, {ms(100), -ms(30), true}},
			wantSmoothed: ms(100), wantVar: ms(37.5), wantMin: ms(100), wantLatest: ms(100),
		},
	}
	for _, tt := range tests {
		var r RTTStats
		if tt.maxAckDelay != 0 {
			r.SetMaxAckDelay(tt.maxAckDelay)
		}
		for _, s := range tt.samples {
			r.Update(s.latest, s.ackDelay, s.confirmed)
		}
		if got := r.Smoothed(); got != tt.wantSmoothed {
			t.Errorf("%s: Smoothed: got %v, want %v", tt.desc, got, tt.wantSmoothed)
		}
		if got := r.Var(); got != tt.wantVar {
			t.Errorf("%s: Var: got %v, want %v", tt.desc, got, tt.wantVar)
		}
		if got := r.Min(); got != tt.wantMin {
			t.Errorf("%s: Min: got %v, want %v", tt.desc, got, tt.wantMin)
		}
		if got := r.Latest(); got != tt.wantLatest {
			t.Errorf("%s: Latest: got %v, want %v", tt.desc, got, tt.wantLatest)
		}
		if !r.HasSample() {
			t.Errorf("%s: HasSample: got false, want true", tt.desc)
		}
	}
}

func TestRTTBeforeFirstSample(t *testing.T) {
	var r RTTStats
	if r.HasSample() || r.Samples() != 0 || r.Latest() != 0 || r.Min() != 0 {
		t.Fatalf("zero RTTStats: HasSample %v, Samples %d, Latest %v, Min %v; want false, 0, 0, 0", r.HasSample(), r.Samples(), r.Latest(), r.Min())
	}
	if got, want := r.Smoothed(), 333*time.Millisecond; got != want {
		t.Errorf("Smoothed: got %v, want %v", got, want)
	}
	if got, want := r.Var(), ms(166.5); got != want {
		t.Errorf("Var: got %v, want %v", got, want)
	}
	// 333 + max(4·166.5, 1) + 25 = 1024 ms.
	if got, want := r.PTO(r.MaxAckDelay()), 1024*time.Millisecond; got != want {
		t.Errorf("PTO: got %v, want %v", got, want)
	}

	r.SetInitialRTT(100 * time.Millisecond)
	if got, want := r.Smoothed(), 100*time.Millisecond; got != want {
		t.Errorf("Smoothed with a configured initial RTT: got %v, want %v", got, want)
	}
	r.SetInitialRTT(-time.Second)
	if got, want := r.InitialRTT(), DefaultInitialRTT; got != want {
		t.Errorf("InitialRTT after a negative setting: got %v, want %v", got, want)
	}
}

func TestPTO(t *testing.T) {
	tests := []struct {
		desc        string
		samples     []time.Duration
		maxAckDelay time.Duration
		want        time.Duration
	}{
		// 100 + 4·50 + 25.
		{desc: "one sample, application data", samples: []time.Duration{ms(100)}, maxAckDelay: ms(25), want: ms(325)},
		// Handshake spaces pass zero max_ack_delay.
		{desc: "one sample, handshake", samples: []time.Duration{ms(100)}, maxAckDelay: 0, want: ms(300)},
		// Identical samples shrink rttvar by 3/4 each: after 40 of them
		// 4·rttvar is far below 1 ms, so 10 + 1 ms.
		{desc: "steady path: variance floored at kGranularity", samples: flat(40, ms(10)), maxAckDelay: 0, want: ms(11)},
		{desc: "negative max_ack_delay counts as zero", samples: []time.Duration{ms(100)}, maxAckDelay: -ms(5), want: ms(300)},
	}
	for _, tt := range tests {
		var r RTTStats
		for _, s := range tt.samples {
			r.Update(s, 0, true)
		}
		if got := r.PTO(tt.maxAckDelay); got != tt.want {
			t.Errorf("%s: PTO(%v): got %v, want %v", tt.desc, tt.maxAckDelay, got, tt.want)
		}
	}
}

func TestRTTExpireMinAndReset(t *testing.T) {
	var r RTTStats
	r.ExpireMin() // no sample: nothing to do
	if r.Min() != 0 {
		t.Fatalf("ExpireMin without a sample set Min to %v", r.Min())
	}
	r.SetInitialRTT(50 * time.Millisecond)
	r.SetMaxAckDelay(ms(10))
	r.Update(ms(20), 0, true)
	r.Update(ms(90), 0, true)
	if got, want := r.Min(), ms(20); got != want {
		t.Fatalf("Min: got %v, want %v", got, want)
	}
	r.ExpireMin()
	if got, want := r.Min(), ms(90); got != want {
		t.Fatalf("Min after ExpireMin: got %v, want the latest sample %v", got, want)
	}
	if got, want := r.Samples(), uint64(2); got != want {
		t.Fatalf("Samples: got %d, want %d", got, want)
	}

	r.Reset()
	if r.HasSample() || r.Min() != 0 || r.Latest() != 0 {
		t.Fatalf("after Reset: HasSample %v, Min %v, Latest %v; want false, 0, 0", r.HasSample(), r.Min(), r.Latest())
	}
	if got, want := r.Smoothed(), 50*time.Millisecond; got != want {
		t.Errorf("Smoothed after Reset: got %v, want the configured initial RTT %v", got, want)
	}
	if got, want := r.MaxAckDelay(), ms(10); got != want {
		t.Errorf("MaxAckDelay after Reset: got %v, want %v", got, want)
	}
	r.Update(ms(30), 0, true)
	if got, want := r.Smoothed(), ms(30); got != want {
		t.Errorf("first sample after Reset: Smoothed %v, want %v", got, want)
	}
}
