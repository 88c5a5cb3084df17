package qsend

import (
	"errors"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		desc string
		in   string
		want int64
	}{
		{desc: "plain bytes", in: "4096", want: 4096},
		{desc: "k", in: "64k", want: 64_000},
		{desc: "K", in: "64K", want: 64_000},
		{desc: "M", in: "50M", want: 50_000_000},
		{desc: "MB", in: "50MB", want: 50_000_000},
		{desc: "rate form", in: "50M/s", want: 50_000_000},
		{desc: "MB/s", in: "50MB/s", want: 50_000_000},
		{desc: "Mi", in: "8Mi", want: 8 << 20},
		{desc: "MiB", in: "8MiB", want: 8 << 20},
		{desc: "GiB", in: "1GiB", want: 1 << 30},
		{desc: "decimal", in: "1.5G", want: 1_500_000_000},
		{desc: "T", in: "2T", want: 2_000_000_000_000},
		{desc: "spaces", in: " 10M ", want: 10_000_000},
		{desc: "zero", in: "0", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseSizeRefuses(t *testing.T) {
	for _, in := range []string{"", "M", "-5M", "5X", "1.5", "0.1k1", "1e3", "10000000P", "9999999T", "5 M B s"} {
		if got, err := ParseSize(in); !errors.Is(err, ErrBadSize) {
			t.Errorf("ParseSize(%q) = %d, %v, want ErrBadSize", in, got, err)
		}
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{16_672_358, "15.9 MiB"},
		{1 << 30, "1.0 GiB"},
		{5 << 40, "5.0 TiB"},
	}
	for _, tt := range tests {
		if got := FormatSize(tt.in); got != tt.want {
			t.Errorf("FormatSize(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got, want := FormatRate(50_000_000, 2*time.Second), "25.0 MB/s"; got != want {
		t.Errorf("FormatRate = %q, want %q", got, want)
	}
}

func TestRateLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	l := newRateLimiter(1_000_000, 10_000, clock) // burst 100,000 bytes
	tests := []struct {
		desc    string
		advance time.Duration
		take    int
		want    time.Duration
	}{
		{desc: "burst is free", take: 100_000, want: 0},
		{desc: "beyond the burst waits for the debt", take: 50_000, want: 50 * time.Millisecond},
		{desc: "debt accumulates", take: 50_000, want: 100 * time.Millisecond},
		{desc: "time pays the debt", advance: 100 * time.Millisecond, take: 0, want: 0},
		{desc: "refill is capped at the burst", advance: time.Hour, take: 150_000, want: 50 * time.Millisecond},
	}
	for _, tt := range tests {
		now = now.Add(tt.advance)
		if got := l.reserve(tt.take); got != tt.want {
			t.Fatalf("%s: reserve(%d) = %v, want %v", tt.desc, tt.take, got, tt.want)
		}
	}
}
