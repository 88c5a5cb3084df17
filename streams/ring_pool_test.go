package streams

import (
	"bytes"
	"testing"
)

// TestRecycledRingsLeakNothing: ring buffers are recycled dirty (a pool of
// them is filled with 0xAA here first), and neither a receive stream with
// gaps nor a send stream ever hands out a byte it did not write, so none of
// the old bytes shows up.
func TestRecycledRingsLeakNothing(t *testing.T) {
	for size := minRingSize; size <= 1<<20; size *= 2 {
		for range 4 {
			putRingBuf(bytes.Repeat([]byte{0xAA}, size))
		}
	}
	data := make([]byte, 300_000)
	for i := range data {
		data[i] = byte(i%251) | 1 // odd: never 0xAA
	}
	r := NewRecvStream(1<<20, 1<<20)
	conn := NewRecvWindow(1<<40, 1<<40)
	// Every other 1000-byte frame first, then the gaps, growing the ring
	// on the way.
	for pass := range 2 {
		for off := pass * 1000; off < len(data); off += 2000 {
			end := min(off+1000, len(data))
			mustHandle(t, r, int64(off), data[off:end], end == len(data), conn)
		}
	}
	got := make([]byte, len(data)+1)
	n, _ := r.Read(got)
	if n != len(data) || !bytes.Equal(got[:n], data) {
		t.Fatalf("read %d bytes; equal to those sent: %v (an old byte leaked or data was lost)", n, bytes.Equal(got[:n], data))
	}

	s := NewSendStream(SendStreamConfig{MaxBuffered: 1 << 20})
	s.window.SetLimit(1 << 40)
	conns := NewSendWindow(1 << 40)
	for written := 0; written < len(data); {
		written += s.Write(data[written:])
		off, frame, _, ok := s.NextFrame(1500, conns)
		if !ok {
			t.Fatal("no frame to send")
		}
		if want := data[off : off+int64(len(frame))]; !bytes.Equal(frame, want) {
			t.Fatalf("frame at %d differs from what was written", off)
		}
		s.OnAcked(off, len(frame), false)
	}
}

// TestRingPoolRecyclesWithoutAllocating: a buffer put back and taken again
// costs no allocation (the pools hold a pointer, not a slice header), and
// comes back whole: the same memory, the size asked for.
func TestRingPoolRecyclesWithoutAllocating(t *testing.T) {
	for _, size := range []int{minRingSize, ringBlockSize} {
		b := getRingBuf(size)
		putRingBuf(b)
		allocs := testing.AllocsPerRun(100, func() {
			got := getRingBuf(size)
			if len(got) != size || cap(got) != size {
				t.Fatalf("size %d: got len %d cap %d", size, len(got), cap(got))
			}
			putRingBuf(got)
		})
		if allocs != 0 {
			t.Errorf("size %d: %.1f allocations per get and put, want 0", size, allocs)
		}
	}
}
