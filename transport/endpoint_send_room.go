package transport

import (
	"sync"
	"sync/atomic"
)

// endpointRoom bounds the bytes written to the streams of all of an
// Endpoint's connections and not yet sent (Config.MaxUnsentBytes), so that
// many connections whose peers stopped acknowledging cannot together hold
// more of a server's memory than that (docs/SECURITY.md). Writers beyond it
// wait, on every connection of the endpoint.
type endpointRoom struct {
	limit   int64 // 0 for none
	mu      sync.Mutex
	waitCh  chan struct{} // closed and cleared when room frees up
	waiting atomic.Bool   // mirrors waitCh != nil, for the loops
}

// sendRoom is how many more unsent bytes the endpoint's connections may
// buffer.
func (e *Endpoint) sendRoom() int64 {
	if e.room.limit == 0 {
		return 1 << 62
	}
	return e.room.limit - e.unsent.Load()
}

// waitRoom returns a channel closed when the endpoint's room may have
// grown, or nil if there is room now.
func (e *Endpoint) waitRoom() <-chan struct{} {
	r := &e.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.sendRoom() > 0 {
		return nil
	}
	if r.waitCh == nil {
		r.waitCh = make(chan struct{})
		r.waiting.Store(true)
	}
	return r.waitCh
}

// wakeRoomWaiters wakes writers waiting for the endpoint's room once a
// quarter of it is free.
func (e *Endpoint) wakeRoomWaiters() {
	r := &e.room
	if !r.waiting.Load() || 4*e.sendRoom() < r.limit {
		return
	}
	r.mu.Lock()
	if r.waitCh != nil {
		close(r.waitCh)
		r.waitCh = nil
		r.waiting.Store(false)
	}
	r.mu.Unlock()
}
