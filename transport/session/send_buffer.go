package session

// sendBuffer holds a stream's bytes from offset base (the first byte the
// peer application has not read) to end (everything written), to send
// again after a reconnect. Chunks are never modified once appended, so a
// sender may write from a slice of one without holding the lock.
type sendBuffer struct {
	chunks [][]byte
	base   int64 // offset of chunks[0][0]
	end    int64
}

// maxChunk bounds a chunk, so that trimming frees memory steadily.
const maxChunk = 64 << 10

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
		c := make([]byte, 0, min(maxChunk, max(len(p), 4096)))
		b.chunks = append(b.chunks, c)
	}
}

// trim drops the bytes before off and returns how many it dropped.
func (b *sendBuffer) trim(off int64) int64 {
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
			b.chunks[0] = nil
			b.chunks = b.chunks[1:]
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
		b.chunks = nil
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
	b.chunks = nil
	b.base = b.end
	return n
}
