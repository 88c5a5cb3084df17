package bench

import (
	"reflect"
	"testing"
	"time"
)

func TestSpreadOf(t *testing.T) {
	tests := []struct {
		desc string
		xs   []float64
		want Spread
	}{
		{desc: "no runs", xs: nil, want: Spread{}},
		{desc: "one run", xs: []float64{7}, want: Spread{Median: 7, Min: 7, Max: 7}},
		{desc: "odd count, unsorted", xs: []float64{300, 100, 200}, want: Spread{Median: 200, Min: 100, Max: 300}},
		{desc: "even count takes the mean of the middle two", xs: []float64{4, 1, 3, 10}, want: Spread{Median: 3.5, Min: 1, Max: 10}},
		{desc: "repeated values", xs: []float64{5, 5, 1}, want: Spread{Median: 5, Min: 1, Max: 5}},
	}
	for _, tt := range tests {
		xs := append([]float64(nil), tt.xs...)
		if got := spreadOf(tt.xs); got != tt.want {
			t.Errorf("%s: spreadOf(%v) = %+v, want %+v", tt.desc, tt.xs, got, tt.want)
		}
		if !reflect.DeepEqual(xs, tt.xs) {
			t.Errorf("%s: spreadOf reordered its input to %v", tt.desc, tt.xs)
		}
	}
}

// ok builds a successful Result with the figures Summarize looks at.
func ok(protocol string, mbps, cpu float64, ttfb time.Duration, retrans uint64) Result {
	return Result{Protocol: protocol, Bytes: 1 << 20, MBps: mbps, CPUSecondsPerGiB: cpu, TTFB: ttfb, Retransmitted: retrans, Detail: protocol + " detail"}
}

func failed(protocol, err string) Result {
	return Result{Protocol: protocol, Bytes: 12, Err: err}
}

func TestSummarize(t *testing.T) {
	// Alternating order, as Compare produces. Values are powers of two so
	// every median and ratio is exact.
	results := []Result{
		ok(ProtocolTCPCubic, 800, 0.25, 3*time.Millisecond, 0),
		ok(ProtocolTLS, 128, 1, 4*time.Millisecond, 10),
		failed(ProtocolLimpet, "first failure"),
		failed(ProtocolTCPBBR, "bbr refused"),
		ok(ProtocolTCPCubic, 200, 0.125, 1*time.Millisecond, 4),
		ok(ProtocolTLS, 64, 1, 2*time.Millisecond, 30),
		ok(ProtocolLimpet, 64, 4, 8*time.Millisecond, 100),
		failed(ProtocolTCPBBR, "bbr refused again"),
		ok(ProtocolTCPCubic, 400, 0.5, 2*time.Millisecond, 2),
		ok(ProtocolTLS, 256, 2, 6*time.Millisecond, 20),
		ok(ProtocolLimpet, 32, 1, 4*time.Millisecond, 300),
		failed(ProtocolLimpet, "second failure"),
	}
	want := []Summary{
		{
			Protocol: ProtocolTCPCubic, Runs: 3, Bytes: 1 << 20,
			MBps:             Spread{Median: 400, Min: 200, Max: 800},
			CPUSecondsPerGiB: Spread{Median: 0.25, Min: 0.125, Max: 0.5},
			TTFB:             2 * time.Millisecond, Retransmitted: 2,
			MBpsVsTCPCubic: 1, MBpsVsTLS: 3.125, CPUVsTCPCubic: 1, CPUVsTLS: 0.25,
			Detail: "tcp-cubic detail",
		},
		{
			Protocol: ProtocolTLS, Runs: 3, Bytes: 1 << 20,
			MBps:             Spread{Median: 128, Min: 64, Max: 256},
			CPUSecondsPerGiB: Spread{Median: 1, Min: 1, Max: 2},
			TTFB:             4 * time.Millisecond, Retransmitted: 20,
			MBpsVsTCPCubic: 0.32, MBpsVsTLS: 1, CPUVsTCPCubic: 4, CPUVsTLS: 1,
			Detail: "tls detail",
		},
		{
			// Two successes: medians are the means of the two.
			Protocol: ProtocolLimpet, Runs: 4, Failed: 2, Bytes: 1 << 20,
			MBps:             Spread{Median: 48, Min: 32, Max: 64},
			CPUSecondsPerGiB: Spread{Median: 2.5, Min: 1, Max: 4},
			TTFB:             6 * time.Millisecond, Retransmitted: 200,
			MBpsVsTCPCubic: 0.12, MBpsVsTLS: 0.375, CPUVsTCPCubic: 10, CPUVsTLS: 2.5,
			Detail: "limpet detail", Err: "first failure",
		},
		{
			// No success: no figures and no ratios.
			Protocol: ProtocolTCPBBR, Runs: 2, Failed: 2, Err: "bbr refused",
		},
	}
	got := Summarize(results)
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestSummarizeRatiosNeedReferences(t *testing.T) {
	tests := []struct {
		desc    string
		results []Result
		want    Summary
	}{
		{
			desc:    "no reference protocols measured",
			results: []Result{ok(ProtocolLimpet, 100, 2, 0, 0)},
			want: Summary{Protocol: ProtocolLimpet, Runs: 1, Bytes: 1 << 20, Detail: "limpet detail",
				MBps: Spread{100, 100, 100}, CPUSecondsPerGiB: Spread{2, 2, 2}},
		},
		{
			desc:    "references measured but every run failed",
			results: []Result{failed(ProtocolTCPCubic, "x"), failed(ProtocolTLS, "y"), ok(ProtocolLimpet, 100, 2, 0, 0)},
			want: Summary{Protocol: ProtocolLimpet, Runs: 1, Bytes: 1 << 20, Detail: "limpet detail",
				MBps: Spread{100, 100, 100}, CPUSecondsPerGiB: Spread{2, 2, 2}},
		},
		{
			desc:    "only TLS measured",
			results: []Result{ok(ProtocolTLS, 200, 1, 0, 0), ok(ProtocolLimpet, 100, 2, 0, 0)},
			want: Summary{Protocol: ProtocolLimpet, Runs: 1, Bytes: 1 << 20, Detail: "limpet detail",
				MBps: Spread{100, 100, 100}, CPUSecondsPerGiB: Spread{2, 2, 2},
				MBpsVsTLS: 0.5, CPUVsTLS: 2},
		},
	}
	for _, tt := range tests {
		rows := Summarize(tt.results)
		if got := rows[len(rows)-1]; got != tt.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.desc, got, tt.want)
		}
	}
}

func TestResultComplete(t *testing.T) {
	r := Result{Protocol: ProtocolTLS, Bytes: 3 * GiB}
	r.complete(2*time.Second, 1500*time.Millisecond)
	if want := 2.0; r.Seconds != want {
		t.Errorf("Seconds = %v, want %v", r.Seconds, want)
	}
	if want := 3 * 1073741824 / 1e6 / 2; r.MBps != want {
		t.Errorf("MBps = %v, want %v", r.MBps, want)
	}
	if want := 0.5; r.CPUSecondsPerGiB != want {
		t.Errorf("CPUSecondsPerGiB = %v, want %v", r.CPUSecondsPerGiB, want)
	}
}
