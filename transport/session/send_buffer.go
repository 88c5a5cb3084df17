package session

import (
	"sync"
	"unsafe"
)

// sendBuffer holds a stream's bytes from offset base (the first byte the
// peer application has not read) to end (everything written), to send
// again after a reconnect. Chunks are never modified once appended, so a
// sender may write from a slice of one without holding the lock.
type sendBuffer struct {
	chunks [][]byte
	// origins are the chunks as allocated (trim reslices chunks[0] from
	// the front), for a full-size chunk to go back to the pool whole.
	origins [][]byte
	base    int64 // offset of chunks[0][0]
	end     int64
}

// maxChunk bounds a chunk, so that trimming frees memory steadily.
const maxChunk = 64 << 10

// chunkPool recycles full-size chunks: a stream that moves a file would
// otherwise allocate (and the runtime zero) as many bytes as it sends. It
// holds a chunk's first byte, which goes into an interface without an
// allocation.
var chunkPool sync.Pool

// recycleChunk puts a dropped full-size chunk back (a variable so that
// tests can watch what is recycled).
var recycleChunk = func(c []byte) { chunkPool.Put(unsafe.SliceData(c)) }

func newChunk(size int) []byte {
	if size == maxChunk {
		if p, ok := chunkPool.Get().(*byte); ok {
			return unsafe.Slice(p, maxChunk)[:0]
		}
	}
	return make([]byte, 0, size)
}

func (b *sendBuffer) len() int64 { return b.end - b.base }

// append copies p in.
func (b *sendBuffer) append(p []byte) {
	b.end += int64(len(p))
	for len(p) > 0 {
		if n := len(b.chunks); n > 0 {
			last := b.chunks[n-1]
			if room := cap(last) - len(last); room > 0 {
				k := min(room, len(p))
				b.chunks[n-1] = append(last, p[:k]...)
				p = p[k:]
				continue
			}
		}
		// A stream that writes little holds a small chunk; once one
		// chunk is not enough, they are full-size (and recycled).
		size := maxChunk
		if len(b.chunks) == 0 {
			size = min(maxChunk, max(len(p), 4096))
		}
		c := newChunk(size)
		b.chunks = append(b.chunks, c)
		b.origins = append(b.origins, c)
	}
}

// trim drops the bytes before off and returns how many it dropped. A
// full-size chunk it drops goes back to the pool if recycle is set and it
// does not overlap [busyLo, busyHi), the range a sender is copying from.
func (b *sendBuffer) trim(off int64, recycle bool, busyLo, busyHi int64) int64 {
	if off <= b.base {
		return 0
	}
	off = min(off, b.end)
	dropped := off - b.base
	for dropped > 0 && len(b.chunks) > 0 {
		c := b.chunks[0]
		n := int64(len(c))
		k := min(n, off-b.base)
		if k == n && (cap(c) == len(c) || len(b.chunks) > 1) {
			start := b.base - int64(cap(b.origins[0])-cap(c)) // of the whole chunk
			if o := b.origins[0]; recycle && cap(o) == maxChunk && (start+maxChunk <= busyLo || start >= busyHi) {
				recycleChunk(o)
			}
			b.chunks[0], b.origins[0] = nil, nil
			b.chunks, b.origins = b.chunks[1:], b.origins[1:]
		} else {
			// The last chunk keeps its spare capacity: appends go
			// after the bytes a sender may still be reading.
			b.chunks[0] = c[k:]
		}
		b.base += k
		if b.base == off {
			break
		}
	}
	if len(b.chunks) == 0 {
		b.chunks, b.origins = nil, nil
	}
	return dropped
}

// slice returns the bytes from off, at most max of them, without copying.
func (b *sendBuffer) slice(off int64, max int) []byte {
	if off < b.base || off >= b.end {
		return nil
	}
	pos := b.base
	for _, c := range b.chunks {
		if off < pos+int64(len(c)) {
			c = c[off-pos:]
			if len(c) > max {
				c = c[:max]
			}
			return c
		}
		pos += int64(len(c))
	}
	return nil
}

// reset drops everything.
func (b *sendBuffer) reset() int64 {
	n := b.len()
	b.chunks, b.origins = nil, nil
	b.base = b.end
	return n
}
