package netlab

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/limpetnet/limpet/bench/netlab/linkem"
	"golang.org/x/sys/unix"
)

// packetBufferSize returns the size of each packet buffer for a link of
// the given MTU: the MTU with room to spare, since a TUN read into a buffer
// shorter than the packet fails, and never below 2 KiB. Jumbo frames get
// buffers of their own size, which linkem.CapacityBytes keeps to about
// 64 MiB in all.
func packetBufferSize(mtu int) int {
	return max(2048, mtu+256)
}

// preciseWindow is how close to a delivery time the sender stops trusting
// Go timers. The runtime waits for timers in epoll with millisecond
// resolution, so a time.Timer fires up to a millisecond late; the sender
// wakes this long early and sleeps the rest with nanosleep(2) on a thread
// whose timer slack is 1 ns instead of the default 50 µs. Measured here, a
// 25 ms link then delivers 0.1 to 0.2 ms late (the machine's wake-up
// latency) instead of 0.25 to 0.3 ms. A timerfd read through the poller was
// no more precise and cost more CPU per packet.
const preciseWindow = 2 * time.Millisecond

// sendBatch caps the packets the sender takes per lock, so that a burst
// due at once does not keep the reader waiting.
const sendBatch = 64

// direction forwards the packets read from in to out through a linkem model.
// Its reader goroutine enqueues what it reads; its sender goroutine sleeps
// until the next delivery time and writes out what is due.
type direction struct {
	name string
	in   *os.File
	out  *os.File
	// bufSize is the size of the packet buffers the reader fills.
	bufSize int
	// wake is a one-slot channel on which the reader tells the sender that
	// a packet is due before the time the sender is sleeping until.
	wake chan struct{}

	// mu guards the fields below, shared by the two goroutines and by
	// SetLink and LinkStats.
	mu   sync.Mutex
	link *linkem.Link
	// free holds packet buffers the sender has written out, for the
	// reader to fill again.
	free [][]byte
	// target is when the sender will next look at the link; zero while
	// it waits for a packet to arrive.
	target      time.Time
	largest     int
	writeErrors uint64
	readErr     error
}

// directionSnapshot is a copy of a direction's counters.
type directionSnapshot struct {
	link        linkem.Stats
	largest     int
	writeErrors uint64
	readErr     error
}

// newDirection builds a direction with an empty link for packets of up to
// mtu bytes; cfg must be valid. It takes no ownership of in and out.
func newDirection(name string, in, out *os.File, cfg linkem.Config, mtu int) (*direction, error) {
	link, err := linkem.New(cfg)
	if err != nil {
		return nil, err
	}
	return &direction{name: name, in: in, out: out, bufSize: packetBufferSize(mtu), link: link, wake: make(chan struct{}, 1)}, nil
}

// readLoop reads packets until the input file is closed. A buffer the link
// accepts belongs to the link, then to the sender, until the sender
// returns it to the free list.
func (d *direction) readLoop() {
	buf := make([]byte, d.bufSize)
	for {
		n, err := d.in.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				d.mu.Lock()
				d.readErr = err
				d.mu.Unlock()
			}
			return
		}
		now := time.Now()
		wake := false
		d.mu.Lock()
		d.largest = max(d.largest, n)
		if d.link.Enqueue(buf[:n], now) == linkem.Accepted {
			buf = nil
			if last := len(d.free) - 1; last >= 0 {
				buf, d.free[last] = d.free[last], nil
				d.free = d.free[:last]
			}
			// Usually the new packet is due after those before it, and
			// the sender's wake-up time stands.
			next, _ := d.link.NextDelivery()
			wake = d.target.IsZero() || next.Before(d.target)
		}
		d.mu.Unlock()
		if buf == nil {
			buf = make([]byte, d.bufSize)
		}
		if wake {
			select {
			case d.wake <- struct{}{}:
			default: // one pending wake-up is enough
			}
		}
	}
}

// sendLoop writes each packet out when the link says it is due, until stop
// is closed.
//
// The goroutine keeps its thread to itself, with the thread's timer slack
// lowered, and never unlocks it: the runtime then ends the thread with the
// goroutine rather than reusing a thread with a changed slack.
func (d *direction) sendLoop(stop <-chan struct{}) {
	runtime.LockOSThread()
	// Best effort: without it, sleeps end up to 50 µs later.
	unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	due := make([][]byte, 0, sendBatch)
	for {
		select {
		case <-stop:
			return
		default:
		}
		now := time.Now()
		d.mu.Lock()
		for len(due) < sendBatch {
			pkt, ok := d.link.Dequeue(now)
			if !ok {
				break
			}
			due = append(due, pkt)
		}
		next, pending := d.link.NextDelivery()
		switch {
		case len(due) > 0:
			d.target = now // it looks again right after writing
		case pending:
			d.target = next
		default:
			d.target = time.Time{}
		}
		d.mu.Unlock()

		if len(due) > 0 {
			d.write(due)
			clear(due)
			due = due[:0]
			continue
		}
		if !pending {
			select {
			case <-d.wake:
			case <-stop:
				return
			}
			continue
		}
		wait := next.Sub(now)
		if wait > preciseWindow {
			timer.Reset(wait - preciseWindow)
			select {
			case <-timer.C:
			case <-d.wake:
			case <-stop:
				return
			}
			continue
		}
		// A packet arriving meanwhile can be due earlier only after
		// SetLink shortened the delay, and then by less than the window.
		// A signal cuts the sleep short; the loop then looks again.
		ts := unix.NsecToTimespec(int64(wait))
		unix.Nanosleep(&ts, nil)
	}
}

// write hands the due packets to the kernel and recycles their buffers. A
// TUN write injects one whole packet and never blocks.
func (d *direction) write(due [][]byte) {
	var failed uint64
	for _, pkt := range due {
		if _, err := d.out.Write(pkt); err != nil {
			failed++
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.writeErrors += failed
	for _, pkt := range due {
		d.free = append(d.free, pkt[:cap(pkt)])
	}
}

// setConfig changes the link's parameters. Packets already held keep their
// delivery times, so the sender's wake-up time stays right.
func (d *direction) setConfig(cfg linkem.Config) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.link.SetConfig(cfg)
}

// snapshot copies the direction's counters.
func (d *direction) snapshot() directionSnapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	return directionSnapshot{link: d.link.Stats(), largest: d.largest, writeErrors: d.writeErrors, readErr: d.readErr}
}
