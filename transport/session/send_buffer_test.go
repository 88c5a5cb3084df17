package session

import (
	"bytes"
	"testing"
)

// TestSendBufferRecyclesOnlyFreeChunks: trimming gives back full-size
// chunks the peer has read, but not one a pump may still be copying from
// (the busy range), and not when several pumps are alive (recycle unset);
// what stays buffered reads back intact. Writes that do not fill a chunk
// still leave full-size chunks once the buffer holds more than one.
func TestSendBufferRecyclesOnlyFreeChunks(t *testing.T) {
	var recycled [][]byte
	defer func(f func([]byte)) { recycleChunk = f }(recycleChunk)
	recycleChunk = func(c []byte) { recycled = append(recycled, c) }

	data := make([]byte, 5*maxChunk+1000)
	for i := range data {
		data[i] = byte(i*7 + i>>16)
	}
	fill := func() *sendBuffer {
		b := new(sendBuffer)
		for p := data; len(p) > 0; {
			n := min(len(p), 100_000) // writes that straddle chunks
			b.append(p[:n])
			p = p[n:]
		}
		return b
	}
	tests := []struct {
		name           string
		recycle        bool
		busyLo, busyHi int64
		want           int // chunks recycled by trimming to 4·maxChunk+10
	}{
		{"free", true, 0, 0, 4},
		{"busy second chunk", true, maxChunk + 5, maxChunk + 6, 3},
		{"busy across two", true, 2*maxChunk - 1, 2*maxChunk + 1, 2},
		{"other pumps alive", false, 0, 0, 0},
	}
	for _, tt := range tests {
		recycled = nil
		b := fill()
		if got := b.trim(4*maxChunk+10, tt.recycle, tt.busyLo, tt.busyHi); got != 4*maxChunk+10 {
			t.Fatalf("%s: trimmed %d bytes", tt.name, got)
		}
		if len(recycled) != tt.want {
			t.Errorf("%s: %d chunks recycled, want %d", tt.name, len(recycled), tt.want)
		}
		for _, c := range recycled {
			if cap(c) != maxChunk {
				t.Errorf("%s: recycled a chunk of %d bytes", tt.name, cap(c))
			}
		}
		var rest []byte
		for off := b.base; off < b.end; {
			s := b.slice(off, maxChunk)
			rest = append(rest, s...)
			off += int64(len(s))
		}
		if !bytes.Equal(rest, data[4*maxChunk+10:]) {
			t.Errorf("%s: the buffered bytes changed", tt.name)
		}
	}

	// A partly trimmed chunk goes back whole once the rest is read.
	recycled = nil
	b := new(sendBuffer)
	b.append(data[:maxChunk])
	b.append(data[maxChunk : maxChunk+100])
	b.trim(1000, true, 0, 0)
	b.trim(maxChunk+100, true, 0, 0)
	if len(recycled) != 1 || cap(recycled[0]) != maxChunk {
		t.Errorf("%d chunks recycled after reading a chunk in two parts, want 1", len(recycled))
	}
	if len(recycled) == 1 && !bytes.Equal(recycled[0][:maxChunk], data[:maxChunk]) {
		t.Error("the recycled chunk is not the whole chunk as written")
	}

	// A small first chunk is not pooled.
	recycled = nil
	b = new(sendBuffer)
	b.append(data[:100])
	b.append(data[100:200])
	b.trim(200, true, 0, 0)
	if len(recycled) != 0 {
		t.Errorf("a %d-byte chunk was recycled", cap(recycled[0]))
	}
}
