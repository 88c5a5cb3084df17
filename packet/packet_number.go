package packet

import "errors"

// PacketNumber is a full 62-bit packet number. Each number space counts up
// from 0 and never reuses a number (docs/PROTOCOL.md, "Packet numbers").
type PacketNumber int64

// InvalidPacketNumber marks "no packet yet", e.g. nothing acknowledged.
const InvalidPacketNumber PacketNumber = -1

// MaxPacketNumber is the largest packet number (2^62-1).
const MaxPacketNumber PacketNumber = MaxVarint

// MaxPacketNumberLen is the longest truncated packet number on the wire.
const MaxPacketNumberLen = 4

// ErrPacketNumberLen reports a packet-number length outside 1..4.
var ErrPacketNumberLen = errors.New("packet: packet number length not in 1..4")

// PacketNumberLen is how many bytes a sender needs to send pn truncated so
// that the receiver can still reconstruct it: enough to represent twice the
// distance from the largest number the peer has acknowledged (RFC 9000
// §17.1 and appendix A.2). largestAcked may be InvalidPacketNumber when the
// peer has acknowledged nothing in this space yet.
//
// The result is capped at 4 bytes. A sender with more than 2^31 packets in
// flight cannot be decoded unambiguously; limpet's sent-packet history is
// far smaller than that.
func PacketNumberLen(pn, largestAcked PacketNumber) int {
	var unacked uint64
	if largestAcked < 0 {
		unacked = uint64(pn) + 1
	} else if pn > largestAcked {
		unacked = uint64(pn - largestAcked)
	} else {
		return 1
	}
	// The window of an n-byte number is 2^(8n); the receiver decodes
	// correctly while the number lies within half of it from its guess.
	switch {
	case unacked < 1<<7:
		return 1
	case unacked < 1<<15:
		return 2
	case unacked < 1<<23:
		return 3
	default:
		return 4
	}
}

// AppendPacketNumber appends the n low-order bytes of pn, big-endian. n must
// be 1..4 (a caller's choice, normally PacketNumberLen's); anything else
// panics.
func AppendPacketNumber(b []byte, pn PacketNumber, n int) []byte {
	switch n {
	case 1:
		return append(b, byte(pn))
	case 2:
		return append(b, byte(pn>>8), byte(pn))
	case 3:
		return append(b, byte(pn>>16), byte(pn>>8), byte(pn))
	case 4:
		return append(b, byte(pn>>24), byte(pn>>16), byte(pn>>8), byte(pn))
	default:
		panic("packet: packet number length not in 1..4")
	}
}

// ParseTruncatedPacketNumber reads an n-byte truncated packet number from
// the start of b, once header protection has been removed and n is known
// from the first byte (PacketNumberLenFromByte0).
func ParseTruncatedPacketNumber(b []byte, n int) (uint64, error) {
	if n < 1 || n > MaxPacketNumberLen {
		return 0, ErrPacketNumberLen
	}
	if len(b) < n {
		return 0, ErrTruncated
	}
	var v uint64
	for _, c := range b[:n] {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

// DecodePacketNumber reconstructs a full packet number from its n-byte
// truncated form: the candidate closest to one more than largest, the
// largest number successfully opened in this space so far
// (InvalidPacketNumber before the first). It follows RFC 9000 appendix A.3,
// including its guards that keep the result within 0..2^62-1: near 0 a
// candidate is never moved below 0, and near 2^62 it is never moved above
// MaxPacketNumber.
//
// n must be 1..4 (it comes from the two packet-number-length bits); anything
// else panics. Bits of truncated above n bytes are ignored.
func DecodePacketNumber(largest PacketNumber, truncated uint64, n int) PacketNumber {
	if n < 1 || n > MaxPacketNumberLen {
		panic("packet: packet number length not in 1..4")
	}
	if largest < InvalidPacketNumber {
		largest = InvalidPacketNumber
	}
	expected := int64(largest) + 1
	win := int64(1) << (8 * n)
	hwin := win / 2
	mask := win - 1
	candidate := expected&^mask | int64(truncated)&mask
	switch {
	case candidate <= expected-hwin && candidate < int64(MaxPacketNumber)+1-win:
		candidate += win
	case candidate > expected+hwin && candidate >= win:
		candidate -= win
	}
	// When largest is MaxPacketNumber, expected is 2^62 and the candidate's
	// high bits already exceed the range; the only representable answer is
	// one window lower.
	if candidate > int64(MaxPacketNumber) {
		candidate -= win
	}
	return PacketNumber(candidate)
}
