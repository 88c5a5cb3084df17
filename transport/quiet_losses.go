package transport

import "github.com/limpetnet/limpet/packet"

// quietLosses remembers the latest packets declared lost that congestion
// control never counted: FEC repair packets and path MTU probes, whose
// loss is no congestion signal, and losses it judged random. An ACK of one
// arriving late must not be reported as a spurious loss either
// (onSpurious).
type quietLosses struct {
	pns  [256]packet.PacketNumber
	next int
}

func (q *quietLosses) add(pn packet.PacketNumber) {
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
