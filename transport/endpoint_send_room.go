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
	limit   int64
	mu      sync.Mutex
	waitCh  chan struct{} // closed and cleared when room frees up
	waiting atomic.Bool   // mirrors waitCh != nil, for the loops
}

// sendRoom is how many more unsent bytes the endpoint's connections may
// buffer.
func (e *Endpoint) sendRoom() int64 {
	return e.room.limit - e.unsent.Load()
}

// waitRoom returns a channel closed when the endpoint's room may have
// grown, or nil if there is room now. As Conn.waitRoom, it registers the
// waiter before it checks again.
func (e *Endpoint) waitRoom() <-chan struct{} {
	r := &e.room
	r.mu.Lock()
	if r.waitCh == nil {
		r.waitCh = make(chan struct{})
		r.waiting.Store(true)
	}
	ch := r.waitCh
	r.mu.Unlock()
	if e.sendRoom() > 0 {
		return nil
	}
	return ch
}

// wakeRoomWaiters wakes writers waiting for the endpoint's room as soon as
// there is any: a threshold could leave them waiting for ever behind peers
// that hold most of it, while new writes went through.
func (e *Endpoint) wakeRoomWaiters() {
	r := &e.room
	if !r.waiting.Load() || e.sendRoom() <= 0 {
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
