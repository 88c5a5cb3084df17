package bench

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestLineCollector(t *testing.T) {
	tests := []struct {
		desc       string
		writes     []string
		wantLines  []string
		wantFirst  bool
		wantErrAt  int // index of the write that must fail; -1 for none
		collectMax int
	}{
		{desc: "one line in one write", writes: []string{"listening on 127.0.0.1:1\n"},
			wantLines: []string{"listening on 127.0.0.1:1"}, wantFirst: true, wantErrAt: -1},
		{desc: "lines split across writes", writes: []string{"listen", "ing on x\n{", `"a":1}`, "\n"},
			wantLines: []string{"listening on x", `{"a":1}`}, wantFirst: true, wantErrAt: -1},
		{desc: "two lines in one write", writes: []string{"a\nb\n"},
			wantLines: []string{"a", "b"}, wantFirst: true, wantErrAt: -1},
		{desc: "unterminated line is returned but not first", writes: []string{"partial"},
			wantLines: []string{"partial"}, wantFirst: false, wantErrAt: -1},
		{desc: "empty line counts", writes: []string{"\n"},
			wantLines: []string{""}, wantFirst: true, wantErrAt: -1},
		{desc: "over the bound", writes: []string{"12345\n", "6789"}, collectMax: 8,
			wantLines: []string{"12345"}, wantFirst: true, wantErrAt: 1},
	}
	for _, tt := range tests {
		limit := tt.collectMax
		if limit == 0 {
			limit = 1 << 10
		}
		c := newLineCollector(limit)
		for i, w := range tt.writes {
			n, err := c.Write([]byte(w))
			if i == tt.wantErrAt {
				if !errors.Is(err, errPeerOutputTooLong) {
					t.Errorf("%s: write %d: got %d, %v; want errPeerOutputTooLong", tt.desc, i, n, err)
				}
				continue
			}
			if n != len(w) || err != nil {
				t.Errorf("%s: write %d of %d bytes: got %d, %v", tt.desc, i, len(w), n, err)
			}
		}
		if got := c.Lines(); !reflect.DeepEqual(got, tt.wantLines) {
			t.Errorf("%s: lines %q, want %q", tt.desc, got, tt.wantLines)
		}
		gotFirst := false
		select {
		case <-c.first:
			gotFirst = true
		default:
		}
		if gotFirst != tt.wantFirst {
			t.Errorf("%s: first line signalled %v, want %v", tt.desc, gotFirst, tt.wantFirst)
		}
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 16}
	b.Write([]byte("quicgo-peer: an early line\n"))
	b.Write([]byte("quicgo-peer:\tlast\n"))
	if got, want := b.String(), "peer: last"; !strings.HasSuffix(got, want) || len(got) > 16 {
		t.Errorf("String() = %q, want at most 16 bytes ending %q", got, want)
	}
	small := &tailBuffer{max: 64}
	small.Write([]byte("  read after 3 bytes:\n  EOF \n"))
	if got, want := small.String(), "read after 3 bytes: EOF"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
