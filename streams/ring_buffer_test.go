package streams

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestRingGrowKeepsWindow slides a window over a ring that grows from one
// array through blocks to its cap (a whole number of blocks or not), with
// the window's ends at arbitrary offsets, so that growth meets windows
// that wrap onto their first block; every byte written and not yet freed
// reads back as written.
func TestRingGrowKeepsWindow(t *testing.T) {
	for _, maxSize := range []int{3 * ringBlockSize, 5*ringBlockSize + 12345, 1 << 22} {
		for seed := range uint64(10) {
			rng := rand.New(rand.NewPCG(seed, uint64(maxSize)))
			var r ring
			var start, end int64 // the live window [start, end)
			for step := 0; step < 400; step++ {
				if rng.IntN(3) == 0 && end > start {
					start += rng.Int64N(end - start + 1) // free some
				}
				n := 1 + rng.IntN(ringBlockSize+ringBlockSize/2)
				n = min(n, maxSize-int(end-start))
				if n == 0 {
					start = end
					continue
				}
				before := r.size()
				r.grow(int(end-start)+n, maxSize, start, end)
				if r.size() > maxSize {
					t.Fatalf("ring of %d bytes exceeds its cap %d", r.size(), maxSize)
				}
				r.write(end, ringPattern(end, n))
				end += int64(n)
				if r.size() == before && step%16 != 0 {
					continue // the whole window is checked after growth
				}
				got := make([]byte, end-start)
				r.read(start, got)
				if !bytes.Equal(got, ringPattern(start, len(got))) {
					t.Fatalf("cap %d seed %d step %d: window [%d, %d) of a %d-byte ring differs from what was written", maxSize, seed, step, start, end, r.size())
				}
			}
			r.release()
		}
	}
}

// pattern is the byte sequence that stream offset off starts.
func ringPattern(off int64, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		o := off + int64(i)
		b[i] = byte(o) ^ byte(o>>8) ^ byte(o>>16)
	}
	return b
}

// TestRingViewStopsAtBlock: a view never crosses a block's end, and its
// capacity ends with it.
func TestRingViewStopsAtBlock(t *testing.T) {
	var r ring
	r.grow(4*ringBlockSize, 4*ringBlockSize, 0, 0)
	if r.blocks == nil {
		t.Fatal("a ring of four blocks is one array")
	}
	v := r.view(ringBlockSize-10, 100)
	if len(v) != 10 || cap(v) != 10 {
		t.Fatalf("view across a block boundary: len %d cap %d, want 10 and 10", len(v), cap(v))
	}
}
