package streams

// minRingSize is the first allocation of a stream buffer, unless the
// stream's cap is smaller. Streams that carry little data stay small.
const minRingSize = 4096

// ring holds a sliding window of a stream's bytes addressed by stream
// offset: byte o lives at buf[o % len(buf)]. Because the position depends
// only on the offset, data received or written out of order lands in place
// and no bytes move as the window slides. The buffer grows by doubling up to
// a cap given by its owner and is never shrunk while the stream is live, so
// steady-state use does not allocate.
type ring struct {
	buf []byte
}

// size is the ring's capacity in bytes.
func (r *ring) size() int { return len(r.buf) }

// grow makes room for need bytes, never above maxSize, keeping the bytes at
// offsets [start, end) in place. need above maxSize is a bug in the caller,
// which bounds need by its flow-control window or buffer cap.
func (r *ring) grow(need, maxSize int, start, end int64) {
	if need <= len(r.buf) {
		return
	}
	if need > maxSize {
		panic("streams: ring buffer grown beyond its cap")
	}
	n := min(max(2*len(r.buf), need, minRingSize), maxSize)
	old := *r
	r.buf = make([]byte, n)
	if old.size() == 0 {
		return
	}
	for off := start; off < end; {
		chunk := old.view(off, int(min(end-off, int64(old.size()))))
		r.write(off, chunk)
		off += int64(len(chunk))
	}
}

// write copies p to the offsets starting at off.
func (r *ring) write(off int64, p []byte) {
	for len(p) > 0 {
		n := copy(r.buf[off%int64(len(r.buf)):], p)
		p = p[n:]
		off += int64(n)
	}
}

// read copies the bytes starting at off into p.
func (r *ring) read(off int64, p []byte) {
	for len(p) > 0 {
		n := copy(p, r.buf[off%int64(len(r.buf)):])
		p = p[n:]
		off += int64(n)
	}
}

// view returns up to n bytes starting at off without copying. It stops at
// the end of the underlying array, so it may return fewer than n bytes. The
// slice's capacity ends with it, so appending to it cannot overwrite the
// ring.
func (r *ring) view(off int64, n int) []byte {
	i := int(off % int64(len(r.buf)))
	j := i + min(n, len(r.buf)-i)
	return r.buf[i:j:j]
}

// release drops the buffer once the stream no longer needs its bytes.
func (r *ring) release() { r.buf = nil }
