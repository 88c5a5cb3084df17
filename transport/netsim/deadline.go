package netsim

import (
	"sync"
	"time"
)

// deadline is one of a Socket's read or write deadlines, in a form a
// blocked select can wait on: a channel that is closed once the deadline
// has passed. Moving the deadline swaps in a fresh channel, which is what
// lets SetReadDeadline wake or extend a ReadFrom already waiting.
type deadline struct {
	mu      sync.Mutex
	timer   *time.Timer   // closes expired when it fires; nil when no deadline is pending
	expired chan struct{} // closed while the deadline is in the past
}

func newDeadline() *deadline {
	return &deadline{expired: make(chan struct{})}
}

// set moves the deadline to t; the zero time means none.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		// The timer fired: its close of expired has happened or is
		// about to. Wait for it, so the channel is in a known state.
		<-d.expired
	}
	d.timer = nil
	passed := isClosed(d.expired)
	if t.IsZero() {
		if passed {
			d.expired = make(chan struct{})
		}
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		if !passed {
			close(d.expired)
		}
		return
	}
	if passed {
		d.expired = make(chan struct{})
	}
	ch := d.expired
	d.timer = time.AfterFunc(wait, func() { close(ch) })
}

// wait returns a channel that is closed when the current deadline passes.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.expired
}

// stop cancels a pending timer, for Close.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
