package ackframes

import (
	"math"
	"testing"
	"time"

	"github.com/limpetnet/limpet/packet"
)

func TestEncodeAckDelay(t *testing.T) {
	tests := []struct {
		desc     string
		d        time.Duration
		exponent uint8
		want     uint64
	}{
		{desc: "25 ms, default exponent", d: ms(25), exponent: 3, want: 3125},
		{desc: "exponent 0 is whole microseconds", d: 1500 * time.Microsecond, exponent: 0, want: 1500},
		{desc: "rounds down", d: 15 * time.Microsecond, exponent: 3, want: 1},
		{desc: "below one unit", d: 7 * time.Microsecond, exponent: 3, want: 0},
		{desc: "maximum exponent", d: 2 * time.Second, exponent: 20, want: 1},
		{desc: "negative", d: -ms(1), exponent: 3, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := EncodeAckDelay(tt.d, tt.exponent); got != tt.want {
				t.Errorf("EncodeAckDelay(%v, %d) = %d, want %d", tt.d, tt.exponent, got, tt.want)
			}
		})
	}
}

func TestDecodeAckDelay(t *testing.T) {
	tests := []struct {
		desc     string
		field    uint64
		exponent uint8
		want     time.Duration
	}{
		{desc: "default exponent", field: 3125, exponent: 3, want: ms(25)},
		{desc: "exponent 0", field: 1500, exponent: 0, want: 1500 * time.Microsecond},
		{desc: "maximum exponent", field: 1, exponent: 20, want: (1 << 20) * time.Microsecond},
		{desc: "largest varint saturates", field: packet.MaxVarint, exponent: 20, want: math.MaxInt64},
		{desc: "largest varint, exponent 0, saturates", field: packet.MaxVarint, exponent: 0, want: math.MaxInt64},
		{desc: "absurd exponent saturates", field: 1, exponent: 200, want: math.MaxInt64},
		{desc: "zero", field: 0, exponent: 200, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := DecodeAckDelay(tt.field, tt.exponent); got != tt.want {
				t.Errorf("DecodeAckDelay(%d, %d) = %v, want %v", tt.field, tt.exponent, got, tt.want)
			}
		})
	}
}
