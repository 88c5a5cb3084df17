package bench

import (
	"errors"
	"flag"
	"io"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		desc string
		in   string
		want int64
	}{
		{desc: "GiB", in: "1GiB", want: 1 << 30},
		{desc: "MiB", in: "256MiB", want: 256 << 20},
		{desc: "MB is 10^6 bytes", in: "100MB", want: 100_000_000},
		{desc: "KiB", in: "64KiB", want: 65536},
		{desc: "KB", in: "3KB", want: 3000},
		{desc: "GB", in: "2GB", want: 2_000_000_000},
		{desc: "TiB", in: "1TiB", want: 1 << 40},
		{desc: "bare number is bytes", in: "4096", want: 4096},
		{desc: "B suffix", in: "1500B", want: 1500},
		{desc: "units ignore case", in: "128mib", want: 128 << 20},
		{desc: "space before the unit", in: " 2 GiB ", want: 2 << 30},
		{desc: "exact fraction", in: "1.5GiB", want: 1610612736},
		{desc: "fraction of a decimal unit", in: "0.25MB", want: 250_000},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("%s: ParseSize(%q) = %d, %v; want %d, nil", tt.desc, tt.in, got, err, tt.want)
		}
	}
}

func TestParseSizeErrors(t *testing.T) {
	tests := []struct {
		desc string
		in   string
	}{
		{desc: "empty", in: ""},
		{desc: "unit only", in: "GiB"},
		{desc: "zero", in: "0"},
		{desc: "zero with unit", in: "0MiB"},
		{desc: "negative", in: "-1MB"},
		{desc: "two decimal points", in: "1.2.3MB"},
		{desc: "lone decimal point", in: ".MB"},
		{desc: "exponent", in: "1e9"},
		{desc: "unknown unit", in: "1XB"},
		{desc: "bits are not a unit", in: "1Mbit"},
		{desc: "fraction of a byte", in: "0.5B"},
		{desc: "fractional bytes from a unit", in: "1.0001KiB"},
		{desc: "overflows int64", in: "10000000TiB"},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if !errors.Is(err, ErrBadSize) {
			t.Errorf("%s: ParseSize(%q) = %d, %v; want an error wrapping ErrBadSize", tt.desc, tt.in, got, err)
		}
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		desc string
		n    int64
		want string
	}{
		{desc: "GiB", n: 1 << 30, want: "1 GiB"},
		{desc: "MiB", n: 128 << 20, want: "128 MiB"},
		{desc: "MiB beyond a GiB", n: 1536 << 20, want: "1536 MiB"},
		{desc: "MB", n: 100_000_000, want: "100 MB"},
		{desc: "KiB", n: 3072, want: "3 KiB"},
		{desc: "KB", n: 3000, want: "3 KB"},
		{desc: "a fraction of every unit", n: 1536, want: "1536 B"},
		{desc: "bytes", n: 1001, want: "1001 B"},
		{desc: "zero", n: 0, want: "0 B"},
	}
	for _, tt := range tests {
		if got := FormatSize(tt.n); got != tt.want {
			t.Errorf("%s: FormatSize(%d) = %q, want %q", tt.desc, tt.n, got, tt.want)
		}
	}
}

func TestSizeFlag(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	size := Size(1 << 30)
	fs.Var(&size, "size", "")
	if got, want := fs.Lookup("size").DefValue, "1 GiB"; got != want {
		t.Errorf("default shown as %q, want %q", got, want)
	}
	if err := fs.Parse([]string{"-size", "256MiB"}); err != nil {
		t.Fatal(err)
	}
	if got, want := int64(size), int64(256<<20); got != want {
		t.Errorf("after -size 256MiB: got %d, want %d", got, want)
	}
	if err := fs.Parse([]string{"-size", "12 parsecs"}); err == nil {
		t.Errorf("-size '12 parsecs' parsed; want an error")
	}
	if got, want := int64(size), int64(256<<20); got != want {
		t.Errorf("a bad -size changed the value to %d, want %d", got, want)
	}
}
