package ackframes

import "github.com/limpetnet/limpet/packet"

// DefaultMaxAckRanges is the number of disjoint packet-number ranges a
// RangeSet remembers when none is configured. An ACK frame seldom has room
// for more, and each extra range costs the peer's loss detector work; 64
// ranges still describe the holes left by heavy reordering or loss.
const DefaultMaxAckRanges = 64

// RangeSet is the set of packet numbers a receiver has opened in one
// packet-number space, kept as disjoint, non-adjacent ranges sorted in
// increasing order.
//
// The number of ranges is bounded because the peer controls which numbers
// arrive: a peer that sends only every other number would otherwise make the
// set grow without limit. When an insertion would exceed the bound, the
// lowest range is forgotten and the set remembers a floor: every number below
// it counts as already seen, so a duplicate of a forgotten packet is still
// rejected. A packet that arrives below the floor is treated as a duplicate
// even if it never arrived before; its sender will have declared it lost long
// ago and resent its frames in newer packets.
//
// The ranges live in a slice allocated once with the full capacity, so
// Add never allocates after the first call. The zero value is an empty set
// with DefaultMaxAckRanges.
type RangeSet struct {
	ranges []packet.AckRange // increasing, disjoint, non-adjacent; cap == limit
	limit  int
	floor  packet.PacketNumber // numbers below floor are forgotten and count as seen
}

// NewRangeSet returns an empty set that keeps at most maxRanges ranges.
// maxRanges below 1 selects DefaultMaxAckRanges.
func NewRangeSet(maxRanges int) *RangeSet {
	s := &RangeSet{}
	s.init(maxRanges)
	return s
}

func (s *RangeSet) init(maxRanges int) {
	if maxRanges < 1 {
		maxRanges = DefaultMaxAckRanges
	}
	s.limit = maxRanges
	s.ranges = make([]packet.AckRange, 0, min(maxRanges, 4)) // grows to limit as gaps appear
}

// Add records pn and reports whether it is new. It returns false for a
// number already in the set or below Floor, which the receiver must treat
// as a duplicate. Negative numbers are never valid packet numbers and are
// rejected as well.
//
// A new number that lies in a gap below all remembered ranges when the set
// is full is accepted, but at once forgotten again by raising the floor
// above it: the packet is processed, yet it will not appear in ACK frames.
func (s *RangeSet) Add(pn packet.PacketNumber) bool {
	if s.ranges == nil {
		s.init(0)
	}
	if pn < s.floor {
		return false
	}
	n := len(s.ranges)
	if n == 0 {
		s.ranges = append(s.ranges, packet.AckRange{Smallest: pn, Largest: pn})
		return true
	}
	// The common case: the next packet in sequence, or a new highest range.
	top := &s.ranges[n-1]
	switch {
	case pn == top.Largest+1:
		top.Largest = pn
		return true
	case pn > top.Largest+1:
		s.insert(n, pn)
		return true
	}
	// i is the first range that ends at pn-1 or later: the range that holds
	// pn, ends just below it, or is the first one above it. It exists,
	// because the top range ends at pn-1 or later.
	i := s.searchEnd(pn - 1)
	r := &s.ranges[i]
	switch {
	case r.Smallest <= pn && pn <= r.Largest:
		return false
	case r.Largest+1 == pn:
		r.Largest = pn
		if i+1 < n && s.ranges[i+1].Smallest == pn+1 {
			r.Largest = s.ranges[i+1].Largest
			s.ranges = append(s.ranges[:i+1], s.ranges[i+2:]...)
		}
		return true
	case r.Smallest == pn+1:
		// The range below ends at pn-2 or lower (else i would point at
		// it), so there is nothing to merge with.
		r.Smallest = pn
		return true
	default:
		s.insert(i, pn)
		return true
	}
}

// insert places the single-number range {pn, pn} at index i, forgetting the
// lowest range first if the set is full.
func (s *RangeSet) insert(i int, pn packet.PacketNumber) {
	r := packet.AckRange{Smallest: pn, Largest: pn}
	if len(s.ranges) < s.limit {
		s.ranges = append(s.ranges, packet.AckRange{})
		copy(s.ranges[i+1:], s.ranges[i:])
		s.ranges[i] = r
		return
	}
	if i == 0 {
		// The new range would be the lowest, so it is the one to forget.
		s.raiseFloor(pn + 1)
		return
	}
	s.raiseFloor(s.ranges[0].Largest + 1)
	copy(s.ranges, s.ranges[1:i])
	s.ranges[i-1] = r
}

func (s *RangeSet) raiseFloor(f packet.PacketNumber) {
	if f > s.floor {
		s.floor = f
	}
}

// searchEnd returns the index of the first range whose Largest is at least
// pn, or len(ranges) if there is none.
func (s *RangeSet) searchEnd(pn packet.PacketNumber) int {
	lo, hi := 0, len(s.ranges)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s.ranges[mid].Largest < pn {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// Contains reports whether pn is in one of the remembered ranges. Numbers
// below Floor are not reported even if they once arrived; use Seen for
// duplicate detection.
func (s *RangeSet) Contains(pn packet.PacketNumber) bool {
	i := s.searchEnd(pn)
	return i < len(s.ranges) && s.ranges[i].Smallest <= pn
}

// Seen reports whether a packet numbered pn must be treated as a duplicate:
// it is in the set, or below Floor, or negative.
func (s *RangeSet) Seen(pn packet.PacketNumber) bool {
	return pn < s.floor || s.Contains(pn)
}

// SmallestMissingAbove is the smallest number above f, at or above Floor,
// that is missing from the set while a larger number is in it: the lowest
// hole above f. ok is false when there is none.
func (s *RangeSet) SmallestMissingAbove(f packet.PacketNumber) (pn packet.PacketNumber, ok bool) {
	start := max(f+1, s.floor, 0)
	i := s.searchEnd(start)
	switch {
	case i == len(s.ranges):
		return 0, false // start is above every number in the set
	case s.ranges[i].Smallest > start:
		return start, true
	case i+1 < len(s.ranges):
		return s.ranges[i].Largest + 1, true
	}
	return 0, false
}

// Floor is the lowest number the set still tracks; all numbers below it
// count as seen. It is 0 until the set first forgets a range.
func (s *RangeSet) Floor() packet.PacketNumber { return s.floor }

// Len is the number of ranges.
func (s *RangeSet) Len() int { return len(s.ranges) }

// At returns the i-th range counting down from the top: At(0) holds the
// largest number received. This is the order in which ACK frames list
// ranges. It panics if i is out of range, like a slice index.
func (s *RangeSet) At(i int) packet.AckRange {
	return s.ranges[len(s.ranges)-1-i]
}

// Largest is the largest number in the set, or packet.InvalidPacketNumber
// if the set is empty.
func (s *RangeSet) Largest() packet.PacketNumber {
	if len(s.ranges) == 0 {
		return packet.InvalidPacketNumber
	}
	return s.ranges[len(s.ranges)-1].Largest
}
