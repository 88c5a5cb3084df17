// Package deadline implements net.Conn-style deadlines as channels a
// blocked select can wait on, for the transport's streams and netsim's
// sockets alike.
package deadline

import (
	"sync"
	"time"
)

// Deadline is a read or write deadline in a form a blocked select can wait
// on: a channel that is closed once the deadline has passed. Moving the
// deadline swaps in a fresh channel, which is what lets SetReadDeadline
// wake or extend a Read already waiting.
type Deadline struct {
	mu      sync.Mutex
	timer   *time.Timer   // closes expired when it fires; nil when no deadline is pending
	expired chan struct{} // closed while the deadline is in the past
}

// New returns a Deadline that is not set.
func New() *Deadline {
	return &Deadline{expired: make(chan struct{})}
}

// Set moves the deadline to t; the zero time means none.
func (d *Deadline) Set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		// The timer fired: its close of expired has happened or is
		// about to. Wait for it, so the channel is in a known state.
		<-d.expired
	}
	d.timer = nil
	passed := IsClosed(d.expired)
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

// Wait returns a channel that is closed when the current deadline passes.
func (d *Deadline) Wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.expired
}

// Expired reports whether the deadline has passed: calls check it before
// doing anything, so a deadline in the past fails them even when they could
// make progress (net.Conn's contract).
func (d *Deadline) Expired() bool { return IsClosed(d.Wait()) }

// Stop cancels a pending timer, for Close.
func (d *Deadline) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

// IsClosed reports whether ch is closed, without blocking.
func IsClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
