package streams

import "math/bits"

// reassembly puts a receive stream's frames back in order. Bytes are copied
// into a ring at their offsets, and a bitmap of the same size records which
// slots past the contiguous prefix hold received bytes (the prefix, from
// readOffset to contiguousEnd, is all received and needs no bits: in-order
// data, the bulk of any transfer, never touches the bitmap). A bitmap
// rather than a list of ranges keeps memory bounded by the window however
// the peer fragments or overlaps its frames: n bytes of window cost n bytes
// of data plus n/8 bytes of bits (made when the first byte arrives out of
// order), and there is no per-gap bookkeeping for an attacker to inflate. Finding gaps and contiguous runs scans 64 bytes per
// word.
type reassembly struct {
	data ring
	have bitRing

	readOffset    int64 // next byte the application gets
	contiguousEnd int64 // first missing byte at or after readOffset
	storedEnd     int64 // end of the highest byte stored
	buffered      int64 // bytes stored and not yet read
}

// insert stores the parts of data at offset that are not already stored or
// read. Bytes already held keep their first value. The caller has checked
// flow control, which guarantees offset+len(data)-readOffset <= maxSize.
func (r *reassembly) insert(offset int64, data []byte, maxSize int) {
	end := offset + int64(len(data))
	if len(data) == 0 || end <= r.readOffset {
		return
	}
	if offset < r.readOffset {
		data = data[r.readOffset-offset:]
		offset = r.readOffset
	}
	r.ensure(int(end-r.readOffset), maxSize)
	if offset <= r.contiguousEnd && r.storedEnd <= r.contiguousEnd {
		// In order, with nothing stored beyond: no bits to keep.
		if end > r.contiguousEnd {
			r.data.write(r.contiguousEnd, data[r.contiguousEnd-offset:])
			r.buffered += end - r.contiguousEnd
			r.contiguousEnd, r.storedEnd = end, end
		}
		return
	}
	if r.have.size != int64(r.data.size()) {
		// The first bytes out of order: the bitmap is made when needed.
		r.have = newBitRing(r.data.size())
	}
	for o := max(offset, r.contiguousEnd); o < end; {
		gap := r.have.firstClear(o, end)
		if gap == end {
			break
		}
		fill := r.have.firstSet(gap, end)
		r.data.write(gap, data[gap-offset:fill-offset])
		r.have.set(gap, fill)
		r.buffered += fill - gap
		o = fill
	}
	r.storedEnd = max(r.storedEnd, end)
	if r.contiguousEnd >= offset && r.contiguousEnd < end {
		// The gap at the prefix's end is filled: the prefix grows over
		// every stored byte that follows, whose bits it no longer needs.
		newEnd := r.have.firstClear(end, r.storedEnd)
		r.have.clear(r.contiguousEnd, newEnd)
		r.contiguousEnd = newEnd
	}
}

// ensure grows the ring and bitmap to hold need bytes past readOffset,
// moving stored bytes and their bits to their slots in the larger ring.
func (r *reassembly) ensure(need, maxSize int) {
	if need <= r.data.size() {
		return
	}
	old := r.have
	r.data.grow(need, maxSize, r.readOffset, r.storedEnd)
	if r.storedEnd <= r.contiguousEnd {
		// No bits to keep: an in-order stream never has a bitmap.
		r.have = bitRing{}
		return
	}
	r.have = newBitRing(r.data.size())
	for o := r.readOffset; o < r.storedEnd; {
		a := old.firstSet(o, r.storedEnd)
		if a == r.storedEnd {
			break
		}
		b := old.firstClear(a, r.storedEnd)
		r.have.set(a, b)
		o = b
	}
}

// readable is the number of contiguous bytes ready for the application.
func (r *reassembly) readable() int64 { return r.contiguousEnd - r.readOffset }

// read copies contiguous bytes into p and frees their slots.
func (r *reassembly) read(p []byte) int {
	n := int(min(int64(len(p)), r.readable()))
	if n == 0 {
		return 0
	}
	r.data.read(r.readOffset, p[:n])
	r.skip(int64(n))
	return n
}

// peek returns contiguous bytes from readOffset without copying, as far as
// the end of the ring's array or block, and pins the ring until unpin.
func (r *reassembly) peek() []byte {
	n := r.readable()
	if n == 0 {
		return nil
	}
	r.data.pinned = true
	return r.data.view(r.readOffset, int(n))
}

func (r *reassembly) unpin() { r.data.pinned = false }

// discard drops every contiguous byte, as if the application read them.
func (r *reassembly) discard() int64 {
	n := r.readable()
	r.skip(n)
	return n
}

// skip drops n bytes of the contiguous prefix (n <= readable), which have
// no bits to clear.
func (r *reassembly) skip(n int64) {
	r.readOffset += n
	r.buffered -= n
}

// release drops the buffers once no more bytes will be stored or read.
func (r *reassembly) release() {
	r.data.release()
	r.have = bitRing{}
	r.buffered = 0
}

// bitRing is a bitmap addressed by stream offset modulo its size, matching
// the slots of a ring of the same size.
type bitRing struct {
	words []uint64
	size  int64
}

func newBitRing(size int) bitRing {
	return bitRing{words: make([]uint64, (size+63)/64), size: int64(size)}
}

// firstSet returns the first offset in [start, end) whose bit is set, or end.
func (b bitRing) firstSet(start, end int64) int64 { return b.scan(start, end, false) }

// firstClear returns the first offset in [start, end) whose bit is clear, or
// end.
func (b bitRing) firstClear(start, end int64) int64 { return b.scan(start, end, true) }

func (b bitRing) scan(start, end int64, wantClear bool) int64 {
	if b.size == 0 {
		if wantClear {
			return min(start, end)
		}
		return end
	}
	for start < end {
		i := start % b.size
		n := min(end-start, b.size-i)
		if j, ok := scanWords(b.words, int(i), int(i+n), wantClear); ok {
			return start + int64(j) - i
		}
		start += n
	}
	return end
}

// set marks the offsets [start, end); the range must fit in the ring.
func (b bitRing) set(start, end int64) { b.fill(start, end, true) }

// clear unmarks the offsets [start, end); the range must fit in the ring.
func (b bitRing) clear(start, end int64) { b.fill(start, end, false) }

func (b bitRing) fill(start, end int64, on bool) {
	for start < end {
		i := start % b.size
		n := min(end-start, b.size-i)
		fillWords(b.words, int(i), int(i+n), on)
		start += n
	}
}

// scanWords returns the first bit index in [lo, hi) that is clear (or set,
// if wantClear is false).
func scanWords(words []uint64, lo, hi int, wantClear bool) (int, bool) {
	for lo < hi {
		w := words[lo>>6]
		if wantClear {
			w = ^w
		}
		w >>= uint(lo & 63)
		if w != 0 {
			j := lo + bits.TrailingZeros64(w)
			return j, j < hi
		}
		lo = (lo | 63) + 1
	}
	return 0, false
}

// fillWords sets or clears the bits [lo, hi).
func fillWords(words []uint64, lo, hi int, on bool) {
	for lo < hi {
		bit := lo & 63
		width := min(64-bit, hi-lo)
		mask := ^uint64(0) >> uint(64-width) << uint(bit)
		if on {
			words[lo>>6] |= mask
		} else {
			words[lo>>6] &^= mask
		}
		lo += width
	}
}
