package streams

import (
	"math/bits"
	"sync"
	"unsafe"
)

// minRingSize is the first allocation of a stream buffer, unless the
// stream's cap is smaller. Streams that carry little data stay small.
const minRingSize = 4096

// ringBlockSize is where a ring stops being one array: larger rings are
// made of blocks of this size, so that growing one moves block pointers
// instead of bytes. (A hundred streams of 10 MiB each doubling a
// contiguous ring to a few MiB spent 15% of their CPU copying.)
const (
	ringBlockShift = 16
	ringBlockSize  = 1 << ringBlockShift
	ringBlockMask  = ringBlockSize - 1
)

// ring holds a sliding window of a stream's bytes addressed by stream
// offset. A small ring is one array, byte o at buf[o % len(buf)]; a large
// one is len(blocks) blocks, byte o in block (o / ringBlockSize) %
// len(blocks). Because the position depends only on the offset, data
// received or written out of order lands in place and no bytes move as the
// window slides. The ring grows up to a cap given by its owner and is never
// shrunk while the stream is live, so steady-state use does not allocate.
type ring struct {
	buf    []byte   // the ring while it is at most one block
	blocks [][]byte // the ring's blocks once it is larger (buf is nil)
	// pinned: a view of the ring is outside its owner's lock (RecvStream's
	// Peek), so buffers it drops go to the garbage collector rather than
	// to the pools, where another stream could write into them.
	pinned bool
}

// size is the ring's capacity in bytes.
func (r *ring) size() int {
	if r.blocks != nil {
		return len(r.blocks) << ringBlockShift
	}
	return len(r.buf)
}

// grow makes room for need bytes, keeping the bytes at offsets
// [start, end) in place. It doubles the ring, never past maxSize. need
// above maxSize is a bug in the caller, which bounds need by its
// flow-control window or buffer cap.
func (r *ring) grow(need, maxSize int, start, end int64) {
	size := r.size()
	if need <= size {
		return
	}
	if need > maxSize {
		panic("streams: ring buffer grown beyond its cap")
	}
	n := min(max(2*size, need, minRingSize), maxSize)
	if nb := blocksFor(n, need, maxSize); nb > 0 {
		if r.blocks != nil {
			r.growBlocks(nb, start, end)
			return
		}
		// From one array to blocks: the live bytes, at most a block, move.
		old := *r
		*r = ring{blocks: make([][]byte, nb), pinned: old.pinned}
		for i := range r.blocks {
			r.blocks[i] = getRingBuf(ringBlockSize)
		}
		r.copyFrom(old, start, end)
		old.release()
		return
	}
	old := *r
	*r = ring{buf: getRingBuf(n), pinned: old.pinned}
	r.copyFrom(old, start, end)
	old.release()
}

// blocksFor is the number of blocks for a ring of about n bytes holding
// need within maxSize, or 0 when it is to be one array: n is at most a
// block, or maxSize is not a whole number of blocks and need lies in the
// part past the last whole one (the cap's last growth).
func blocksFor(n, need, maxSize int) int {
	if n <= ringBlockSize {
		return 0
	}
	nb := (n + ringBlockMask) >> ringBlockShift
	if nb<<ringBlockShift > maxSize {
		nb = maxSize >> ringBlockShift
	}
	if nb<<ringBlockShift < need {
		return 0
	}
	return nb
}

// copyFrom copies the bytes at offsets [start, end) from old into r.
func (r *ring) copyFrom(old ring, start, end int64) {
	if old.size() == 0 {
		return
	}
	for off := start; off < end; {
		chunk := old.view(off, int(end-off))
		r.write(off, chunk)
		off += int64(len(chunk))
	}
}

// growBlocks re-slots the blocks holding [start, end) into a ring of nb
// blocks. A block holds two live block numbers when the window wraps onto
// the block it starts in; their new slots differ, so the later part is
// copied into a block of its own.
func (r *ring) growBlocks(nb int, start, end int64) {
	old := r.blocks
	r.blocks = make([][]byte, nb)
	used := make([]bool, len(old))
	if start < end {
		first, last := start>>ringBlockShift, (end-1)>>ringBlockShift
		for b := first; b <= last; b++ {
			i := int(b % int64(len(old)))
			if !used[i] {
				used[i] = true
				r.blocks[b%int64(nb)] = old[i]
				continue
			}
			// The block of first again: copy b's live head out of it.
			blk := getRingBuf(ringBlockSize)
			copy(blk[:end&ringBlockMask], old[i])
			r.blocks[b%int64(nb)] = blk
		}
	}
	spare := 0
	for i := range r.blocks {
		if r.blocks[i] != nil {
			continue
		}
		for spare < len(old) && used[spare] {
			spare++
		}
		if spare < len(old) {
			r.blocks[i] = old[spare]
			used[spare] = true
			continue
		}
		r.blocks[i] = getRingBuf(ringBlockSize)
	}
}

// write copies p to the offsets starting at off.
func (r *ring) write(off int64, p []byte) {
	for len(p) > 0 {
		n := copy(r.at(off), p)
		p = p[n:]
		off += int64(n)
	}
}

// read copies the bytes starting at off into p.
func (r *ring) read(off int64, p []byte) {
	for len(p) > 0 {
		n := copy(p, r.at(off))
		p = p[n:]
		off += int64(n)
	}
}

// at returns the ring from off to the end of its array or block.
func (r *ring) at(off int64) []byte {
	if r.blocks != nil {
		return r.blocks[(off>>ringBlockShift)%int64(len(r.blocks))][off&ringBlockMask:]
	}
	return r.buf[off%int64(len(r.buf)):]
}

// view returns up to n bytes starting at off without copying. It stops at
// the end of the underlying array or block, so it may return fewer than n
// bytes. The slice's capacity ends with it, so appending to it cannot
// overwrite the ring.
func (r *ring) view(off int64, n int) []byte {
	b := r.at(off)
	b = b[:min(n, len(b))]
	return b[:len(b):len(b)]
}

// release drops the buffers once the stream no longer needs its bytes.
func (r *ring) release() {
	if !r.pinned {
		putRingBuf(r.buf)
		for _, b := range r.blocks {
			putRingBuf(b)
		}
	}
	r.buf = nil
	r.blocks = nil
}

// Ring buffers and blocks are recycled by power-of-two size, among all
// streams: a connection running 100 streams of 10 MiB in parallel
// allocated (and the runtime zeroed) about as many bytes of buffer as it
// moved. A recycled buffer holds old bytes, which is safe because a ring
// never hands out a byte before it was written (the send buffer reads only
// what was written; reassembly only what arrived). The pools hold a
// buffer's first byte, not a *[]byte: a pointer goes into an interface
// without an allocation, a slice header would cost one every Put. A class
// has one size, so the pointer and the class give back the slice.
var ringPools [bits.UintSize]sync.Pool // by bits.Len of the size

// pooledRingClass is the pool for a buffer of n bytes, or -1.
func pooledRingClass(n int) int {
	if n < minRingSize || n > ringBlockSize || n&(n-1) != 0 {
		return -1
	}
	return bits.Len(uint(n))
}

func getRingBuf(n int) []byte {
	if c := pooledRingClass(n); c >= 0 {
		if p, ok := ringPools[c].Get().(*byte); ok {
			return unsafe.Slice(p, n)
		}
	}
	return make([]byte, n)
}

func putRingBuf(b []byte) {
	if c := pooledRingClass(len(b)); c >= 0 && cap(b) == len(b) {
		ringPools[c].Put(unsafe.SliceData(b))
	}
}
