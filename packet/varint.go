package packet

import "errors"

// MaxVarint is the largest value a variable-length integer can hold (2^62-1).
const MaxVarint = 1<<62 - 1

// ErrTruncated reports input that ends before the encoded item does.
var ErrTruncated = errors.New("packet: truncated input")

// ErrVarintRange reports a value above MaxVarint given to an encoder that
// must not silently truncate it.
var ErrVarintRange = errors.New("packet: value exceeds 2^62-1")

// VarintLen is the number of bytes AppendVarint uses for v (RFC 9000 §16).
// Values above MaxVarint are a programming error; they report 8.
func VarintLen(v uint64) int {
	switch {
	case v < 1<<6:
		return 1
	case v < 1<<14:
		return 2
	case v < 1<<30:
		return 4
	default:
		return 8
	}
}

// AppendVarint appends v in the shortest variable-length encoding. It panics
// if v > MaxVarint: callers validate values that come from outside.
func AppendVarint(b []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v))
	case v < 1<<14:
		return append(b, 0x40|byte(v>>8), byte(v))
	case v < 1<<30:
		return append(b, 0x80|byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	case v <= MaxVarint:
		return append(b, 0xc0|byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
			byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	default:
		panic("packet: varint out of range")
	}
}

// AppendVarintWithLen appends v using exactly n bytes (1, 2, 4 or 8), which
// lets a length field be reserved before its value is known. It panics if v
// does not fit in n bytes.
func AppendVarintWithLen(b []byte, v uint64, n int) []byte {
	if VarintLen(v) > n {
		panic("packet: varint does not fit the requested length")
	}
	switch n {
	case 1:
		return append(b, byte(v))
	case 2:
		return append(b, 0x40|byte(v>>8), byte(v))
	case 4:
		return append(b, 0x80|byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	case 8:
		return append(b, 0xc0|byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
			byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	default:
		panic("packet: invalid varint length")
	}
}

// ParseVarint decodes a variable-length integer from the start of b and
// reports how many bytes it used. Non-minimal encodings are accepted, as in
// RFC 9000.
func ParseVarint(b []byte) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, ErrTruncated
	}
	n := 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, 0, ErrTruncated
	}
	v := uint64(b[0] & 0x3f)
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
	}
	return v, n, nil
}
