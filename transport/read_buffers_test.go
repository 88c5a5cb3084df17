package transport

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
)

// TestReadBuffersAdapt: a reader starts with one 64 KiB buffer and doubles
// its batch, up to its maximum, each time a call fills it with datagrams
// that were waiting (GRO coalesced several into one buffer); a full batch
// of single datagrams, a handshake's or a request's, does not grow it. It
// keeps the batch while calls keep filling it, falls back to one buffer
// after a second without a full batch, and at the end holds none.
func TestReadBuffersAdapt(t *testing.T) {
	now := time.Unix(1000, 0)
	r := newReadBuffers(1, 8, true)
	want := func(n int, when string) {
		t.Helper()
		if len(r.dgrams) != n || len(r.bufs) != n {
			t.Fatalf("%s: %d datagrams over %d buffers, want %d", when, len(r.dgrams), len(r.bufs), n)
		}
		for i, d := range r.dgrams {
			if len(d.Buf) != BindReadBufferSize || &d.Buf[0] != &r.bufs[i][0] {
				t.Fatalf("%s: datagram %d reads into %d bytes, not its own 64 KiB buffer", when, i, len(d.Buf))
			}
		}
	}
	want(1, "new")
	for range 10 {
		r.afterRead(1, 1, now)
	}
	want(1, "after ten calls of one datagram each")
	r.afterRead(1, 20, now)
	want(2, "after a call of one GRO train")
	r.afterRead(1, 40, now)
	want(2, "after a call that left one of 2 empty")
	r.afterRead(2, 3, now)
	r.afterRead(4, 90, now)
	want(8, "after full calls of 2 and 4 with trains")
	r.afterRead(8, 200, now)
	want(8, "at the maximum")
	r.afterRead(3, 3, now.Add(readShrinkAfter))
	want(8, "a second after the last full call")
	r.afterRead(3, 3, now.Add(readShrinkAfter+time.Millisecond))
	want(1, "more than a second after the last full call")
	r.release()
	want(0, "released")
}

// TestReadBuffersAdaptWithoutGRO: on a socket without GRO every datagram
// takes a buffer, so three full calls in a row are the sign that datagrams
// are waiting.
func TestReadBuffersAdaptWithoutGRO(t *testing.T) {
	now := time.Unix(1000, 0)
	r := newReadBuffers(1, 8, false)
	defer r.release()
	r.afterRead(1, 1, now)
	r.afterRead(1, 1, now)
	if len(r.dgrams) != 1 {
		t.Fatalf("after two full calls: %d buffers, want 1", len(r.dgrams))
	}
	r.afterRead(1, 1, now)
	if len(r.dgrams) != 2 {
		t.Fatalf("after three full calls: %d buffers, want 2", len(r.dgrams))
	}
	r.afterRead(1, 1, now) // not full: the streak ends
	r.afterRead(2, 2, now)
	r.afterRead(2, 2, now)
	if len(r.dgrams) != 2 {
		t.Fatalf("after a partial call and two full ones: %d buffers, want 2", len(r.dgrams))
	}
	r.afterRead(2, 2, now)
	if len(r.dgrams) != 4 {
		t.Fatalf("after three full calls of 2: %d buffers, want 4", len(r.dgrams))
	}
}

// TestReadBuffersReused: buffers a reader releases are the next reader's,
// without allocating.
func TestReadBuffersReused(t *testing.T) {
	newReadBuffers(1, 1, true).release() // the pool holds at least one
	allocs := testing.AllocsPerRun(100, func() {
		r := newReadBuffers(1, 1, true)
		r.release()
	})
	// The readBuffers and its two slices; not the 64 KiB buffer.
	if allocs > 3 {
		t.Errorf("%.1f allocations per reader, want at most 3 (no fresh buffer)", allocs)
	}
}

// TestReadBuffersFixed: an accepting endpoint's reader starts with its whole
// batch and keeps it, quiet or not.
func TestReadBuffersFixed(t *testing.T) {
	now := time.Unix(1000, 0)
	r := newReadBuffers(16, 16, true)
	defer r.release()
	r.afterRead(16, 400, now)
	r.afterRead(1, 1, now.Add(time.Minute))
	if len(r.dgrams) != 16 {
		t.Fatalf("%d buffers after a quiet minute, want 16", len(r.dgrams))
	}
}

// batchRecordingBind is a Bind that claims batches of 16 and records how
// many datagrams each ReadBatch call offered to fill.
type batchRecordingBind struct {
	Bind
	mu    sync.Mutex
	sizes []int
}

func (b *batchRecordingBind) BatchSize() int { return 16 }

func (b *batchRecordingBind) ReadBatch(dgrams []Datagram) (int, error) {
	b.mu.Lock()
	b.sizes = append(b.sizes, len(dgrams))
	b.mu.Unlock()
	return b.Bind.ReadBatch(dgrams)
}

func (b *batchRecordingBind) batches() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.sizes)
}

// TestReaderBatchByEndpointKind: a dialled connection's reader offers one
// buffer at first, and grows only after three full calls in a row (this
// Bind does not coalesce); a listener's offers its whole batch from the
// first call and keeps it.
func TestReaderBatchByEndpointKind(t *testing.T) {
	key, _ := crypto.GenerateKey()
	var srvBind, cliBind *batchRecordingBind
	_, cli, srv, _ := simPairWrapped(t, key,
		func(b Bind) Bind { srvBind = &batchRecordingBind{Bind: b}; return srvBind },
		func(b Bind) Bind { cliBind = &batchRecordingBind{Bind: b}; return cliBind })
	transferDuring(t, cli, srv, 4<<10, func() {})
	cb, sb := cliBind.batches(), srvBind.batches()
	if len(cb) < 3 || cb[0] != 1 || cb[1] != 1 || cb[2] != 1 {
		t.Errorf("the client's reader offered %v, want 1 buffer for at least the first three calls", cb)
	}
	for i, n := range sb {
		if n != 16 {
			t.Fatalf("the listener's reader offered %d buffers in call %d (all: %v), want 16 every time", n, i, sb)
		}
	}
	if len(sb) == 0 {
		t.Fatal("the listener's reader never read")
	}
}
