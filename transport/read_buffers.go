package transport

import "time"

// readBufferPool holds the endpoints' 64 KiB read buffers. A reader gives
// its buffers back when it exits, so the next Dial's reader takes them
// instead of allocating, and zeroing, fresh ones.
var readBufferPool = newBufferPool(2*groBatch, func() *[BindReadBufferSize]byte {
	return new([BindReadBufferSize]byte)
})

// readBuffers are the buffers an endpoint's reader hands to ReadBatch. A
// client's private endpoint, which carries one connection, starts with one:
// an idle or slow connection receives a datagram (or one GRO train) per
// call, and each buffer held is 64 KiB. A call that fills every buffer with
// datagrams that were waiting, shown by GRO having coalesced them (or, on a
// socket without GRO, by three such calls in a row), doubles the batch, up
// to max; after readShrinkAfter without a full batch it falls back to one.
// Such an endpoint used to hold eight buffers, half a megabyte, for its
// connection's whole life. An endpoint that accepts keeps its whole batch:
// there is one per listener, and its datagrams come from many clients,
// which GRO does not coalesce, so a full call there says nothing.
type readBuffers struct {
	min, max   int
	coalescing bool // the socket coalesces received datagrams (GRO is on)
	dgrams     []Datagram
	bufs       []*[BindReadBufferSize]byte
	lastFull   time.Time
	fullStreak int
}

// readShrinkAfter is how long a reader's batch stays grown without being
// filled.
const readShrinkAfter = time.Second

// newReadBuffers returns min buffers, which grow to max as traffic needs.
func newReadBuffers(min, max int, coalescing bool) *readBuffers {
	r := &readBuffers{min: min, max: max, coalescing: coalescing}
	r.resize(min)
	return r
}

// resize makes the batch n buffers long.
func (r *readBuffers) resize(n int) {
	for len(r.bufs) < n {
		r.bufs = append(r.bufs, readBufferPool.get())
	}
	for len(r.bufs) > n {
		last := len(r.bufs) - 1
		readBufferPool.put(r.bufs[last])
		r.bufs[last] = nil
		r.bufs = r.bufs[:last]
	}
	r.dgrams = r.dgrams[:0]
	for _, b := range r.bufs {
		r.dgrams = append(r.dgrams, Datagram{Buf: b[:]})
	}
}

// afterRead adapts the batch to a call that returned n datagrams holding
// segments datagrams in all, at now. The datagrams must have been handled:
// resizing reuses them.
func (r *readBuffers) afterRead(n, segments int, now time.Time) {
	if n < len(r.dgrams) {
		r.fullStreak = 0
		if len(r.dgrams) > r.min && now.Sub(r.lastFull) > readShrinkAfter {
			r.resize(r.min)
		}
		return
	}
	r.lastFull = now
	r.fullStreak++
	waiting := segments > n
	if !r.coalescing {
		waiting = r.fullStreak >= 3
	}
	if waiting && n < r.max {
		r.resize(min(2*n, r.max))
	}
}

// release gives the buffers back to the pool when the reader exits.
func (r *readBuffers) release() { r.resize(0) }
