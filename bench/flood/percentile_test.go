package flood

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		desc    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{desc: "no samples", samples: nil, p: 50, want: 0},
		{desc: "one sample is every percentile", samples: ms(7), p: 99, want: 7 * time.Millisecond},
		{desc: "median of an odd count is the middle", samples: ms(1, 2, 3, 4, 5), p: 50, want: 3 * time.Millisecond},
		{desc: "median of an even count is the lower middle (nearest rank)", samples: ms(1, 2, 3, 4), p: 50, want: 2 * time.Millisecond},
		{desc: "p99 of 100 is the 99th", samples: hundred, p: 99, want: 99 * time.Millisecond},
		{desc: "p50 of 100 is the 50th", samples: hundred, p: 50, want: 50 * time.Millisecond},
		{desc: "p99 of fewer than 100 is the largest", samples: ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), p: 99, want: 10 * time.Millisecond},
		{desc: "p100 is the largest", samples: ms(1, 2, 3), p: 100, want: 3 * time.Millisecond},
		{desc: "a tiny p is the smallest", samples: ms(1, 2, 3), p: 0.001, want: time.Millisecond},
	}
	for _, test := range tests {
		if got := percentile(test.samples, test.p); got != test.want {
			t.Errorf("%s: percentile(%v, %v) = %v, want %v", test.desc, test.samples, test.p, got, test.want)
		}
	}
}

func TestSummarizeSorts(t *testing.T) {
	samples := []time.Duration{5 * time.Millisecond, time.Millisecond, 3 * time.Millisecond}
	got := summarize(samples)
	want := Latency{N: 3, P50: 3 * time.Millisecond, P99: 5 * time.Millisecond, Max: 5 * time.Millisecond}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
	if got := summarize(nil); got != (Latency{}) {
		t.Errorf("summarize(nil) = %+v, want the zero Latency", got)
	}
}
