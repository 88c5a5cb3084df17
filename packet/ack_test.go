package packet

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseAckFrameReusesCallerSlice(t *testing.T) {
	f := AckFrame{Ranges: []AckRange{{50, 60}, {40, 45}, {10, 20}, {0, 5}}, Delay: 100}
	enc := f.Append(nil)
	buf := make([]AckRange, 1, 8)
	buf[0] = AckRange{Smallest: 999, Largest: 999} // stale content is overwritten
	got, n, err := ParseAckFrame(enc, buf)
	if err != nil || n != len(enc) {
		t.Fatalf("ParseAckFrame = %d, %v; want %d, nil", n, err, len(enc))
	}
	if !reflect.DeepEqual(got, f) {
		t.Errorf("parsed %+v, want %+v", got, f)
	}
	if &got.Ranges[0] != &buf[:1][0] {
		t.Error("ParseAckFrame did not store the ranges in the caller's slice")
	}
	// A slice that is too short is grown.
	got, _, err = ParseAckFrame(enc, make([]AckRange, 0, 1))
	if err != nil || !reflect.DeepEqual(got.Ranges, f.Ranges) {
		t.Errorf("with a short slice: %+v, %v", got.Ranges, err)
	}
}

func TestParseAckFrameValidation(t *testing.T) {
	v := func(vs ...uint64) []byte {
		var b []byte
		for _, x := range vs {
			b = AppendVarint(b, x)
		}
		return b
	}
	ack := func(fields ...uint64) []byte { return append([]byte{0x02}, v(fields...)...) }
	tests := []struct {
		desc string
		b    []byte
		want error // nil: valid
	}{
		{"first range down to 0", ack(10, 0, 0, 10), nil},
		{"first range below 0", ack(10, 0, 0, 11), ErrInvalidAckRange},
		{"gap down to exactly 0", ack(10, 0, 1, 0, 8, 0), nil},
		{"gap below 0", ack(10, 0, 1, 0, 9, 0), ErrInvalidAckRange},
		{"huge gap does not wrap", ack(10, 0, 1, 0, MaxVarint, 0), ErrInvalidAckRange},
		{"range length down to 0", ack(10, 0, 1, 0, 0, 8), nil},
		{"range length below 0", ack(10, 0, 1, 0, 0, 9), ErrInvalidAckRange},
		{"second gap below 0", ack(100, 0, 2, 0, 0, 0, 97, 0), ErrInvalidAckRange},
		{"range count beyond the bytes left", ack(100, 0, 3, 0, 0, 0, 0, 0), ErrInvalidAckRange},
		{"huge range count", ack(100, 0, MaxVarint, 0), ErrInvalidAckRange},
		{"ECN counts missing", append([]byte{0x03}, v(1, 0, 0, 0, 1, 2)...), ErrTruncated},
	}
	for _, tt := range tests {
		f, n, err := ParseAckFrame(tt.b, nil)
		if tt.want == nil {
			if err != nil || n != len(tt.b) {
				t.Errorf("%s: %d, %v; want %d, nil", tt.desc, n, err, len(tt.b))
				continue
			}
			checkAckRanges(t, f.Ranges)
			if last := f.Ranges[len(f.Ranges)-1]; last.Smallest != 0 {
				t.Errorf("%s: lowest range %+v, want it to reach 0", tt.desc, last)
			}
			continue
		}
		var fe *FrameError
		if !errors.Is(err, tt.want) || !errors.As(err, &fe) || fe.Type != FrameType(tt.b[0]) {
			t.Errorf("%s: err = %v, want a *FrameError{Type: %#x} wrapping %v", tt.desc, err, tt.b[0], tt.want)
		}
	}
}

// checkAckRanges checks AckFrame's invariants: non-empty, each range the
// right way up and at or above 0, descending with a gap between ranges.
func checkAckRanges(t testing.TB, rs []AckRange) {
	t.Helper()
	if len(rs) == 0 {
		t.Fatal("no ranges")
	}
	for i, r := range rs {
		if r.Smallest < 0 || r.Smallest > r.Largest || r.Largest > MaxPacketNumber {
			t.Fatalf("range %d is %+v", i, r)
		}
		if i > 0 && r.Largest >= rs[i-1].Smallest-1 {
			t.Fatalf("range %d %+v does not leave a gap below %+v", i, r, rs[i-1])
		}
	}
}

func TestAckFrameAppendPanicsOnBrokenInvariants(t *testing.T) {
	tests := []struct {
		desc   string
		ranges []AckRange
	}{
		{"no ranges", nil},
		{"upside-down range", []AckRange{{5, 4}}},
		{"negative smallest", []AckRange{{-1, 4}}},
		{"adjacent ranges", []AckRange{{5, 6}, {3, 4}}},
		{"overlapping ranges", []AckRange{{5, 6}, {3, 5}}},
		{"ascending ranges", []AckRange{{1, 2}, {5, 6}}},
		{"above 2^62-1", []AckRange{{0, MaxPacketNumber + 1}}},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Append did not panic", tt.desc)
				}
			}()
			AckFrame{Ranges: tt.ranges}.Append(nil)
		}()
	}
}

func TestAckFrameLargestAndLen(t *testing.T) {
	if got := (AckFrame{}).LargestAcked(); got != InvalidPacketNumber {
		t.Errorf("LargestAcked of an empty frame = %d, want InvalidPacketNumber", got)
	}
	if got := (AckFrame{}).Len(); got != 0 {
		t.Errorf("Len of an empty frame = %d, want 0", got)
	}
	f := AckFrame{Ranges: []AckRange{{7, 9}, {1, 2}}}
	if got := f.LargestAcked(); got != 9 {
		t.Errorf("LargestAcked = %d, want 9", got)
	}
}
