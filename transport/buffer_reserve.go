package transport

import (
	"sync"
	"sync/atomic"
)

// bufferPool is a sync.Pool backed by a bounded reserve. A collection
// empties a sync.Pool, and on a bulk transfer the buffers it held (64 KiB
// datagrams on loopback) are then allocated again, which makes the next
// collection come sooner: about one datagram in a hundred allocated. The
// reserve survives collections: it fills from returned buffers until it
// holds max, and is drawn on only when the sync.Pool is empty, so in steady
// state both paths are the sync.Pool's, without a lock. T must be a
// pointer, so that the sync.Pool stores it without allocating.
type bufferPool[T any] struct {
	pool    sync.Pool
	newT    func() T
	max     int
	held    atomic.Int64 // len(reserve), read without the lock
	mu      sync.Mutex
	reserve []T
}

func newBufferPool[T any](max int, newT func() T) *bufferPool[T] {
	return &bufferPool[T]{newT: newT, max: max}
}

func (p *bufferPool[T]) get() T {
	if x, ok := p.pool.Get().(T); ok {
		return x
	}
	if p.held.Load() > 0 {
		p.mu.Lock()
		if n := len(p.reserve); n > 0 {
			x := p.reserve[n-1]
			var zero T
			p.reserve[n-1] = zero
			p.reserve = p.reserve[:n-1]
			p.held.Store(int64(n - 1))
			p.mu.Unlock()
			return x
		}
		p.mu.Unlock()
	}
	return p.newT()
}

func (p *bufferPool[T]) put(x T) {
	if p.held.Load() < int64(p.max) {
		p.mu.Lock()
		if len(p.reserve) < p.max {
			p.reserve = append(p.reserve, x)
			p.held.Store(int64(len(p.reserve)))
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
	p.pool.Put(x)
}
