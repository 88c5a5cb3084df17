package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		desc    string
		args    []string
		want    options
		wantErr string // empty: the command line is good
	}{
		{desc: "server defaults", args: []string{"server", "-size", "10"},
			want: options{mode: "server", listen: "127.0.0.1:0", size: 10, timeout: 5 * time.Minute}},
		{desc: "client", args: []string{"client", "-addr", "[2001:2::1]:443", "-size", "1", "-timeout", "3s"},
			want: options{mode: "client", addr: "[2001:2::1]:443", size: 1, timeout: 3 * time.Second}},
		{desc: "no mode", args: nil, wantErr: "server|client"},
		{desc: "unknown mode", args: []string{"relay", "-size", "1"}, wantErr: "server|client"},
		{desc: "size missing", args: []string{"server"}, wantErr: "-size 0, want > 0"},
		{desc: "negative timeout", args: []string{"server", "-size", "1", "-timeout", "-1s"}, wantErr: "-timeout -1s"},
		{desc: "client without address", args: []string{"client", "-size", "1"}, wantErr: "client needs -addr"},
		{desc: "server has no -addr", args: []string{"server", "-size", "1", "-addr", "x"}, wantErr: "flag provided but not defined"},
		{desc: "stray argument", args: []string{"server", "-size", "1", "extra"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		got, err := parseArgs(tt.args, io.Discard)
		if tt.wantErr == "" {
			if err != nil || got != tt.want {
				t.Errorf("%s: parseArgs(%q) = %+v, %v; want %+v", tt.desc, tt.args, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: parseArgs(%q) error %v, want one mentioning %q", tt.desc, tt.args, err, tt.wantErr)
		}
	}
}

func TestDrain(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		desc    string
		r       io.Reader
		size    int64
		wantN   int64
		wantErr error
	}{
		{desc: "exact", r: strings.NewReader(strings.Repeat("x", 1000)), size: 1000, wantN: 1000},
		{desc: "one byte at a time", r: iotest.OneByteReader(strings.NewReader("abc")), size: 3, wantN: 3},
		{desc: "short", r: strings.NewReader("abc"), size: 4, wantN: 3, wantErr: io.ErrUnexpectedEOF},
		{desc: "too long", r: strings.NewReader("abcde"), size: 4, wantN: 5, wantErr: errTooMuch},
		{desc: "read error", r: iotest.ErrReader(boom), size: 4, wantN: 0, wantErr: boom},
	}
	for _, tt := range tests {
		n, first, err := drain(tt.r, tt.size)
		if n != tt.wantN || !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: drain = %d, %v; want %d, %v", tt.desc, n, err, tt.wantN, tt.wantErr)
		}
		if gotFirst := !first.IsZero(); gotFirst != (n > 0) {
			t.Errorf("%s: first byte time set = %v after %d bytes", tt.desc, gotFirst, n)
		}
	}
}

func TestLogWarningsAreBounded(t *testing.T) {
	var w logWarnings
	for range maxWarnings + 3 {
		w.Write([]byte("quicgo-peer: quic-go: " + strings.Repeat("w", 2*maxWarningSize) + "\n"))
	}
	lines := w.Lines()
	if len(lines) != maxWarnings || len(lines[0]) != maxWarningSize || strings.HasPrefix(lines[0], "quicgo-peer") {
		t.Errorf("got %d warnings, the first %d bytes long; want %d of %d bytes without the log prefix",
			len(lines), len(lines[0]), maxWarnings, maxWarningSize)
	}
}

func TestUnixNano(t *testing.T) {
	if got := unixNano(time.Time{}); got != 0 {
		t.Errorf("unixNano(zero time) = %d, want 0", got)
	}
	if got := unixNano(time.Unix(1, 5)); got != 1e9+5 {
		t.Errorf("unixNano(1 s + 5 ns) = %d, want 1000000005", got)
	}
}
