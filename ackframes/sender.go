package ackframes

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/limpetnet/limpet/packet"
)

// DefaultSkipPeriod is the average number of packet numbers a
// PacketNumberGenerator issues between two skipped ones. Skipping costs one
// extra ACK range now and then; one in a few hundred catches an optimistic
// ACKer within a few hundred packets (docs/PROTOCOL.md, "Packet numbers").
const DefaultSkipPeriod = 256

// skippedMemory is how many recently skipped numbers a generator remembers.
// With DefaultSkipPeriod that covers the last several thousand packets,
// more than an ACK frame's ranges usually span.
const skippedMemory = 32

// ErrAckUnsentPacket reports an ACK frame that acknowledges a packet number
// this endpoint never sent: one above the largest it sent, or one it
// skipped on purpose. A peer doing that is acknowledging packets it never
// received, to make us send faster ("optimistic ACK"); the transport closes
// the connection with PROTOCOL_VIOLATION (RFC 9000 §13.1, §21.4).
var ErrAckUnsentPacket = errors.New("ackframes: ACK of a packet number that was never sent")

// ErrPacketNumbersExhausted reports that a packet-number space has used
// every number up to 2^62-1; the connection cannot send in it any more and
// must close (RFC 9000 §12.3).
var ErrPacketNumbersExhausted = errors.New("ackframes: packet numbers exhausted")

// PacketNumberGenerator issues the packet numbers of one space in
// increasing order and skips one now and then at random, remembering the
// most recent skips, so that ValidateAck can tell when the peer
// acknowledges a packet that never existed.
//
// Randomness comes from the caller: a cryptographically seeded source in
// production (the peer must not predict the skips) and a fixed seed in
// tests. It is owned by the connection's goroutine.
type PacketNumberGenerator struct {
	next     packet.PacketNumber // next number Pop returns
	largest  packet.PacketNumber // largest number Pop returned
	nextSkip packet.PacketNumber // next number to skip; InvalidPacketNumber when skipping is off
	rng      *rand.Rand
	period   uint64

	skipped     [skippedMemory]packet.PacketNumber // ring of the latest skips
	skippedLen  int
	skippedNext int // ring index the next skip goes to
}

// NewPacketNumberGenerator returns a generator whose first number is 0 and
// which skips on average one number in every skipPeriod, drawing from src.
// A nil src or a skipPeriod below 2 disables skipping.
func NewPacketNumberGenerator(src rand.Source, skipPeriod int) *PacketNumberGenerator {
	g := &PacketNumberGenerator{largest: packet.InvalidPacketNumber, nextSkip: packet.InvalidPacketNumber}
	if src != nil && skipPeriod >= 2 {
		g.rng = rand.New(src)
		g.period = uint64(skipPeriod)
		g.scheduleSkip()
	}
	return g
}

// scheduleSkip picks the next number to skip, uniformly 1 to 2·period-1
// numbers after the next one to issue, so the mean distance is period and
// two skips are never adjacent.
func (g *PacketNumberGenerator) scheduleSkip() {
	g.nextSkip = g.next + 1 + packet.PacketNumber(g.rng.Uint64N(2*g.period-1))
}

// Peek returns the number the next Pop will return, which the transport
// needs to choose the packet-number encoding length before it builds the
// packet.
func (g *PacketNumberGenerator) Peek() packet.PacketNumber { return g.next }

// Pop issues the next packet number. The transport must send a packet
// with every number it pops: ValidateAck treats all popped numbers as sent.
func (g *PacketNumberGenerator) Pop() (packet.PacketNumber, error) {
	pn := g.next
	if pn > packet.MaxPacketNumber {
		return packet.InvalidPacketNumber, ErrPacketNumbersExhausted
	}
	g.largest = pn
	g.next++
	if g.next == g.nextSkip {
		g.skipped[g.skippedNext] = g.next
		g.skippedNext = (g.skippedNext + 1) % skippedMemory
		g.skippedLen = min(g.skippedLen+1, skippedMemory)
		g.next++
		g.scheduleSkip()
	}
	return pn, nil
}

// LargestSent is the largest number Pop has issued, or
// packet.InvalidPacketNumber before the first.
func (g *PacketNumberGenerator) LargestSent() packet.PacketNumber { return g.largest }

// IsSkipped reports whether pn is one of the recently skipped numbers.
func (g *PacketNumberGenerator) IsSkipped(pn packet.PacketNumber) bool {
	for i := 0; i < g.skippedLen; i++ {
		if g.skipped[i] == pn {
			return true
		}
	}
	return false
}

// ValidateAck checks that f acknowledges only packet numbers that were
// sent: none above LargestSent and none of the remembered skipped numbers.
// The error wraps ErrAckUnsentPacket. f's ranges must be in the descending
// order the ACK parser guarantees.
func (g *PacketNumberGenerator) ValidateAck(f packet.AckFrame) error {
	if len(f.Ranges) == 0 {
		return nil
	}
	if largest := f.Ranges[0].Largest; largest > g.largest {
		return fmt.Errorf("%w: %d is above the largest sent, %d", ErrAckUnsentPacket, largest, g.largest)
	}
	for i := 0; i < g.skippedLen; i++ {
		if pn := g.skipped[i]; rangesContain(f.Ranges, pn) {
			return fmt.Errorf("%w: %d was skipped", ErrAckUnsentPacket, pn)
		}
	}
	return nil
}

// rangesContain reports whether pn lies in one of ranges, which are in
// descending order.
func rangesContain(ranges []packet.AckRange, pn packet.PacketNumber) bool {
	// Find the first range whose Smallest is at or below pn.
	lo, hi := 0, len(ranges)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if ranges[mid].Smallest > pn {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo < len(ranges) && pn <= ranges[lo].Largest
}
