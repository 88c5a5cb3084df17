package transport

import "sync"

// bufferPool is a sync.Pool with a bounded reserve in front of it. A
// collection empties a sync.Pool, and on a bulk transfer the buffers it
// held (64 KiB datagrams on loopback) are then allocated again, which
// makes the next collection come sooner: about one datagram in a hundred
// allocated. The reserve survives collections, so a steady flow allocates
// nothing; past its bound, buffers go to the sync.Pool, which gives memory
// back after a burst.
type bufferPool[T any] struct {
	mu      sync.Mutex
	reserve []T
	max     int
	pool    sync.Pool
}

func newBufferPool[T any](max int, newT func() T) *bufferPool[T] {
	p := &bufferPool[T]{max: max}
	p.pool.New = func() any { return newT() }
	return p
}

func (p *bufferPool[T]) get() T {
	p.mu.Lock()
	if n := len(p.reserve); n > 0 {
		x := p.reserve[n-1]
		var zero T
		p.reserve[n-1] = zero
		p.reserve = p.reserve[:n-1]
		p.mu.Unlock()
		return x
	}
	p.mu.Unlock()
	return p.pool.Get().(T)
}

func (p *bufferPool[T]) put(x T) {
	p.mu.Lock()
	if len(p.reserve) < p.max {
		if p.reserve == nil {
			p.reserve = make([]T, 0, p.max)
		}
		p.reserve = append(p.reserve, x)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.pool.Put(x)
}
