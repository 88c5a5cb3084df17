package linkem

import "time"

// pending is an accepted packet and when to deliver it.
type pending struct {
	deliverAt time.Time
	seq       uint64 // acceptance order, to break ties
	pkt       []byte
}

// before orders packets by delivery time, then by acceptance.
func (p *pending) before(q *pending) bool {
	if c := p.deliverAt.Compare(q.deliverAt); c != 0 {
		return c < 0
	}
	return p.seq < q.seq
}

// deliveryHeap is a binary min-heap of pending packets. It is written out
// rather than built on container/heap, whose interface boxes every pushed
// element and would allocate per packet.
type deliveryHeap struct {
	items []pending
}

func (h *deliveryHeap) len() int { return len(h.items) }

// top returns the earliest packet; the heap must not be empty.
func (h *deliveryHeap) top() *pending { return &h.items[0] }

func (h *deliveryHeap) push(p pending) {
	h.items = append(h.items, p)
	i := len(h.items) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !h.items[i].before(&h.items[parent]) {
			break
		}
		h.items[i], h.items[parent] = h.items[parent], h.items[i]
		i = parent
	}
}

// pop removes and returns the earliest packet; the heap must not be empty.
func (h *deliveryHeap) pop() pending {
	last := len(h.items) - 1
	p := h.items[0]
	h.items[0] = h.items[last]
	h.items[last] = pending{} // drop the reference to the packet
	h.items = h.items[:last]
	i := 0
	for {
		smallest := i
		if left := 2*i + 1; left < last && h.items[left].before(&h.items[smallest]) {
			smallest = left
		}
		if right := 2*i + 2; right < last && h.items[right].before(&h.items[smallest]) {
			smallest = right
		}
		if smallest == i {
			return p
		}
		h.items[i], h.items[smallest] = h.items[smallest], h.items[i]
		i = smallest
	}
}
