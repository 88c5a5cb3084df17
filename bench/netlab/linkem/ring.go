package linkem

// ring is a FIFO in a ring buffer that doubles when full, so that a queue
// which keeps the same size never allocates.
type ring[T any] struct {
	buf   []T
	head  int
	count int
}

func (r *ring[T]) len() int { return r.count }

// front returns the oldest element; the ring must not be empty.
func (r *ring[T]) front() *T { return &r.buf[r.head] }

// popFront removes the oldest element, clearing its slot so that the ring
// keeps no reference to what it held.
func (r *ring[T]) popFront() T {
	v := r.buf[r.head]
	var zero T
	r.buf[r.head] = zero
	r.head = (r.head + 1) % len(r.buf)
	r.count--
	return v
}

func (r *ring[T]) pushBack(v T) {
	if r.count == len(r.buf) {
		grown := make([]T, max(16, 2*len(r.buf)))
		for i := range r.count {
			grown[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = grown, 0
	}
	r.buf[(r.head+r.count)%len(r.buf)] = v
	r.count++
}
