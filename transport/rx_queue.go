package transport

import (
	"sync"
	"sync/atomic"
)

// rxQueueLimit bounds the datagrams waiting for one connection's loop;
// beyond it they are dropped, a loss that recovery handles. A full batch
// of GRO trains carries a few thousand.
const rxQueueLimit = 4096

// rxQueueBytes bounds the buffer memory the waiting datagrams pin, which
// with jumbo datagrams the count alone would not.
const rxQueueBytes = 16 << 20

// rxBurst is how many queued datagrams the loop handles before it sends:
// enough for one ACK to cover a burst, few enough that ACKs and data keep
// flowing while a backlog drains.
const rxBurst = 64

// rxQueue carries datagrams from the endpoint's reader to a connection's
// loop. It grows with bursts and gives its memory back once drained, so an
// idle connection holds none; a buffered channel would hold the whole
// bound for the connection's life.
type rxQueue struct {
	mu      sync.Mutex
	items   []*rxDatagram
	bytes   int           // buffer capacity of items
	ready   chan struct{} // one-slot signal: items became non-empty
	dropped atomic.Uint64

	// Owned by the loop: the batch taken from items, and where in it the
	// loop has got to.
	batch []*rxDatagram
	next  int
}

func (q *rxQueue) init() { q.ready = make(chan struct{}, 1) }

// push queues rx, or drops it when the queue is full.
func (q *rxQueue) push(rx *rxDatagram) {
	q.mu.Lock()
	if len(q.items) >= rxQueueLimit || q.bytes+cap(rx.buf) > rxQueueBytes {
		q.mu.Unlock()
		rx.release()
		q.dropped.Add(1)
		return
	}
	q.items = append(q.items, rx)
	q.bytes += cap(rx.buf)
	first := len(q.items) == 1
	q.mu.Unlock()
	if first {
		signal(q.ready)
	}
}

// pop returns the next queued datagram, or nil. It runs on the loop.
func (q *rxQueue) pop() *rxDatagram {
	if q.next == len(q.batch) {
		q.refill()
		if len(q.batch) == 0 {
			return nil
		}
	}
	rx := q.batch[q.next]
	q.batch[q.next] = nil
	q.next++
	return rx
}

// refill swaps the drained batch for what the reader queued since. The
// two slices keep what bursts grew them to while datagrams keep coming
// (regrowing them was most of a bulk transfer's allocations); shrink lets
// it go once the connection is quiet.
func (q *rxQueue) refill() {
	old := q.batch[:0]
	q.mu.Lock()
	q.batch, q.items = q.items, old
	q.bytes = 0
	q.mu.Unlock()
	q.next = 0
}

// shrink drops slices grown past a few bursts, on the loop, when nothing
// waits: the connection has gone quiet.
func (q *rxQueue) shrink() {
	if q.next < len(q.batch) {
		return
	}
	if cap(q.batch) > 2*rxBurst {
		q.batch, q.next = nil, 0
	}
	q.mu.Lock()
	if len(q.items) == 0 && cap(q.items) > 2*rxBurst {
		q.items = nil
	}
	q.mu.Unlock()
}

// pending reports whether datagrams wait, on the loop.
func (q *rxQueue) pending() bool {
	if q.next < len(q.batch) {
		return true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) > 0
}

// drain drops everything queued, once the loop has ended.
func (q *rxQueue) drain() {
	for rx := q.pop(); rx != nil; rx = q.pop() {
		rx.release()
	}
}
