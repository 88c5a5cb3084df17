package qsend

import (
	"context"
	"sync"
	"time"
)

// rateLimiter is a token bucket shared by all of a sender's file streams, so
// --rate bounds the whole transfer however many files are in flight. It
// limits what the application writes; the transport's pacing and congestion
// control still decide when packets leave.
type rateLimiter struct {
	rate  float64 // bytes per second
	burst float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
	now    func() time.Time
}

// newRateLimiter allows bytesPerSecond on average with bursts of a tenth of
// a second (at least one write chunk, so a write never waits forever).
func newRateLimiter(bytesPerSecond int64, chunk int, now func() time.Time) *rateLimiter {
	burst := max(float64(bytesPerSecond)/10, float64(chunk))
	return &rateLimiter{rate: float64(bytesPerSecond), burst: burst, tokens: burst, now: now}
}

// reserve takes n tokens, going into debt if need be, and returns how long
// the caller must wait before using them. Debt makes concurrent writers
// queue fairly instead of all waking at once.
func (l *rateLimiter) reserve(n int) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	l.tokens -= float64(n)
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / l.rate * float64(time.Second))
}

// wait blocks until n bytes may be written, or ctx ends.
func (l *rateLimiter) wait(ctx context.Context, n int) error {
	if l == nil {
		return nil
	}
	d := l.reserve(n)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
