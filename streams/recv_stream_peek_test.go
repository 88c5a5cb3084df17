package streams

import (
	"bytes"
	"testing"
)

// TestRecvStreamPeekConsume: Peek hands out the contiguous bytes in place,
// as far as a ring block; Consume counts what the caller took, credits the
// window as Read does, and reports the end of the stream.
func TestRecvStreamPeekConsume(t *testing.T) {
	data := make([]byte, 200_000)
	for i := range data {
		data[i] = byte(i % 253)
	}
	r := NewRecvStream(1<<20, 1<<20)
	conn := NewRecvWindow(1<<40, 1<<40)
	if p, fin := r.Peek(); p != nil || fin {
		t.Fatalf("Peek before data = %d bytes, fin %v; want nothing", len(p), fin)
	}
	// The second half first: nothing to peek until the first arrives.
	mustHandle(t, r, 100_000, data[100_000:], true, conn)
	if p, fin := r.Peek(); p != nil || fin {
		t.Fatalf("Peek with a gap at the front = %d bytes, fin %v; want nothing", len(p), fin)
	}
	mustHandle(t, r, 0, data[:100_000], false, conn)
	var got []byte
	for {
		p, fin := r.Peek()
		if fin {
			t.Fatalf("Peek reported the end at %d of %d bytes", len(got), len(data))
		}
		if len(p) == 0 || len(p) > ringBlockSize {
			t.Fatalf("Peek at %d = %d bytes, want 1 to %d", len(got), len(p), ringBlockSize)
		}
		take := min(len(p), 50_000) // a writer that takes part of a view
		got = append(got, p[:take]...)
		n, fin := r.Consume(take)
		if n != take {
			t.Fatalf("Consume(%d) counted %d", take, n)
		}
		if r.Consumed() != int64(len(got)) {
			t.Fatalf("Consumed = %d after %d bytes", r.Consumed(), len(got))
		}
		if fin {
			break
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the views did not add up to the data")
	}
	if r.State() != RecvDataRead {
		t.Fatalf("state %v after the last byte, want DataRead", r.State())
	}
	if p, fin := r.Peek(); p != nil || !fin {
		t.Fatalf("Peek after the end = %d bytes, fin %v; want none, fin", len(p), fin)
	}

	// Consume credits the stream's window as Read does.
	r = NewRecvStream(1000, 1000)
	mustHandle(t, r, 0, pattern(1000), false, nil)
	if p, _ := r.Peek(); len(p) != 1000 {
		t.Fatalf("Peek = %d bytes, want 1000", len(p))
	}
	r.Consume(500)
	if limit, ok := r.WindowUpdate(t0, 0); !ok || limit != 1500 {
		t.Fatalf("WindowUpdate after consuming 500 = (%d, %v), want (1500, true)", limit, ok)
	}
}

// TestRecvStreamPeekSurvivesResetAndGrowth: a view stays valid and unchanged
// while the stream's buffer grows and when a reset drops it: the dropped
// buffers do not go to the pool, where another stream would write into
// them; Consume after the reset counts nothing.
func TestRecvStreamPeekSurvivesResetAndGrowth(t *testing.T) {
	r := NewRecvStream(1<<20, 1<<20)
	first := bytes.Repeat([]byte{'a'}, 3000)
	mustHandle(t, r, 0, first, false, nil)
	view, _ := r.Peek()
	if !bytes.Equal(view, first) {
		t.Fatalf("Peek = %d bytes, want the 3000 received", len(view))
	}
	// Growth: the 4 KiB array is replaced by a larger one.
	mustHandle(t, r, 3000, bytes.Repeat([]byte{'b'}, 200_000), false, nil)
	if err := r.HandleReset(7, 300_000, nil); err != nil {
		t.Fatal(err)
	}
	// Whatever the pools hold now is written over, as another stream would.
	for size := minRingSize; size <= ringBlockSize; size *= 2 {
		for range 8 {
			b := getRingBuf(size)
			for i := range b {
				b[i] = 'X'
			}
			putRingBuf(b)
		}
	}
	if !bytes.Equal(view, first) {
		t.Fatal("the view changed after growth and reset: its buffer was recycled")
	}
	if n, fin := r.Consume(len(view)); n != 0 || fin {
		t.Fatalf("Consume after a reset = %d, %v; want 0, false", n, fin)
	}
	if p, fin := r.Peek(); p != nil || fin {
		t.Fatalf("Peek after a reset = %d bytes, fin %v; want nothing", len(p), fin)
	}
	if code, ok := r.ResetCode(); !ok || code != 7 {
		t.Fatalf("ResetCode = %d, %v; want 7", code, ok)
	}
}
