package streams

import (
	"math/bits"
	"sync"
)

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
	r.buf = getRingBuf(n)
	if old.size() == 0 {
		return
	}
	for off := start; off < end; {
		chunk := old.view(off, int(min(end-off, int64(old.size()))))
		r.write(off, chunk)
		off += int64(len(chunk))
	}
	putRingBuf(old.buf)
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
func (r *ring) release() {
	putRingBuf(r.buf)
	r.buf = nil
}

// Ring buffers are recycled by power-of-two size, among all streams: a
// connection running 100 streams of 10 MiB in parallel allocated (and the
// runtime zeroed) about as many bytes of buffer as it moved, each stream's
// ring doubling from 4 KiB. A recycled buffer holds old bytes, which is
// safe because a ring never hands out a byte before it was written (the
// send buffer reads only what was written; reassembly only what arrived).
const maxPooledRing = 16 << 20

var ringPools [26]sync.Pool // by bits.Len of the size: up to 25 for maxPooledRing

// pooledRingClass is the pool for a buffer of n bytes, or -1.
func pooledRingClass(n int) int {
	if n < minRingSize || n > maxPooledRing || n&(n-1) != 0 {
		return -1
	}
	return bits.Len(uint(n))
}

func getRingBuf(n int) []byte {
	if c := pooledRingClass(n); c >= 0 {
		if b, ok := ringPools[c].Get().(*[]byte); ok {
			return *b
		}
	}
	return make([]byte, n)
}

func putRingBuf(b []byte) {
	if c := pooledRingClass(len(b)); c >= 0 && cap(b) == len(b) {
		ringPools[c].Put(&b)
	}
}
