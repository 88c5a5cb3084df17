package ackframes

import (
	"errors"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// DefaultMaxSentPackets bounds a SentHistory when no limit is configured.
// The congestion window normally keeps far fewer packets outstanding; 16384
// full-size packets is about 24 MB in flight, a gigabit path with a 190 ms
// round trip.
const DefaultMaxSentPackets = 1 << 14

// ErrHistoryFull reports that a SentHistory already holds its maximum
// number of packets. The transport stops sending in that space until
// acknowledgements or losses free room.
var ErrHistoryFull = errors.New("ackframes: too many packets outstanding")

// ErrPacketNumberOrder reports a packet recorded out of order: packet
// numbers must increase from one recorded packet to the next.
var ErrPacketNumberOrder = errors.New("ackframes: packet number not above the previous one")

// SentPacket is what a sender remembers about one packet until it is
// acknowledged or declared lost (RFC 9002 appendix A.1.1).
type SentPacket[M any] struct {
	Number   packet.PacketNumber
	TimeSent time.Time
	// Size is the packet's size in bytes as counted by congestion control
	// (the UDP payload it occupied).
	Size int
	// AckEliciting is set when the packet carried a frame other than ACK,
	// PADDING or CONNECTION_CLOSE; the peer must then acknowledge it within
	// its max_ack_delay, which the probe timeout relies on.
	AckEliciting bool
	// InFlight is set when the packet counts towards bytes in flight:
	// every packet except one carrying only ACK frames (RFC 9002 §2).
	InFlight bool
	// MTUProbe marks a path MTU probe, whose loss is no congestion signal
	// (RFC 9000 §14.4): it neither starts nor extends a run of losses
	// that establishes persistent congestion.
	MTUProbe bool
	// Frames is the transport's record of what the packet carried, handed
	// back on acknowledgement (to release buffers and record delivery) and on
	// loss (to send the same information again in a new packet; limpet never
	// retransmits a packet as such).
	Frames M
}

// AckResult summarises what one ACK frame did to a SentHistory.
type AckResult struct {
	// LargestNewlyAcked is the largest number the frame acknowledged for the
	// first time, or packet.InvalidPacketNumber if it acknowledged nothing
	// new.
	LargestNewlyAcked packet.PacketNumber
	// RTTSample is latest_rtt, the time from sending the frame's largest
	// acknowledged packet to receiving the frame. It is valid only when
	// HasRTTSample is set: the largest acknowledged packet was newly
	// acknowledged and at least one newly acknowledged packet was
	// ack-eliciting (RFC 9002 §5.1). The peer's ACK Delay is not subtracted;
	// the RTT estimator does that.
	RTTSample    time.Duration
	HasRTTSample bool
	// Spurious lists the packets, in increasing order, that the frame
	// acknowledged after DetectLost had declared them lost (see
	// SpuriousLoss). It aliases storage the history reuses: it is valid
	// until the next OnAck.
	Spurious []SpuriousLoss
}

type slotState uint8

const (
	slotOutstanding slotState = iota
	slotAcked
	slotLost
)

// sentSlot is one entry of the ring. Acknowledged and lost packets stay in
// place as tombstones until the packets before them are resolved, which
// keeps the ring sorted without moving entries on every ACK.
type sentSlot[M any] struct {
	pkt   SentPacket[M]
	state slotState
	// ackedBefore records that an acknowledged packet between this one and
	// the previous entry was compacted away; persistent congestion needs to
	// know that (RFC 9002 §7.6.2).
	ackedBefore bool
}

// SentHistory is the record of sent packets of one packet-number space
// that are neither acknowledged nor declared lost, in increasing
// packet-number order, with the bytes in flight and the timers of loss
// detection (RFC 9002 §6). M is the transport's record of a packet's frames.
//
// It is a ring buffer that grows by doubling up to its limit and then
// never allocates again. The limit counts the span from the oldest
// unresolved packet to the newest; packets resolved out of order leave
// tombstones that are squeezed out only when the ring is full.
//
// Create one with NewSentHistory (or through a LossDetector); the zero
// value is not usable. A SentHistory is owned by the connection's
// goroutine.
type SentHistory[M any] struct {
	limit int
	slots []sentSlot[M]
	head  int // index in slots of the oldest entry
	n     int // entries in use, tombstones included
	live  int // outstanding packets

	nextNumber   packet.PacketNumber // the next recorded packet must be numbered at least this
	largestAcked packet.PacketNumber // largest number any ACK frame acknowledged

	bytesInFlight        int
	ackElicitingInFlight int
	lastAckElicitingTime time.Time // when the newest ack-eliciting in-flight packet was sent

	// The newest packet sent that is neither ack-eliciting nor in flight
	// (an ACK alone), which is not recorded: an ACK whose largest
	// acknowledged is that packet still yields an RTT sample, as RFC 9002
	// §5.1 has it (otherwise a peer that acknowledges our ACK last, as
	// during the handshake, starves the estimate, and pacing runs on the
	// 333 ms initial RTT). InvalidPacketNumber once used.
	ackOnlyPN     packet.PacketNumber
	ackOnlySentAt time.Time

	lossTime       time.Time // earliest time an outstanding packet becomes lost by the time threshold
	firstRTTSample time.Time // when the first RTT sample was taken; persistent congestion starts after it

	// Packets declared lost recently, to recognise spurious losses, and
	// the thresholds those adapt.
	lost     lostRecords
	spurious []SpuriousLoss // AckResult.Spurious's storage
	reo      reordering
}

// NewSentHistory returns an empty history that holds at most maxPackets
// packets; maxPackets below 1 selects DefaultMaxSentPackets.
func NewSentHistory[M any](maxPackets int) *SentHistory[M] {
	h := &SentHistory[M]{}
	h.init(maxPackets)
	return h
}

func (h *SentHistory[M]) init(maxPackets int) {
	if maxPackets < 1 {
		maxPackets = DefaultMaxSentPackets
	}
	*h = SentHistory[M]{limit: maxPackets, largestAcked: packet.InvalidPacketNumber, ackOnlyPN: packet.InvalidPacketNumber}
	h.reo.reset()
}

// at returns the i-th entry counting from the oldest.
func (h *SentHistory[M]) at(i int) *sentSlot[M] {
	j := h.head + i
	if j >= len(h.slots) {
		j -= len(h.slots)
	}
	return &h.slots[j]
}

// OnPacketSent records a sent packet. Packets must be recorded in
// increasing packet-number order with non-decreasing send times; skipped
// numbers simply never appear.
//
// A packet that is neither ack-eliciting nor in flight (one carrying only
// ACK frames) is not stored: the peer never has to acknowledge it, so it
// would stay until declared lost, and nothing depends on its fate but the
// RTT sample of an ACK that names it largest (only the newest is kept for
// that).
func (h *SentHistory[M]) OnPacketSent(p SentPacket[M]) error {
	if p.Number < h.nextNumber {
		return ErrPacketNumberOrder
	}
	if !p.AckEliciting && !p.InFlight {
		h.nextNumber = p.Number + 1
		h.ackOnlyPN, h.ackOnlySentAt = p.Number, p.TimeSent
		return nil
	}
	if h.n == len(h.slots) {
		switch {
		case len(h.slots) < h.limit:
			h.grow()
		case h.live < h.n:
			h.compact()
		default:
			return ErrHistoryFull
		}
	}
	h.nextNumber = p.Number + 1
	h.n++
	*h.at(h.n - 1) = sentSlot[M]{pkt: p}
	h.live++
	if p.InFlight {
		h.bytesInFlight += p.Size
		if p.AckEliciting {
			h.ackElicitingInFlight++
			h.lastAckElicitingTime = p.TimeSent
		}
	}
	return nil
}

// grow doubles the ring, up to the limit, and unrolls it to start at 0.
func (h *SentHistory[M]) grow() {
	size := min(max(2*len(h.slots), 4), h.limit) // idle connections stay small
	slots := make([]sentSlot[M], size)
	for i := 0; i < h.n; i++ {
		slots[i] = *h.at(i)
	}
	h.slots = slots
	h.head = 0
}

// compact squeezes the tombstones out of the ring, keeping the order and
// remembering where acknowledged packets were.
func (h *SentHistory[M]) compact() {
	w := 0
	ackedSeen := false
	for i := 0; i < h.n; i++ {
		s := h.at(i)
		switch s.state {
		case slotAcked:
			ackedSeen = true
		case slotOutstanding:
			kept := *s
			kept.ackedBefore = kept.ackedBefore || ackedSeen
			ackedSeen = false
			*h.at(w) = kept
			w++
		}
	}
	for i := w; i < h.n; i++ {
		*h.at(i) = sentSlot[M]{}
	}
	h.n = w
}

// popResolved drops tombstones from the front of the ring.
func (h *SentHistory[M]) popResolved() {
	for h.n > 0 {
		s := h.at(0)
		if s.state == slotOutstanding {
			return
		}
		*s = sentSlot[M]{}
		h.head++
		if h.head == len(h.slots) {
			h.head = 0
		}
		h.n--
	}
}

// search returns the index of the first entry numbered pn or higher, or n.
func (h *SentHistory[M]) search(pn packet.PacketNumber) int {
	lo, hi := 0, h.n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if h.at(mid).pkt.Number < pn {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// resolve marks an outstanding entry acknowledged or lost, takes it out of
// the in-flight accounting and drops the reference to its frames.
func (h *SentHistory[M]) resolve(s *sentSlot[M], state slotState) {
	s.state = state
	h.live--
	if s.pkt.InFlight {
		h.bytesInFlight -= s.pkt.Size
		if s.pkt.AckEliciting {
			h.ackElicitingInFlight--
		}
	}
	var zero M
	s.pkt.Frames = zero
}

// OnAck applies an ACK frame received at now: it appends every packet the
// frame acknowledges for the first time to acked, in increasing order, and
// reports the RTT sample the frame yields (RFC 9002 §5.1, appendix A.7).
// Ranges covering packets already acknowledged, declared lost or never
// recorded are ignored, so applying the same frame twice acknowledges
// nothing the second time.
//
// The frame must have passed PacketNumberGenerator.ValidateAck; its ranges
// must be in the parser's descending order. With an acked buffer of
// sufficient capacity OnAck does not allocate.
func (h *SentHistory[M]) OnAck(f packet.AckFrame, now time.Time, acked []SentPacket[M]) ([]SentPacket[M], AckResult) {
	res := AckResult{LargestNewlyAcked: packet.InvalidPacketNumber}
	if len(f.Ranges) == 0 {
		return acked, res
	}
	largest := f.Ranges[0].Largest
	h.largestAcked = max(h.largestAcked, largest)

	var largestSentAt time.Time
	largestNewlyAcked, ackElicitingAcked := false, false
	// Walk the ranges from the lowest so that packets come out in order.
	for ri := len(f.Ranges) - 1; ri >= 0 && h.n > 0; ri-- {
		rg := f.Ranges[ri]
		if rg.Largest < h.at(0).pkt.Number {
			continue
		}
		if rg.Smallest > h.at(h.n-1).pkt.Number {
			break
		}
		for i := h.search(rg.Smallest); i < h.n; i++ {
			s := h.at(i)
			if s.pkt.Number > rg.Largest {
				break
			}
			if s.state != slotOutstanding {
				continue
			}
			acked = append(acked, s.pkt)
			res.LargestNewlyAcked = s.pkt.Number
			ackElicitingAcked = ackElicitingAcked || s.pkt.AckEliciting
			if s.pkt.Number == largest {
				largestNewlyAcked = true
				largestSentAt = s.pkt.TimeSent
			}
			h.resolve(s, slotAcked)
		}
	}
	h.popResolved()
	if h.lost.n > 0 {
		res.Spurious = h.ackLost(f.Ranges, largest, now)
	}
	if !largestNewlyAcked && largest == h.ackOnlyPN {
		largestNewlyAcked, largestSentAt = true, h.ackOnlySentAt
		h.ackOnlyPN = packet.InvalidPacketNumber
	}

	if largestNewlyAcked && ackElicitingAcked {
		if sample := now.Sub(largestSentAt); sample >= 0 {
			res.RTTSample = sample
			res.HasRTTSample = true
			if h.firstRTTSample.IsZero() {
				h.firstRTTSample = now
			}
		}
	}
	return acked, res
}

// ackLost finds the recently lost packets that ranges acknowledge, marks
// them so they are reported once, widens the thresholds they prove too
// tight and returns them. largest is the frame's largest acknowledged
// number.
func (h *SentHistory[M]) ackLost(ranges []packet.AckRange, largest packet.PacketNumber, now time.Time) []SpuriousLoss {
	out := h.spurious[:0]
	first, last := h.lost.at(0).pn, h.lost.at(h.lost.n-1).pn
	for ri := len(ranges) - 1; ri >= 0; ri-- {
		rg := ranges[ri]
		if rg.Largest < first {
			continue
		}
		if rg.Smallest > last {
			break
		}
		for i := h.lost.search(rg.Smallest); i < h.lost.n; i++ {
			rec := h.lost.at(i)
			if rec.pn > rg.Largest {
				break
			}
			if rec.acked {
				continue
			}
			rec.acked = true
			reo := max(largest, rec.largestAcked) - rec.pn
			h.reo.onSpurious(rec, reo)
			out = append(out, SpuriousLoss{
				Number:     rec.pn,
				TimeSent:   rec.timeSent,
				LostAt:     rec.lostAt,
				Size:       rec.size,
				InFlight:   rec.inFlight,
				Reordering: reo,
				Late:       now.Sub(rec.lostAt),
			})
		}
	}
	h.spurious = out
	if len(out) == 0 {
		return nil
	}
	return out
}

// RemoveAll empties the history, appending the packets it still held to out
// in increasing order, and resets the loss-detection state. The transport
// calls it when it discards a packet-number space's keys (RFC 9002 §6.4):
// those packets can no longer be acknowledged, and their bytes leave the
// congestion controller's count without being treated as lost.
func (h *SentHistory[M]) RemoveAll(out []SentPacket[M]) []SentPacket[M] {
	for i := 0; i < h.n; i++ {
		if s := h.at(i); s.state == slotOutstanding {
			out = append(out, s.pkt)
		}
		*h.at(i) = sentSlot[M]{}
	}
	h.head, h.n, h.live = 0, 0, 0
	h.bytesInFlight = 0
	h.ackElicitingInFlight = 0
	h.lastAckElicitingTime = time.Time{}
	h.lossTime = time.Time{}
	h.lost.clear()
	return out
}

// ForEach calls fn for each outstanding packet, oldest first, until fn
// returns false. fn may change the packet's Frames (for example to mark
// data that no longer needs resending) but must not change anything else
// or call other methods of the history. A PTO probe uses it to find the
// oldest unacknowledged data to send again (RFC 9002 §6.2.4).
func (h *SentHistory[M]) ForEach(fn func(p *SentPacket[M]) bool) {
	for i := 0; i < h.n; i++ {
		if s := h.at(i); s.state == slotOutstanding && !fn(&s.pkt) {
			return
		}
	}
}

// Full reports whether the history has no room for another ack-eliciting
// or in-flight packet, so OnPacketSent would return ErrHistoryFull. The
// transport checks it before building such a packet: a packet that is sent
// but cannot be recorded would never be retransmitted if lost.
func (h *SentHistory[M]) Full() bool {
	return h.n == len(h.slots) && len(h.slots) >= h.limit && h.live == h.n
}

// Len is the number of outstanding packets.
func (h *SentHistory[M]) Len() int { return h.live }

// BytesInFlight is the total Size of outstanding in-flight packets, the
// figure congestion control compares with the congestion window.
func (h *SentHistory[M]) BytesInFlight() int { return h.bytesInFlight }

// HasAckElicitingInFlight reports whether an ack-eliciting packet is
// outstanding, which is when a probe timeout is armed (RFC 9002 §6.2.1).
func (h *SentHistory[M]) HasAckElicitingInFlight() bool { return h.ackElicitingInFlight > 0 }

// LargestAcked is the largest packet number the peer has acknowledged in
// this space, or packet.InvalidPacketNumber. Packet-number encoding
// (RFC 9000 appendix A.2) is relative to it.
func (h *SentHistory[M]) LargestAcked() packet.PacketNumber { return h.largestAcked }

// PacketThreshold is the current packet threshold of loss detection:
// PacketThreshold at first, raised by spurious losses up to
// MaxPacketThreshold (docs/PROTOCOL.md section 3, "Loss detection").
func (h *SentHistory[M]) PacketThreshold() packet.PacketNumber { return h.reo.packetThreshold }

// LossDelay is the current time threshold of loss detection for rtt:
// the package's LossDelay at first, widened by spurious losses up to
// twice the RTT.
func (h *SentHistory[M]) LossDelay(rtt RTT) time.Duration { return h.reo.lossDelay(rtt) }

// LossTime is when the oldest outstanding packet below the largest
// acknowledged one becomes lost by the time threshold, as computed by the
// last DetectLost, or the zero time if there is none.
func (h *SentHistory[M]) LossTime() time.Time { return h.lossTime }
