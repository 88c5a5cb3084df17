package packet

import "slices"

// AckRange is an inclusive range of acknowledged packet numbers.
type AckRange struct {
	Smallest, Largest PacketNumber
}

// ECNCounts are the ECN counters an ACK_ECN frame (type 0x03) carries.
type ECNCounts struct {
	ECT0, ECT1, CE uint64
}

// AckFrame acknowledges packets (RFC 9000 §19.3). Ranges are in descending
// order, disjoint and non-adjacent: Ranges[0].Largest is the largest
// acknowledged packet number, and there is a gap of at least one
// unacknowledged packet between consecutive ranges.
type AckFrame struct {
	Ranges []AckRange
	// Delay is the encoded ACK Delay field: microseconds shifted right by the
	// sender's ack_delay_exponent.
	Delay uint64
	// HasECN marks an ACK_ECN frame; ECN is meaningful only then.
	HasECN bool
	ECN    ECNCounts
}

// Type is FrameAckECN when the frame carries ECN counts, else FrameAck.
func (f AckFrame) Type() FrameType {
	if f.HasECN {
		return FrameAckECN
	}
	return FrameAck
}

// LargestAcked is the largest acknowledged packet number, or
// InvalidPacketNumber for a frame without ranges.
func (f AckFrame) LargestAcked() PacketNumber {
	if len(f.Ranges) == 0 {
		return InvalidPacketNumber
	}
	return f.Ranges[0].Largest
}

// Len is the number of bytes Append writes. It does not check the ranges;
// a builder can call it on a frame it is still trimming to fit a packet.
func (f AckFrame) Len() int {
	if len(f.Ranges) == 0 {
		return 0
	}
	first := f.Ranges[0]
	n := 1 + VarintLen(uint64(first.Largest)) + VarintLen(f.Delay) +
		VarintLen(uint64(len(f.Ranges)-1)) + VarintLen(uint64(first.Largest-first.Smallest))
	prev := first.Smallest
	for _, r := range f.Ranges[1:] {
		n += VarintLen(uint64(prev-r.Largest-2)) + VarintLen(uint64(r.Largest-r.Smallest))
		prev = r.Smallest
	}
	if f.HasECN {
		n += VarintLen(f.ECN.ECT0) + VarintLen(f.ECN.ECT1) + VarintLen(f.ECN.CE)
	}
	return n
}

// Append appends the frame, as type 0x03 with the ECN counts if HasECN and
// as 0x02 otherwise. Ranges that break AckFrame's invariants (none at all,
// a range below 0 or upside down, ranges out of order, overlapping or
// adjacent) are the builder's bug and panic.
func (f AckFrame) Append(b []byte) []byte {
	f.mustBeValid()
	first := f.Ranges[0]
	b = append(b, byte(f.Type()))
	b = AppendVarint(b, uint64(first.Largest))
	b = AppendVarint(b, f.Delay)
	b = AppendVarint(b, uint64(len(f.Ranges)-1))
	b = AppendVarint(b, uint64(first.Largest-first.Smallest))
	prev := first.Smallest
	for _, r := range f.Ranges[1:] {
		// Gap counts the unacknowledged numbers between the ranges, minus
		// one (RFC 9000 §19.3.1).
		b = AppendVarint(b, uint64(prev-r.Largest-2))
		b = AppendVarint(b, uint64(r.Largest-r.Smallest))
		prev = r.Smallest
	}
	if f.HasECN {
		b = AppendVarint(b, f.ECN.ECT0)
		b = AppendVarint(b, f.ECN.ECT1)
		b = AppendVarint(b, f.ECN.CE)
	}
	return b
}

func (f AckFrame) mustBeValid() {
	if len(f.Ranges) == 0 {
		panic("packet: ACK frame without ranges")
	}
	if f.Ranges[0].Largest > MaxPacketNumber {
		panic("packet: ACK range above 2^62-1")
	}
	for i, r := range f.Ranges {
		if r.Smallest < 0 || r.Smallest > r.Largest {
			panic("packet: invalid ACK range")
		}
		if i > 0 && r.Largest >= f.Ranges[i-1].Smallest-1 {
			panic("packet: ACK ranges not descending with gaps")
		}
	}
}

// ParseAckFrame parses an ACK or ACK_ECN frame. It stores the ranges in
// ranges[:0], growing it only if it is too short, so a receiver that passes
// the same buffer each time parses without allocating; the returned
// frame's Ranges is that buffer.
//
// Validation is strict (docs/PROTOCOL.md section 5): the First ACK Range
// may not exceed Largest Acknowledged, no Gap or ACK Range Length may take a
// range below packet number 0, and the ACK Range Count may not exceed what
// the remaining bytes could hold (each range takes at least two). Such a
// frame returns a *FrameError wrapping ErrInvalidAckRange.
func ParseAckFrame(b []byte, ranges []AckRange) (AckFrame, int, error) {
	if len(b) == 0 {
		return AckFrame{}, 0, frameErr(FrameAck, ErrTruncated)
	}
	t := FrameType(b[0])
	if t != FrameAck && t != FrameAckECN {
		return AckFrame{}, 0, frameErr(FrameAck, ErrFrameTypeMismatch)
	}
	r := frameReader{b: b, off: 1}
	largest := r.varint()
	delay := r.varint()
	count := r.varint()
	firstLen := r.varint()
	if r.err != nil {
		return AckFrame{}, 0, frameErr(t, r.err)
	}
	if firstLen > largest || count > uint64(len(b)-r.off)/2 {
		return AckFrame{}, 0, frameErr(t, ErrInvalidAckRange)
	}
	smallest := largest - firstLen
	ranges = slices.Grow(ranges[:0], int(count)+1)
	ranges = append(ranges, AckRange{Smallest: PacketNumber(smallest), Largest: PacketNumber(largest)})
	for range count {
		gap := r.varint()
		length := r.varint()
		if r.err != nil {
			return AckFrame{}, 0, frameErr(t, r.err)
		}
		// The next range's largest is smallest − gap − 2; it and the
		// range's own smallest must stay at or above 0.
		if gap+2 > smallest {
			return AckFrame{}, 0, frameErr(t, ErrInvalidAckRange)
		}
		largest = smallest - gap - 2
		if length > largest {
			return AckFrame{}, 0, frameErr(t, ErrInvalidAckRange)
		}
		smallest = largest - length
		ranges = append(ranges, AckRange{Smallest: PacketNumber(smallest), Largest: PacketNumber(largest)})
	}
	f := AckFrame{Ranges: ranges, Delay: delay}
	if t == FrameAckECN {
		f.HasECN = true
		f.ECN.ECT0 = r.varint()
		f.ECN.ECT1 = r.varint()
		f.ECN.CE = r.varint()
		if r.err != nil {
			return AckFrame{}, 0, frameErr(t, r.err)
		}
	}
	return f, r.off, nil
}
