package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Transfer buffer sizes. Every protocol writes the same 64 KiB chunks, so
// the per-call overhead is the same for all of them; the server reads into a
// larger buffer so that a fast sender is never held back by read calls.
const (
	writeChunk = 64 << 10
	readBuffer = 256 << 10
)

// session is one protocol's half of a measured transfer: how to connect the
// two ends, and how to tear everything down. transfer drives it.
type session struct {
	protocol string
	// accept waits for the client and returns the server's receiving side.
	// It runs on its own goroutine.
	accept func(ctx context.Context) (io.Reader, error)
	// dial connects the client and returns its sending side.
	dial func(ctx context.Context) (io.Writer, error)
	// finish runs once the client has written every byte: a half-close,
	// and for limpet waiting for the receipt.
	finish func(ctx context.Context) error
	// stats, if set, runs after the server has read every byte and before
	// teardown, and reports the sender's retransmissions and what the
	// connection negotiated. An error fails the transfer: it means the
	// comparison was not the intended one.
	stats func() (retransmitted uint64, detail string, err error)
	// bottleneck, if set, runs with stats and reports what held the
	// sender back (limpet only).
	bottleneck func() *Bottleneck
	// path, if set, runs after stats and reports what the sender knew
	// about the path.
	path func() *PathStats
	// closers holds the listener and connections; closing them unblocks
	// any call still in progress.
	closers *closerSet
}

// transfer moves size bytes from the client to the server of s and measures
// it. It always tears the session down before returning.
func transfer(parent context.Context, size int64, s session) Result {
	defer s.closers.closeAll()
	if size <= 0 {
		return failedResult(s.protocol, fmt.Errorf("bench: transfer size %d, want > 0", size))
	}

	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	// The sender's counters are read once, before the sockets close: at
	// the end of a good run, or when the run is cut short (a time cap
	// still wants the retransmissions of what it moved).
	var (
		dialed    atomic.Bool
		statsOnce sync.Once
		retrans   uint64
		detail    string
		statsErr  error
		limits    *Bottleneck
		pathStats *PathStats
	)
	takeStats := func() {
		statsOnce.Do(func() {
			if s.stats != nil && dialed.Load() {
				retrans, detail, statsErr = s.stats()
			}
			if s.bottleneck != nil && dialed.Load() {
				limits = s.bottleneck()
			}
			if s.path != nil && dialed.Load() {
				pathStats = s.path()
			}
		})
	}
	// Cancellation (a failure on either side, or the caller's deadline)
	// closes every socket so that blocked reads and writes return.
	stop := context.AfterFunc(ctx, func() {
		takeStats()
		s.closers.closeAll()
	})
	defer stop()

	var (
		failOnce sync.Once
		firstErr error
	)
	fail := func(err error) {
		failOnce.Do(func() { firstErr = err; cancel() })
	}

	// Leave the previous run's garbage out of this run's CPU time.
	runtime.GC()

	res := Result{Protocol: s.protocol}
	cpuStart, err := cpuTime()
	if err != nil {
		return failedResult(s.protocol, err)
	}
	start := time.Now()

	type serverOutcome struct {
		n           int64
		first, done time.Time
	}
	served := make(chan serverOutcome, 1)
	go func() {
		var out serverOutcome
		defer func() { served <- out }()
		r, err := s.accept(ctx)
		if err != nil {
			fail(fmt.Errorf("server accept: %w", err))
			return
		}
		out.n, out.first, err = drain(r, size)
		out.done = time.Now()
		if err != nil {
			fail(fmt.Errorf("server read after %d bytes: %w", out.n, err))
		}
	}()

	if err := send(ctx, s, size, &dialed); err != nil {
		fail(err)
	}
	out := <-served
	cpuEnd, cpuErr := cpuTime()

	res.Bytes = out.n
	if !out.first.IsZero() {
		res.TTFB = out.first.Sub(start)
	}
	// Once waits for a snapshot that cancellation started.
	takeStats()
	if firstErr == nil && statsErr != nil {
		fail(statsErr)
	}
	res.Retransmitted, res.Detail, res.Bottleneck, res.Path = retrans, detail, limits, pathStats
	if firstErr == nil && cpuErr != nil {
		fail(cpuErr)
	}
	if firstErr != nil {
		// A failure seen after the caller's deadline or cancellation is
		// usually just the socket we closed; the caller's reason is the one
		// worth reporting.
		if parentErr := parent.Err(); parentErr != nil && !errors.Is(firstErr, parentErr) {
			firstErr = fmt.Errorf("%w (%v)", parentErr, firstErr)
		}
		res.Err, res.cause = firstErr.Error(), firstErr
		res.Seconds = time.Since(start).Seconds()
		res.partialCPU = cpuEnd - cpuStart
		return res
	}
	res.complete(out.done.Sub(start), cpuEnd-cpuStart)
	return res
}

// send dials and writes size bytes in writeChunk pieces, then finishes the
// stream.
func send(ctx context.Context, s session, size int64, dialed *atomic.Bool) error {
	w, err := s.dial(ctx)
	if err != nil {
		return fmt.Errorf("client dial: %w", err)
	}
	dialed.Store(true)
	chunk := payload()
	for sent := int64(0); sent < size; {
		n := min(int64(len(chunk)), size-sent)
		m, err := w.Write(chunk[:n])
		sent += int64(m)
		if err != nil {
			return fmt.Errorf("client write after %d bytes: %w", sent, err)
		}
	}
	if err := s.finish(ctx); err != nil {
		return fmt.Errorf("client finish: %w", err)
	}
	return nil
}

// payload returns the chunk the client writes: a fixed non-zero pattern, so
// that nothing along the way could profit from runs of zeros.
var payload = sync.OnceValue(func() []byte {
	b := make([]byte, writeChunk)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
})

// drain reads from r until size bytes have arrived and returns the count and
// when the first byte arrived. An end of stream before size bytes is
// io.ErrUnexpectedEOF.
func drain(r io.Reader, size int64) (n int64, first time.Time, err error) {
	buf := make([]byte, readBuffer)
	for n < size {
		m, err := r.Read(buf[:min(int64(len(buf)), size-n)])
		if m > 0 && n == 0 {
			first = time.Now()
		}
		n += int64(m)
		if err == io.EOF {
			if n < size {
				return n, first, io.ErrUnexpectedEOF
			}
			break
		}
		if err != nil {
			return n, first, err
		}
	}
	return n, first, nil
}

// closerSet closes a growing set of listeners and connections exactly once;
// a closer added after closeAll is closed at once, so a connection that
// completes during teardown does not leak.
type closerSet struct {
	mu      sync.Mutex
	closed  bool
	closers []io.Closer
}

func (c *closerSet) add(x io.Closer) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		x.Close()
		return
	}
	c.closers = append(c.closers, x)
	c.mu.Unlock()
}

func (c *closerSet) closeAll() {
	c.mu.Lock()
	cs := c.closers
	c.closers, c.closed = nil, true
	c.mu.Unlock()
	// Connections before listeners: the reverse of the order they were added.
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i].Close()
	}
}
