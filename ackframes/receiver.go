package ackframes

import (
	"time"

	"github.com/limpetnet/limpet/packet"
)

// DefaultMaxAckDelay is the longest a receiver holds back an ACK for a lone
// ack-eliciting packet when none is configured: the max_ack_delay transport
// parameter's default (RFC 9000 §18.2; docs/PROTOCOL.md, "Transport
// parameters").
const DefaultMaxAckDelay = 25 * time.Millisecond

// DefaultAckElicitingThreshold is how many ack-eliciting packets may arrive
// without an ACK going out at once: the next one sends it, so every second
// packet is acknowledged, as RFC 9000 §13.2.2 recommends, until the peer asks
// for another policy with ACK_FREQUENCY (docs/PROTOCOL.md section 5, "ACK
// frequency").
const DefaultAckElicitingThreshold = 1

// Receiver is the receive side of one packet-number space: it remembers
// which packets arrived, rejects duplicates, decides when an ACK frame is
// due (RFC 9000 §13.2.1–13.2.2) and builds it.
//
// The ACK policy: an ACK is due at once when more ack-eliciting packets
// than the threshold (1 unless SetAckFrequency changed it) have arrived
// since the last ACK, or when an ack-eliciting packet arrives out of order
// (below the largest received, filling a gap) or above a gap (packets
// missing just below it), because in both cases the sender's loss
// detection needs to know quickly; other reordering thresholds than RFC
// 9000's 1 change the last two (reordered). Fewer ack-eliciting packets
// are acknowledged within max_ack_delay, unless the transport asks for it
// at once (AckNow, OnCongestionExperienced).
// Packets that are not ack-eliciting are recorded and included in the next
// ACK, but never cause one by themselves; otherwise two endpoints could
// acknowledge each other's ACKs forever.
//
// Create one with NewReceiver; the zero value is not usable. A Receiver is
// owned by the connection's goroutine and is not safe for concurrent use.
// It does not allocate after construction.
type Receiver struct {
	received    RangeSet
	maxAckDelay time.Duration
	// threshold and reordering are the peer's ACK_FREQUENCY requests.
	threshold  uint64
	reordering uint64

	largest     packet.PacketNumber // largest number received, InvalidPacketNumber before the first
	largestTime time.Time           // when the largest arrived; the ACK Delay is measured from it
	// largestEliciting is the largest ack-eliciting number received, and
	// lastAcked the Largest Acknowledged of the last ACK sent; both
	// InvalidPacketNumber before the first.
	largestEliciting packet.PacketNumber
	lastAcked        packet.PacketNumber
	lastCE           bool // the last packet received was marked CE

	// reportFloor is the largest acknowledged number of an ACK frame the peer
	// has acknowledged (RFC 9000 §13.2.4). Numbers at or below it are no
	// longer reported, only remembered for duplicate detection.
	reportFloor packet.PacketNumber

	// ACK scheduling since the last ACK frame was sent.
	unacked           bool      // some reportable packet arrived
	ackElicitingCount uint64    // ack-eliciting reportable packets that arrived
	deadline          time.Time // when the ACK is due; zero when none is
}

// NewReceiver returns a Receiver that acknowledges a lone ack-eliciting
// packet within maxAckDelay (our own max_ack_delay transport parameter)
// and remembers up to maxRanges ranges of packet numbers.
//
// Pass 0 for maxAckDelay in the Initial space, whose ack-eliciting packets
// must be acknowledged immediately (RFC 9000 §13.2.1); a negative value
// also means 0. maxRanges below 1 selects DefaultMaxAckRanges.
func NewReceiver(maxAckDelay time.Duration, maxRanges int) *Receiver {
	r := &Receiver{
		maxAckDelay: max(maxAckDelay, 0),
		threshold:   DefaultAckElicitingThreshold,
		reordering:  1,
		largest:     packet.InvalidPacketNumber,
		reportFloor: packet.InvalidPacketNumber,

		largestEliciting: packet.InvalidPacketNumber,
		lastAcked:        packet.InvalidPacketNumber,
	}
	r.received.init(maxRanges)
	return r
}

// OnPacketReceived records a packet that was opened successfully and
// reports whether it is a duplicate. The transport must discard a duplicate
// without processing its frames: it is either a copy the network made or a
// replay.
//
// ackEliciting says whether the packet carried any frame other than ACK,
// PADDING and CONNECTION_CLOSE (docs/PROTOCOL.md, "Frames").
func (r *Receiver) OnPacketReceived(pn packet.PacketNumber, ackEliciting bool, now time.Time) (duplicate bool) {
	if !r.received.Add(pn) {
		return true
	}
	prevLargest := r.largest
	if pn > r.largest {
		r.largest = pn
		r.largestTime = now
	}
	if pn <= r.reportFloor {
		// A late packet below what we have stopped reporting: process it,
		// but it will not appear in ACKs, so it must not schedule one.
		return false
	}
	r.unacked = true
	if !ackEliciting {
		return false
	}
	r.ackElicitingCount++
	r.largestEliciting = max(r.largestEliciting, pn)
	switch {
	case r.ackElicitingCount > r.threshold || r.reordered(pn, prevLargest):
		r.setDeadline(now)
	case r.deadline.IsZero():
		r.setDeadline(now.Add(r.maxAckDelay))
	}
	return false
}

// reordered reports whether ack-eliciting packet pn, just recorded, must be
// acknowledged at once for the sender's loss detection (docs/PROTOCOL.md
// section 5, "ACK frequency"). With reordering threshold 1 that is RFC
// 9000's rule: pn arrived out of order or above a gap. With a threshold R
// above 1 it is the ACK frequency draft's: a hole at least R below the
// largest ack-eliciting number that the last ACK did not already leave
// declarable as lost, or pn at least R below that ACK's largest (a packet
// the sender may have declared lost spuriously). With 0, never.
func (r *Receiver) reordered(pn, prevLargest packet.PacketNumber) bool {
	switch R := r.reordering; {
	case R == 0:
		return false
	case R == 1:
		return pn < prevLargest || pn > prevLargest+1
	case R > uint64(packet.MaxPacketNumber):
		return false // no gap is ever that large
	default:
		reported := packet.InvalidPacketNumber
		if r.lastAcked != packet.InvalidPacketNumber {
			reported = r.lastAcked - packet.PacketNumber(R)
			if pn <= reported {
				return true
			}
		}
		hole, ok := r.received.SmallestMissingAbove(reported)
		return ok && hole < r.largestEliciting && r.largestEliciting-hole >= packet.PacketNumber(R)
	}
}

// SetAckFrequency applies the peer's ACK_FREQUENCY request: an ACK goes
// out once more than threshold ack-eliciting packets have arrived, within
// maxAckDelay otherwise, and at once for reordering as reordered says
// (docs/PROTOCOL.md section 5, "ACK frequency"). A scheduled ACK whose
// deadline the new delay brings forward, or whose count the new threshold
// already passed, becomes due accordingly.
func (r *Receiver) SetAckFrequency(threshold uint64, maxAckDelay time.Duration, reordering uint64) {
	maxAckDelay = max(maxAckDelay, 0)
	if !r.deadline.IsZero() && maxAckDelay < r.maxAckDelay {
		r.deadline = r.deadline.Add(maxAckDelay - r.maxAckDelay)
	}
	r.threshold = threshold
	r.maxAckDelay = maxAckDelay
	r.reordering = reordering
	if r.ackElicitingCount > r.threshold {
		r.setDeadline(r.largestTime)
	}
}

// OnCongestionExperienced notes whether the packet just recorded was
// marked CE, and if it is ack-eliciting makes the ACK due at once when it
// is the first marked after an unmarked one, or every time under RFC 9000's
// policy (threshold 1 or less), as the ACK frequency draft has it: the
// sender should hear of congestion at once, but a run of marks need not
// multiply ACKs.
func (r *Receiver) OnCongestionExperienced(ce, ackEliciting bool, now time.Time) {
	if ce && ackEliciting && (!r.lastCE || r.threshold <= 1) {
		r.AckNow(now)
	}
	r.lastCE = ce
}

// MaxAckDelay is the longest this Receiver holds back an ACK.
func (r *Receiver) MaxAckDelay() time.Duration { return r.maxAckDelay }

// AckNow makes the ACK due at once, if any packet waits for one: the packet
// just received wants a prompt answer (a path MTU probe, whose sender
// waits on it).
func (r *Receiver) AckNow(now time.Time) {
	if r.unacked {
		r.setDeadline(now)
	}
}

// setDeadline moves the ACK deadline to t unless it is already earlier.
func (r *Receiver) setDeadline(t time.Time) {
	if r.deadline.IsZero() || t.Before(r.deadline) {
		r.deadline = t
	}
}

// IsDuplicate reports whether a packet numbered pn would be a duplicate,
// without recording it.
func (r *Receiver) IsDuplicate(pn packet.PacketNumber) bool {
	return r.received.Seen(pn)
}

// LargestReceived is the largest packet number received in this space, or
// packet.InvalidPacketNumber before the first packet. Packet-number
// decoding (RFC 9000 appendix A.3) starts from it.
func (r *Receiver) LargestReceived() packet.PacketNumber { return r.largest }

// AckDeadline is when an ACK frame must be sent, or the zero time when no
// ack-eliciting packet is waiting for one. A deadline at or before now means
// the ACK is already due.
func (r *Receiver) AckDeadline() time.Time { return r.deadline }

// ShouldAckNow reports whether an ACK frame is due at now.
func (r *Receiver) ShouldAckNow(now time.Time) bool {
	return !r.deadline.IsZero() && !now.Before(r.deadline)
}

// HasUnacked reports whether packets arrived since the last ACK was sent
// that the next ACK frame would report. When the transport sends a packet
// anyway, it is worth adding an ACK to it even if none is due yet.
func (r *Receiver) HasUnacked() bool { return r.unacked }

// BuildAck builds an ACK frame for the packets received so far, listing the
// highest ranges first and dropping the lowest ones that do not fit in
// maxBytes (the whole encoded frame, type byte included). It reports false
// if there is nothing to acknowledge or not even the top range fits.
//
// ACK Delay is the time since the largest packet arrived, encoded with our
// own ackDelayExponent (RFC 9000 §13.2.5, §19.3). The frame's Ranges are
// appended to ranges[:0], so a caller that passes a buffer with room for
// the receiver's range limit makes BuildAck allocation-free.
//
// BuildAck changes no state; call OnAckSent once the frame is in a packet.
func (r *Receiver) BuildAck(now time.Time, ackDelayExponent uint8, maxBytes int, ranges []packet.AckRange) (packet.AckFrame, bool) {
	ranges = ranges[:0]
	n := r.received.Len()
	if n == 0 {
		return packet.AckFrame{Ranges: ranges}, false
	}
	top, ok := r.trim(r.received.At(0))
	if !ok {
		return packet.AckFrame{Ranges: ranges}, false
	}
	delay := EncodeAckDelay(now.Sub(r.largestTime), ackDelayExponent)
	// Everything but the range count, whose size depends on how many
	// ranges end up in the frame.
	size := 1 + vlen(int64(top.Largest)) + packet.VarintLen(delay) + vlen(int64(top.Largest-top.Smallest))
	if size+1 > maxBytes {
		return packet.AckFrame{Ranges: ranges}, false
	}
	ranges = append(ranges, top)
	for i := 1; i < n; i++ {
		rg, ok := r.trim(r.received.At(i))
		if !ok {
			break
		}
		next := size + rangeLen(ranges[len(ranges)-1].Smallest, rg)
		if next+vlen(int64(len(ranges))) > maxBytes {
			break
		}
		size = next
		ranges = append(ranges, rg)
	}
	return packet.AckFrame{Ranges: ranges, Delay: delay}, true
}

// trim cuts off the part of rg at or below the report floor, and reports
// false if nothing is left.
func (r *Receiver) trim(rg packet.AckRange) (packet.AckRange, bool) {
	if rg.Largest <= r.reportFloor {
		return rg, false
	}
	rg.Smallest = max(rg.Smallest, r.reportFloor+1)
	return rg, true
}

// OnAckSent tells the receiver that an ACK frame built by BuildAck was put
// into a packet, so nothing is due until more packets arrive.
func (r *Receiver) OnAckSent() {
	r.lastAcked = r.largest
	r.unacked = false
	r.ackElicitingCount = 0
	r.deadline = time.Time{}
}

// OnAckAcked tells the receiver that a packet carrying one of its ACK
// frames was acknowledged by the peer, with largestAcked the frame's
// Largest Acknowledged field. The peer has now seen every range up to that
// number at least once, so later ACKs stop repeating them (RFC 9000
// §13.2.4); that keeps ACK frames small on long-lived connections. The
// numbers stay in the set for duplicate detection.
func (r *Receiver) OnAckAcked(largestAcked packet.PacketNumber) {
	if largestAcked > r.reportFloor {
		r.reportFloor = largestAcked
	}
}

// rangeLen is the size of the Gap and ACK Range Length fields that encode r
// after a range whose smallest number is prevSmallest (RFC 9000 §19.3.1:
// Gap is the count of unacknowledged numbers between them, minus one).
// BuildAck adds ranges one at a time with it, keeping the frame's size
// equal to packet.AckFrame.Len without recomputing it.
func rangeLen(prevSmallest packet.PacketNumber, r packet.AckRange) int {
	gap := prevSmallest - r.Largest - 2
	return vlen(int64(gap)) + vlen(int64(r.Largest-r.Smallest))
}

func vlen(v int64) int { return packet.VarintLen(uint64(v)) }
