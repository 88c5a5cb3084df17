package packet

import (
	"bytes"
	"errors"
	"testing"
)

func TestVarintRoundTrip(t *testing.T) {
	tests := []struct {
		v    uint64
		want []byte
	}{
		{0, []byte{0x00}},
		{63, []byte{0x3f}},
		{64, []byte{0x40, 0x40}},
		{16383, []byte{0x7f, 0xff}},
		{16384, []byte{0x80, 0x00, 0x40, 0x00}},
		{1<<30 - 1, []byte{0xbf, 0xff, 0xff, 0xff}},
		{1 << 30, []byte{0xc0, 0, 0, 0, 0x40, 0, 0, 0}},
		{MaxVarint, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{151288809941952652, []byte{0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c}}, // RFC 9000 A.1
	}
	for _, tt := range tests {
		got := AppendVarint(nil, tt.v)
		if !bytes.Equal(got, tt.want) || VarintLen(tt.v) != len(tt.want) {
			t.Errorf("AppendVarint(%d) = %x (VarintLen %d), want %x", tt.v, got, VarintLen(tt.v), tt.want)
		}
		v, n, err := ParseVarint(append(bytes.Clone(tt.want), 0xaa))
		if err != nil || v != tt.v || n != len(tt.want) {
			t.Errorf("ParseVarint(%x) = %d, %d, %v; want %d, %d, nil", tt.want, v, n, err, tt.v, len(tt.want))
		}
		for i := range tt.want {
			if _, _, err := ParseVarint(tt.want[:i]); !errors.Is(err, ErrTruncated) {
				t.Errorf("ParseVarint(%x): err = %v, want ErrTruncated", tt.want[:i], err)
			}
		}
	}
}

func TestVarintWithLen(t *testing.T) {
	tests := []struct {
		v    uint64
		n    int
		want []byte
	}{
		{5, 2, []byte{0x40, 0x05}},
		{5, 4, []byte{0x80, 0, 0, 0x05}},
		{37, 8, []byte{0xc0, 0, 0, 0, 0, 0, 0, 37}},
		{16383, 2, []byte{0x7f, 0xff}},
	}
	for _, tt := range tests {
		got := AppendVarintWithLen(nil, tt.v, tt.n)
		if !bytes.Equal(got, tt.want) {
			t.Errorf("AppendVarintWithLen(%d, %d) = %x, want %x", tt.v, tt.n, got, tt.want)
		}
		// Non-minimal encodings are accepted when parsing values.
		if v, n, err := ParseVarint(got); err != nil || v != tt.v || n != tt.n {
			t.Errorf("ParseVarint(%x) = %d, %d, %v", got, v, n, err)
		}
	}
	for _, tt := range []struct {
		v uint64
		n int
	}{{64, 1}, {16384, 2}, {1 << 30, 4}, {1, 3}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("AppendVarintWithLen(%d, %d) did not panic", tt.v, tt.n)
				}
			}()
			AppendVarintWithLen(nil, tt.v, tt.n)
		}()
	}
}

func TestConnectionID(t *testing.T) {
	c, err := NewConnectionID(seqBytes(20))
	if err != nil || c.Len() != 20 || !bytes.Equal(c.Bytes(), seqBytes(20)) || c.String() != "0102030405060708090a0b0c0d0e0f1011121314" {
		t.Errorf("20-byte ID: %v, %v", c, err)
	}
	if _, err := NewConnectionID(seqBytes(21)); !errors.Is(err, ErrConnIDLen) {
		t.Errorf("21-byte ID: err = %v, want ErrConnIDLen", err)
	}
	a, _ := NewConnectionID([]byte{1, 2})
	b, _ := NewConnectionID([]byte{1, 2, 0})
	if a == b {
		t.Error("IDs of different lengths compare equal")
	}
}

func TestStreamID(t *testing.T) {
	tests := []struct {
		num         uint64
		server, bid bool
		want        StreamID
	}{
		{0, false, true, 0},
		{0, true, true, 1},
		{0, false, false, 2},
		{0, true, false, 3},
		{5, true, false, 23},
	}
	for _, tt := range tests {
		id := NewStreamID(tt.num, tt.server, tt.bid)
		if id != tt.want || id.Num() != tt.num || id.ServerInitiated() != tt.server || id.Bidirectional() != tt.bid {
			t.Errorf("NewStreamID(%d, %v, %v) = %d", tt.num, tt.server, tt.bid, id)
		}
	}
}
