package transport

import (
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// TestBufferPoolReserveSurvivesGC: buffers put back are handed out again
// after a garbage collection (a sync.Pool alone would have dropped them),
// up to the reserve's bound.
func TestBufferPoolReserveSurvivesGC(t *testing.T) {
	made := 0
	p := newBufferPool(2, func() *[]byte { made++; b := make([]byte, 8); return &b })
	a, b, c := p.get(), p.get(), p.get()
	if made != 3 {
		t.Fatalf("%d made for 3 gets from an empty pool, want 3", made)
	}
	p.put(a)
	p.put(b)
	p.put(c) // beyond the reserve: to the sync.Pool
	runtime.GC()
	runtime.GC()
	got := map[*[]byte]bool{p.get(): true, p.get(): true}
	if !got[a] || !got[b] || made != 3 {
		t.Fatalf("after a collection the reserve gave back %v (a %v, b %v), %d made; want a and b, none made", got, got[a], got[b], made)
	}
}

// TestRxQueueShrinksWhenQuiet: the queue keeps what a burst grew it to
// while datagrams flow, and gives it back on shrink once drained.
func TestRxQueueShrinksWhenQuiet(t *testing.T) {
	var q rxQueue
	q.init()
	burst := func(n int) {
		for range n {
			q.push(newRxDatagram([]byte{0x40, 1}, netip.AddrPort{}, rxMeta{}, time.Time{}))
		}
		for rx := q.pop(); rx != nil; rx = q.pop() {
			rx.release()
		}
	}
	burst(4 * rxBurst)
	burst(4 * rxBurst)
	if max(cap(q.batch), cap(q.items)) < 4*rxBurst {
		t.Fatalf("after two bursts the slices hold %d and %d, want what the burst grew kept (≥ %d)", cap(q.batch), cap(q.items), 4*rxBurst)
	}
	q.shrink()
	if cap(q.batch) > 2*rxBurst || cap(q.items) > 2*rxBurst {
		t.Fatalf("after shrink the slices hold %d and %d, want at most %d", cap(q.batch), cap(q.items), 2*rxBurst)
	}
}
