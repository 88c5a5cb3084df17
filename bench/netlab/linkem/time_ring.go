package linkem

import "time"

// timeRing is a FIFO of times in a ring buffer that doubles when full, so
// that a queue which keeps the same size never allocates.
type timeRing struct {
	buf   []time.Time
	head  int
	count int
}

func (r *timeRing) len() int { return r.count }

// front returns the oldest time; the ring must not be empty.
func (r *timeRing) front() time.Time { return r.buf[r.head] }

func (r *timeRing) popFront() {
	r.head = (r.head + 1) % len(r.buf)
	r.count--
}

func (r *timeRing) pushBack(t time.Time) {
	if r.count == len(r.buf) {
		grown := make([]time.Time, max(16, 2*len(r.buf)))
		for i := range r.count {
			grown[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = grown, 0
	}
	r.buf[(r.head+r.count)%len(r.buf)] = t
	r.count++
}
