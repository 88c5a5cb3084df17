package packet

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestPacketNumberLen(t *testing.T) {
	tests := []struct {
		desc        string
		pn, largest PacketNumber
		want        int
	}{
		{"first packet, nothing acked", 0, InvalidPacketNumber, 1},
		{"127 unacked fits one byte", 126, InvalidPacketNumber, 1},
		{"128 unacked needs two bytes", 127, InvalidPacketNumber, 2},
		{"distance 127 from largest acked", 1127, 1000, 1},
		{"distance 128 from largest acked", 1128, 1000, 2},
		{"RFC 9000 A.2 example", 0xac5c02, 0xabe8b3, 2},
		{"distance 2^15-1", 1<<15 - 1, 0, 2},
		{"distance 2^15", 1 << 15, 0, 3},
		{"distance 2^23-1", 1<<23 - 1, 0, 3},
		{"distance 2^23", 1 << 23, 0, 4},
		{"distance beyond 4 bytes is capped", 1 << 40, 0, 4},
		{"largest packet number, nothing acked", MaxPacketNumber, InvalidPacketNumber, 4},
		{"near the top, recently acked", MaxPacketNumber, MaxPacketNumber - 1, 1},
		{"pn not above largest acked", 5, 9, 1},
	}
	for _, tt := range tests {
		if got := PacketNumberLen(tt.pn, tt.largest); got != tt.want {
			t.Errorf("%s: PacketNumberLen(%d, %d) = %d, want %d", tt.desc, tt.pn, tt.largest, got, tt.want)
		}
	}
}

func TestAppendAndParseTruncatedPacketNumber(t *testing.T) {
	tests := []struct {
		desc string
		pn   PacketNumber
		n    int
		want []byte
	}{
		{"one byte", 0x1234567, 1, []byte{0x67}},
		{"two bytes", 0x1234567, 2, []byte{0x45, 0x67}},
		{"three bytes", 0x1234567, 3, []byte{0x23, 0x45, 0x67}},
		{"four bytes", 0x1234567, 4, []byte{0x01, 0x23, 0x45, 0x67}},
		{"top of the range", MaxPacketNumber, 4, []byte{0xff, 0xff, 0xff, 0xff}},
	}
	for _, tt := range tests {
		got := AppendPacketNumber([]byte{0xee}, tt.pn, tt.n)
		if string(got[1:]) != string(tt.want) || got[0] != 0xee {
			t.Errorf("%s: AppendPacketNumber = %x, want ee%x", tt.desc, got, tt.want)
		}
		v, err := ParseTruncatedPacketNumber(got[1:], tt.n)
		if err != nil {
			t.Fatalf("%s: ParseTruncatedPacketNumber: %v", tt.desc, err)
		}
		mask := uint64(1)<<(8*tt.n) - 1
		if v != uint64(tt.pn)&mask {
			t.Errorf("%s: parsed %#x, want %#x", tt.desc, v, uint64(tt.pn)&mask)
		}
		for i := range tt.n {
			if _, err := ParseTruncatedPacketNumber(got[1:1+i], tt.n); !errors.Is(err, ErrTruncated) {
				t.Errorf("%s: %d-byte prefix: err = %v, want ErrTruncated", tt.desc, i, err)
			}
		}
	}
	for _, n := range []int{0, 5, -1} {
		if _, err := ParseTruncatedPacketNumber(make([]byte, 8), n); !errors.Is(err, ErrPacketNumberLen) {
			t.Errorf("ParseTruncatedPacketNumber(n=%d): err = %v, want ErrPacketNumberLen", n, err)
		}
	}
}

func TestDecodePacketNumber(t *testing.T) {
	tests := []struct {
		desc      string
		largest   PacketNumber
		truncated uint64
		n         int
		want      PacketNumber
	}{
		{"RFC 9000 A.3 example", 0xa82f30ea, 0x9b32, 2, 0xa82f9b32},
		{"first packet", InvalidPacketNumber, 0, 1, 0},
		{"first packets, small numbers", InvalidPacketNumber, 5, 1, 5},
		{"next expected", 10, 11, 1, 11},
		{"just behind, no wrap", 300, 0x2c, 1, 300},
		{"forward across a byte boundary", 0xff, 0x00, 1, 0x100},
		{"backward across a byte boundary", 0x100, 0xff, 1, 0xff},
		{"near 0, candidate must not go negative", 1, 0xff, 1, 0xff},
		{"near 0, far candidate stays", 0, 0x80, 1, 0x80},
		{"half window ahead is forward", 0x1ff, 0x80, 1, 0x280},
		{"beyond half window ahead goes back", 0x1ff, 0x81, 1, 0x181},
		{"near 2^62, not above the maximum", MaxPacketNumber - 1, 0xff, 1, MaxPacketNumber},
		{"near 2^62, wrap would exceed the maximum", MaxPacketNumber - 0x10, 0x00, 1, MaxPacketNumber - 0xff},
		{"largest is the maximum", MaxPacketNumber, 0x00, 1, MaxPacketNumber - 0xff},
		{"largest is the maximum, 4 bytes", MaxPacketNumber, 0xfffffffe, 4, MaxPacketNumber - 1},
		{"four-byte forward", 0x1_0000_0000, 0x0000_0005, 4, 0x1_0000_0005},
		{"four-byte backward", 0x1_0000_0005, 0xffff_fff0, 4, 0xffff_fff0},
		{"excess truncated bits ignored", 0x100, 0xab01, 1, 0x101},
	}
	for _, tt := range tests {
		if got := DecodePacketNumber(tt.largest, tt.truncated, tt.n); got != tt.want {
			t.Errorf("%s: DecodePacketNumber(%#x, %#x, %d) = %#x, want %#x",
				tt.desc, tt.largest, tt.truncated, tt.n, got, tt.want)
		}
	}
}

// TestPacketNumberEncodeDecode checks the property the two appendices
// promise together: a number sent with PacketNumberLen's length relative to
// the peer's largest acknowledged decodes back to itself at any receiver
// that has opened at least that packet and less than the number itself.
func TestPacketNumberEncodeDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 100000 {
		var largestAcked PacketNumber
		switch i % 3 {
		case 0:
			largestAcked = PacketNumber(rng.Int64N(1 << 16))
		case 1:
			largestAcked = PacketNumber(rng.Int64N(int64(MaxPacketNumber)))
		default:
			largestAcked = MaxPacketNumber - PacketNumber(rng.Int64N(1<<20)) - 1
		}
		maxDistance := int64(1) << (rng.IntN(31) + 1)
		pn := largestAcked + 1 + PacketNumber(rng.Int64N(maxDistance))
		if pn > MaxPacketNumber {
			pn = MaxPacketNumber
		}
		// The receiver has opened something between largestAcked and pn-1.
		received := largestAcked + PacketNumber(rng.Int64N(int64(pn-largestAcked)))
		n := PacketNumberLen(pn, largestAcked)
		b := AppendPacketNumber(nil, pn, n)
		trunc, err := ParseTruncatedPacketNumber(b, n)
		if err != nil {
			t.Fatal(err)
		}
		if got := DecodePacketNumber(received, trunc, n); got != pn {
			t.Fatalf("pn %#x, largest acked %#x, received %#x, len %d: decoded %#x",
				pn, largestAcked, received, n, got)
		}
	}
}
