package bench

import (
	"encoding/json"
	"testing"
	"time"
)

func TestFormatMarkdown(t *testing.T) {
	rows := []Summary{
		{
			Protocol: ProtocolTCPCubic, Runs: 3, Bytes: 1 << 30,
			MBps:             Spread{Median: 8388.4, Min: 8012.6, Max: 8501},
			CPUSecondsPerGiB: Spread{Median: 0.214, Min: 0.2, Max: 0.236},
			TTFB:             1234567 * time.Nanosecond, Retransmitted: 0,
			MBpsVsTCPCubic: 1, MBpsVsTLS: 4.284, CPUVsTCPCubic: 1, CPUVsTLS: 0.228,
			Detail: "cc cubic",
		},
		{
			Protocol: ProtocolLimpet, Runs: 3, Failed: 1, Bytes: 1 << 30,
			MBps:             Spread{Median: 13.64, Min: 5.071, Max: 99.94},
			CPUSecondsPerGiB: Spread{Median: 3.5, Min: 3.25, Max: 4},
			TTFB:             850 * time.Microsecond, Retransmitted: 123456,
			MBpsVsTCPCubic: 0.0016, MBpsVsTLS: 0.007, CPUVsTCPCubic: 16.35, CPUVsTLS: 3.72,
			Detail: "srtt 45µs", Err: "client write: a | b\nsecond line",
		},
		{Protocol: ProtocolTCPBBR, Runs: 3, Failed: 3, Err: "listen: setting TCP_CONGESTION=bbr: no such file or directory"},
	}
	want := "| protocol | MB/s | MB/s range | CPU s/GiB | CPU range | TTFB | retrans B | MB/s vs cubic | MB/s vs TLS | CPU vs cubic | CPU vs TLS | ok/runs | detail | error |\n" +
		"|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|\n" +
		"| tcp-cubic | 8388 | 8013–8501 | 0.21 | 0.20–0.24 | 1.235ms | 0 | 1.00 | 4.28 | 1.00 | 0.23 | 3/3 | cc cubic |  |\n" +
		"| limpet | 13.6 | 5.07–99.9 | 3.50 | 3.25–4.00 | 850µs | 123456 | 0.00 | 0.01 | 16.35 | 3.72 | 2/3 | srtt 45µs | client write: a \\| b second line |\n" +
		"| tcp-bbr | — | — | — | — | — | — | — | — | — | — | 0/3 |  | listen: setting TCP_CONGESTION=bbr: no such file or directory |\n"
	if got := FormatMarkdown(rows); got != want {
		t.Errorf("FormatMarkdown:\n got:\n%s\nwant:\n%s", got, want)
	}
}

func TestFormatMarkdownMissingReference(t *testing.T) {
	rows := []Summary{{
		Protocol: ProtocolLimpet, Runs: 1, Bytes: 1 << 20,
		MBps: Spread{Median: 512, Min: 512, Max: 512}, CPUSecondsPerGiB: Spread{Median: 2, Min: 2, Max: 2},
		TTFB: time.Millisecond,
	}}
	want := markdownHeader + "| limpet | 512 | 512–512 | 2.00 | 2.00–2.00 | 1ms | 0 | — | — | — | — | 1/1 |  |  |\n"
	if got := FormatMarkdown(rows); got != want {
		t.Errorf("FormatMarkdown:\n got:\n%s\nwant:\n%s", got, want)
	}
}

func TestFormatMBps(t *testing.T) {
	tests := []struct {
		desc string
		v    float64
		want string
	}{
		{desc: "hundreds and up: whole numbers", v: 8388.49, want: "8388"},
		{desc: "exactly 100", v: 100, want: "100"},
		{desc: "tens: one decimal", v: 13.64, want: "13.6"},
		{desc: "units: two decimals", v: 5.071, want: "5.07"},
		{desc: "zero", v: 0, want: "0.00"},
	}
	for _, tt := range tests {
		if got := formatMBps(tt.v); got != tt.want {
			t.Errorf("%s: formatMBps(%v) = %q, want %q", tt.desc, tt.v, got, tt.want)
		}
	}
}

func TestResultJSON(t *testing.T) {
	r := Result{
		Protocol: ProtocolTLS, Bytes: 1 << 20, Seconds: 0.5, MBps: 2.097152, CPUSecondsPerGiB: 1.25,
		TTFB: 1500 * time.Microsecond, Retransmitted: 7, Detail: "TLS_AES_128_GCM_SHA256, cc bbr",
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"protocol":"tls","bytes":1048576,"seconds":0.5,"mb_per_s":2.097152,"cpu_s_per_gib":1.25,"ttfb_ns":1500000,"retransmitted_bytes":7,"detail":"TLS_AES_128_GCM_SHA256, cc bbr"}`
	if string(b) != want {
		t.Errorf("json.Marshal:\n got %s\nwant %s", b, want)
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != r {
		t.Errorf("round trip: got %+v, want %+v", back, r)
	}
}
