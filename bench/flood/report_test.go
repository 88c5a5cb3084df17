package flood

import (
	"strings"
	"testing"
	"time"
)

func TestTable(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	rep := Report{Rows: []Row{
		{
			Attack: Baseline, Measured: true,
			Dial: Latency{N: 150, P50: ms(2.83), P99: ms(12.3)}, DialAttempts: 150,
			Echo: Latency{N: 700, P50: ms(0.35), P99: ms(5.99)}, GoodputMbps: 8000, ServerCPU: 9.4,
			ServerRSS: 74 << 20, ServerHeap: 63 << 20, Notes: []string{"server accepted 26 conns"},
		},
		{
			Attack: UnknownKey, Measured: true, Offered: "4,714 dgram/s", Target: "5,500 dgram/s",
			Dial: Latency{N: 6, P50: ms(957), P99: 4660 * time.Millisecond}, DialAttempts: 6,
			Echo: Latency{N: 300, P50: ms(11.9), P99: ms(291)}, GoodputMbps: 152, ServerCPU: 50,
			ServerRSS: 77 << 20, ServerHeap: 6 << 20, Notes: []string{"server: allow-list", "a | b"},
		},
		{
			Attack: RetryAbandon, Measured: true, Offered: "985 hs/s",
			DialAttempts: 4, DialFailed: 4, GoodputMbps: -1, ServerCPU: -1,
		},
		{Attack: StaleToken, Measured: true, Err: "no token", Notes: []string{"server: RequireAddressValidation"}},
		{Attack: ResetOracle, Offered: "1 dgram", ServerRSS: 8 << 20, ServerHeap: 1 << 19, Notes: []string{"ORACLE"}},
	}}
	want := `| attack | rate offered | Dial p50 / p99 | echo RTT p50 / p99 | bulk Mbit/s | % of baseline | server CPU | server RSS / heap (peak) | failed Dials | notes |
|---|--:|--:|--:|--:|--:|--:|--:|--:|---|
| baseline | — | 2.83 ms / 12.3 ms | 0.35 ms / 5.99 ms | 8,000 | 100% | 9% | 74 MiB / 63 MiB | 0 / 150 | server accepted 26 conns |
| unknown-key | 4,714 dgram/s (of 5,500 dgram/s) | 957 ms / 4.66 s | 11.9 ms / 291 ms | 152 | 2% | 50% | 77 MiB / 6.0 MiB | 0 / 6 | server: allow-list; a \| b |
| retry-abandon | 985 hs/s | — | — | failed | — | — | — | 4 / 4 |  |
| stale-token | — | — | — | — | — | — | — | — | error: no token; server: RequireAddressValidation |
| reset-oracle | 1 dgram | — | — | — | — | — | 8.0 MiB / 0.5 MiB | — | ORACLE |
`
	if got := rep.Table(); got != want {
		t.Errorf("Table:\ngot:\n%s\nwant:\n%s", got, want)
	}
}

func TestMarkdownHeader(t *testing.T) {
	rep := Report{
		Label: "before (707ebc1)", Command: "qflood -duration 3s", Machine: "go1.26 linux/amd64, 2 CPUs.",
		Date: time.Date(2026, 12, 6, 22, 11, 0, 0, time.UTC), Plan: DefaultPlan(),
		Rows: []Row{{Attack: Baseline, Measured: true}},
	}
	got := rep.Markdown()
	for _, want := range []string{
		"## Flood harness: before (707ebc1), 2026-12-06 22:11:00 UTC\n\n",
		"`qflood -duration 3s`  \ngo1.26 linux/amd64, 2 CPUs.\n\n| attack |",
		"CPU 0", "CPU 1", "for 8s",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Markdown lacks %q; got:\n%s", want, got)
		}
	}
}

func TestFormat(t *testing.T) {
	durations := []struct {
		d    time.Duration
		want string
	}{
		{350 * time.Microsecond, "0.35 ms"},
		{2834 * time.Microsecond, "2.83 ms"},
		{12345 * time.Microsecond, "12.3 ms"},
		{291 * time.Millisecond, "291 ms"},
		{999 * time.Millisecond, "999 ms"},
		{time.Second, "1.00 s"},
		{4660 * time.Millisecond, "4.66 s"},
	}
	for _, test := range durations {
		if got := formatDuration(test.d); got != test.want {
			t.Errorf("formatDuration(%v) = %q, want %q", test.d, got, test.want)
		}
	}
	counts := []struct {
		v    float64
		want string
	}{{0, "0"}, {999.4, "999"}, {999.5, "1,000"}, {5500, "5,500"}, {1234567, "1,234,567"}, {-65536, "-65,536"}}
	for _, test := range counts {
		if got := formatCount(test.v); got != test.want {
			t.Errorf("formatCount(%v) = %q, want %q", test.v, got, test.want)
		}
	}
	bytes := []struct {
		n    int64
		want string
	}{{0, "0.0 MiB"}, {1 << 19, "0.5 MiB"}, {54 << 20, "54 MiB"}, {2058 << 20, "2,058 MiB"}, {12 << 30, "12.0 GiB"}}
	for _, test := range bytes {
		if got := formatBytes(test.n); got != test.want {
			t.Errorf("formatBytes(%d) = %q, want %q", test.n, got, test.want)
		}
	}
	if got, want := formatRate(5499.6, "dgram"), "5,500 dgram/s"; got != want {
		t.Errorf("formatRate = %q, want %q", got, want)
	}
}
