package ackframes

import (
	"time"

	"github.com/limpetnet/limpet/packet"
)

// maxLostRecords bounds how many recently lost packets a SentHistory
// remembers to recognise spurious losses. At 100 Mbit/s with 3% loss about
// 80 packets are lost within the memory period; the bound only matters on
// much faster or lossier paths, where forgetting a record merely means one
// spurious loss goes unnoticed.
const maxLostRecords = 1024

// SpuriousLoss is a packet that DetectLost declared lost and that an ACK
// frame acknowledged afterwards: the peer received it, late or out of
// order, so the loss was spurious (RFC 9002 §6.1 lets a sender adapt its
// thresholds to such reordering). Its frames were already handed back for
// retransmission when it was declared lost; the copies sent since are
// simply redundant.
type SpuriousLoss struct {
	Number   packet.PacketNumber
	TimeSent time.Time
	// LostAt is the now of the DetectLost call that declared it lost.
	LostAt   time.Time
	Size     int
	InFlight bool
	// Reordering is how far out of order the packet arrived, in packet
	// numbers: the largest number acknowledged when its acknowledgement
	// came (or when it was declared lost, if larger) minus its own. Since
	// the peer acknowledges out-of-order packets at once, this is close to
	// the number of later packets that overtook it.
	Reordering packet.PacketNumber
	// Late is how long after being declared lost it was acknowledged.
	Late time.Duration
}

// lostRecord is what a SentHistory remembers about a packet it declared
// lost: enough to report and learn from a spurious loss, but not the
// frames, which went back to the transport.
type lostRecord struct {
	pn           packet.PacketNumber
	largestAcked packet.PacketNumber // when it was declared lost
	timeSent     time.Time
	lostAt       time.Time
	size         int
	inFlight     bool
	// byPacket and byTime say which threshold declared it lost (possibly
	// both), so that a spurious loss widens the one that was too tight.
	byPacket, byTime bool
	acked            bool // tombstone: already reported spurious
}

// lostRecords is a ring of lostRecord in increasing packet-number order.
// DetectLost always declares the oldest outstanding packets lost first, so
// records arrive in order and the ring stays sorted without effort.
type lostRecords struct {
	buf  []lostRecord
	head int
	n    int
}

func (r *lostRecords) at(i int) *lostRecord {
	j := r.head + i
	if j >= len(r.buf) {
		j -= len(r.buf)
	}
	return &r.buf[j]
}

// add appends rec, forgetting the oldest record when the ring is at
// maxLostRecords. A record out of order is ignored (it cannot happen; see
// lostRecords), so the search stays correct.
func (r *lostRecords) add(rec lostRecord) {
	if r.n > 0 && rec.pn <= r.at(r.n-1).pn {
		return
	}
	if r.n == len(r.buf) {
		if len(r.buf) < maxLostRecords {
			buf := make([]lostRecord, min(max(2*len(r.buf), 16), maxLostRecords))
			for i := 0; i < r.n; i++ {
				buf[i] = *r.at(i)
			}
			r.buf, r.head = buf, 0
		} else {
			r.popFront()
		}
	}
	r.n++
	*r.at(r.n - 1) = rec
}

func (r *lostRecords) popFront() {
	r.buf[r.head] = lostRecord{}
	r.head++
	if r.head == len(r.buf) {
		r.head = 0
	}
	r.n--
}

// expire forgets records declared lost before cutoff and acknowledged
// ones at the front.
func (r *lostRecords) expire(cutoff time.Time) {
	for r.n > 0 {
		if f := r.at(0); !f.acked && !f.lostAt.Before(cutoff) {
			return
		}
		r.popFront()
	}
}

func (r *lostRecords) clear() {
	clear(r.buf)
	r.head, r.n = 0, 0
}

// search returns the index of the first record numbered pn or higher, or n.
func (r *lostRecords) search(pn packet.PacketNumber) int {
	lo, hi := 0, r.n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if r.at(mid).pn < pn {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}
