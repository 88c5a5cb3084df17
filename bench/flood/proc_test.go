package flood

import (
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		desc string
		stat string
		want time.Duration
		ok   bool
	}{
		{
			desc: "a plain name",
			stat: "4242 (qflood) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 3 0 100 1000000 2000 18446744073709551615",
			want: 3250 * time.Millisecond, ok: true,
		},
		{
			desc: "a name with spaces and parentheses",
			stat: "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 1 1 1 1",
			want: 30 * time.Millisecond, ok: true,
		},
		{desc: "no name", stat: "7 S 1 2 3", ok: false},
		{desc: "too few fields", stat: "7 (x) S 1 2 3", ok: false},
		{desc: "not a number", stat: "7 (x) S 1 7 7 0 -1 0 0 0 0 0 u 2 0", ok: false},
	}
	for _, test := range tests {
		got, err := parseStatCPU(test.stat)
		if test.ok && (err != nil || got != test.want) {
			t.Errorf("%s: parseStatCPU = %v, %v; want %v", test.desc, got, err, test.want)
		}
		if !test.ok && err == nil {
			t.Errorf("%s: parseStatCPU = %v, want an error", test.desc, got)
		}
	}
}

func TestParseStatusBytes(t *testing.T) {
	status := "Name:\tqflood\nVmPeak:\t 2000 kB\nVmHWM:\t   81920 kB\nVmRSS:\t   40960 kB\nThreads:\t7\n"
	for _, test := range []struct {
		field string
		want  int64
	}{{"VmRSS", 40 << 20}, {"VmHWM", 80 << 20}} {
		got, err := parseStatusBytes(status, test.field)
		if err != nil || got != test.want {
			t.Errorf("parseStatusBytes(%s) = %d, %v; want %d", test.field, got, err, test.want)
		}
	}
	if _, err := parseStatusBytes(status, "VmSwap"); err == nil {
		t.Error("parseStatusBytes of a missing field: got no error")
	}
	if _, err := parseStatusBytes(status, "Threads"); err == nil {
		t.Error("parseStatusBytes of a field without kB: got no error")
	}
}
