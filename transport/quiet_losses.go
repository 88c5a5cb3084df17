package transport

import "github.com/limpetnet/limpet/packet"

// quietLosses remembers the latest packets declared lost that congestion
// control never counted: FEC repair packets and path MTU probes, whose
// loss is no congestion signal, and losses it judged random. An ACK of one
// arriving late must not be reported as a spurious loss either
// (onSpurious).
//
// It holds as many as loss detection remembers declared-lost packets
// (ackframes' lost records), allocated on the first, so that no packet
// congestion control never counted can come back as a spurious loss.
type quietLosses struct {
	pns  []packet.PacketNumber
	next int
}

// quietLossesCap matches ackframes' memory of declared-lost packets.
const quietLossesCap = 1024

func (q *quietLosses) add(pn packet.PacketNumber) {
	if q.pns == nil {
		q.pns = make([]packet.PacketNumber, quietLossesCap)
	}
	q.pns[q.next%len(q.pns)] = pn
	q.next++
}

// has reports whether pn is remembered.
func (q *quietLosses) has(pn packet.PacketNumber) bool {
	for i := range min(q.next, len(q.pns)) {
		if q.pns[i] == pn {
			return true
		}
	}
	return false
}
