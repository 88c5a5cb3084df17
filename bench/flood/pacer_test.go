package flood

import (
	"testing"
	"time"
)

func TestPacer(t *testing.T) {
	start := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	p := newPacer(1000, 64, start)
	if got := p.due(at(0)); got != 0 {
		t.Errorf("due at the start = %d, want 0", got)
	}
	if got, want := p.next(), at(time.Millisecond); !got.Equal(want) {
		t.Errorf("next at the start = %v, want %v", got.Sub(start), want.Sub(start))
	}
	// 1,000/s: 10 sends are due after 10 ms.
	if got := p.due(at(10 * time.Millisecond)); got != 10 {
		t.Errorf("due after 10 ms = %d, want 10", got)
	}
	// Asking again before sending does not double them.
	if got := p.due(at(10 * time.Millisecond)); got != 10 {
		t.Errorf("due again after 10 ms = %d, want 10", got)
	}
	p.sent(10)
	if got := p.due(at(10 * time.Millisecond)); got != 0 {
		t.Errorf("due after sending them = %d, want 0", got)
	}
	if got, want := p.next(), at(11*time.Millisecond); !got.Equal(want) {
		t.Errorf("next after 10 sends = %v, want %v", got.Sub(start), want.Sub(start))
	}
	// Partly sent: the rest stays due.
	if got := p.due(at(15 * time.Millisecond)); got != 5 {
		t.Errorf("due after 15 ms = %d, want 5", got)
	}
	p.sent(2)
	if got := p.due(at(15 * time.Millisecond)); got != 3 {
		t.Errorf("due after sending 2 of 5 = %d, want 3", got)
	}
	p.sent(3)
	// A stall of a second: only a burst is due, and the rest is skipped
	// rather than sent in a spike.
	if got := p.due(at(1015 * time.Millisecond)); got != 64 {
		t.Errorf("due after a 1 s stall = %d, want the burst of 64", got)
	}
	if got, want := p.skipped, int64(1000-64); got != want {
		t.Errorf("skipped after a 1 s stall = %d, want %d", got, want)
	}
	p.sent(64)
	if got := p.due(at(1015 * time.Millisecond)); got != 0 {
		t.Errorf("due after sending the burst = %d, want 0", got)
	}
	if got := p.due(at(1016 * time.Millisecond)); got != 1 {
		t.Errorf("due 1 ms later = %d, want 1 (the pace resumes)", got)
	}
}

func TestPacerSlowRate(t *testing.T) {
	start := time.Unix(1000, 0)
	p := newPacer(2, 0, start) // a burst below 1 means 1
	if got := p.due(start.Add(499 * time.Millisecond)); got != 0 {
		t.Errorf("due before the first send = %d, want 0", got)
	}
	if got := p.due(start.Add(500 * time.Millisecond)); got != 1 {
		t.Errorf("due at 500 ms of 2/s = %d, want 1", got)
	}
	p.sent(1)
	if got, want := p.next(), start.Add(time.Second); !got.Equal(want) {
		t.Errorf("next = %v, want %v", got.Sub(start), want.Sub(start))
	}
}
