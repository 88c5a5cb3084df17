package netsim

import (
	"container/heap"
	"net"
	"time"
)

// heldDatagram is a datagram a Conn holds back until due.
type heldDatagram struct {
	due time.Time
	seq uint64 // write order, so that datagrams due together leave in order
	b   []byte
	to  net.Addr
	ecn uint8
}

// delayQueue is a min-heap of held datagrams by (due, seq): the timer heap
// behind a Conn's delivery goroutine.
type delayQueue struct{ items heldHeap }

func (q *delayQueue) len() int            { return len(q.items) }
func (q *delayQueue) peek() *heldDatagram { return &q.items[0] }
func (q *delayQueue) push(d heldDatagram) { heap.Push(&q.items, d) }
func (q *delayQueue) pop() heldDatagram   { return heap.Pop(&q.items).(heldDatagram) }
func (q *delayQueue) clear()              { q.items = nil }

// heldHeap implements heap.Interface for delayQueue.
type heldHeap []heldDatagram

func (h heldHeap) Len() int { return len(h) }
func (h heldHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h heldHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *heldHeap) Push(x any)   { *h = append(*h, x.(heldDatagram)) }
func (h *heldHeap) Pop() any {
	old := *h
	last := old[len(old)-1]
	old[len(old)-1] = heldDatagram{}
	*h = old[:len(old)-1]
	return last
}
