package netsim

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultReorderDelay is how long a reordered datagram is held back when
// Config.ReorderDelay is zero: longer than a burst takes to leave, so the
// datagrams written after it overtake it.
const DefaultReorderDelay = 10 * time.Millisecond

// pcgStream is the second PCG seed word: fixed, so that Config.Seed alone
// picks the sequence.
const pcgStream = 0x9e3779b97f4a7c15

// Config says how Impair mistreats outgoing datagrams. The zero value
// passes everything through untouched.
//
// Each datagram is judged in this order: Drop, the MTU, the blackhole,
// Loss; then Corrupt, Duplicate, Reorder, the delay (Delay plus up to
// Jitter) and the ECN rewrites, which combine. The same Seed and the same
// sequence of writes give the same decisions, whatever the timing.
type Config struct {
	// Seed seeds the PCG generator behind every random decision.
	Seed uint64

	// Loss, Reorder, Duplicate and Corrupt are per-datagram probabilities
	// in [0, 1].
	Loss      float64
	Reorder   float64
	Duplicate float64 // send the datagram twice
	Corrupt   float64 // flip one random bit of a copy

	// Delay holds every datagram back this long; Jitter adds a uniform
	// random extra in [0, Jitter), which can itself reorder datagrams.
	Delay  time.Duration
	Jitter time.Duration

	// ReorderDelay is how much longer a datagram chosen by Reorder is held
	// back, so that later ones overtake it (DefaultReorderDelay if zero).
	ReorderDelay time.Duration

	// Drop, if set, is a test hook: a datagram for which it returns true
	// is dropped (counted in Dropped). It is called before the random
	// decisions, must not retain b, and must not call the Conn's methods
	// other than Stats, SetBlackhole and SetMTU.
	Drop func(b []byte, to net.Addr) bool

	// MTU, if positive, is the largest datagram that passes: larger ones
	// vanish without a word (counted in TooBig), as on a path that drops
	// them and whose ICMP never arrives, a path-MTU black hole. SetMTU
	// changes it while traffic flows.
	MTU int

	// ECNBleach clears every datagram's ECN codepoint, as a middlebox that
	// rewrites the traffic class does.
	ECNBleach bool
	// ECNMarkAllCE marks every ECN-capable datagram CE, as a broken
	// marker does; Not-ECT ones pass unmarked. ECNBleach wins over it.
	ECNMarkAllCE bool
}

// Counters are exact totals of what a Conn did with the datagrams written
// to it.
type Counters struct {
	Sent       uint64 // written to the underlying PacketConn without error; a duplicate counts twice
	Dropped    uint64 // discarded by Drop, the blackhole or Loss
	Reordered  uint64 // held back by ReorderDelay
	Duplicated uint64 // sent twice
	Corrupted  uint64 // sent with one bit flipped
	Failed     uint64 // refused by the underlying PacketConn
	TooBig     uint64 // larger than the MTU, discarded
}

// Conn is a net.PacketConn that impairs the datagrams written to it before
// passing them to the PacketConn it wraps; reads pass straight through.
type Conn struct {
	pc        net.PacketConn
	ecnPC     ecnPacketConn // pc, when it carries ECN codepoints
	cfg       Config
	blackhole atomic.Bool
	mtu       atomic.Int64 // Config.MTU, then SetMTU's

	mu       sync.Mutex
	rng      *rand.Rand    // guarded by mu
	held     delayQueue    // guarded by mu: delayed datagrams, earliest first
	seq      uint64        // guarded by mu: orders datagrams due at the same time
	closed   bool          // guarded by mu
	running  bool          // guarded by mu: the delivery goroutine was started
	wake     chan struct{} // tells the delivery goroutine the earliest due time changed
	done     chan struct{} // closed by Close: the delivery goroutine must stop
	finished chan struct{} // closed by the delivery goroutine as it returns

	sent, dropped, reordered, duplicated, corrupted, failed, tooBig atomic.Uint64
}

// ecnPacketConn is a PacketConn that carries ECN codepoints, as Socket and
// Conn do: a Conn passes codepoints through one and drops them otherwise.
type ecnPacketConn interface {
	ReadFromECN(p []byte) (n int, addr net.Addr, ecn uint8, err error)
	WriteToECN(p []byte, addr net.Addr, ecn uint8) (int, error)
}

// Impair wraps pc so that datagrams written to the result are impaired as
// cfg says. The Conn owns pc: Close closes both. Delayed datagrams are
// sent by one goroutine per Conn, started on the first delay and stopped by
// Close.
func Impair(pc net.PacketConn, cfg Config) *Conn {
	if cfg.ReorderDelay == 0 {
		cfg.ReorderDelay = DefaultReorderDelay
	}
	c := &Conn{
		pc:       pc,
		cfg:      cfg,
		rng:      rand.New(rand.NewPCG(cfg.Seed, pcgStream)),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		finished: make(chan struct{}),
	}
	c.ecnPC, _ = pc.(ecnPacketConn)
	c.SetMTU(cfg.MTU)
	return c
}

// verdict is the random part of the decision about one datagram.
type verdict struct {
	lose, reorder, duplicate, corrupt bool
	jitter                            time.Duration
	bit                               int // which bit to flip when corrupt
}

// drawLocked makes the random decisions for a datagram of size bytes. It
// always takes the same six draws, so that one datagram's fate never
// shifts the next one's, and a higher Loss drops a superset of what a
// lower one drops.
func (c *Conn) drawLocked(size int) verdict {
	var v verdict
	v.lose = c.rng.Float64() < c.cfg.Loss
	v.reorder = c.rng.Float64() < c.cfg.Reorder
	v.duplicate = c.rng.Float64() < c.cfg.Duplicate
	v.corrupt = c.rng.Float64() < c.cfg.Corrupt
	v.jitter = time.Duration(c.rng.Float64() * float64(c.cfg.Jitter))
	bit := c.rng.Uint64()
	if size > 0 {
		v.bit = int(bit % uint64(size*8))
	}
	return v
}

// WriteTo impairs p and sends it to addr, now or later, Not-ECT. A
// dropped datagram still reports success, as a lossy network would.
// Without delay the underlying write's error is returned; a delayed
// datagram's error only shows in Counters.Failed.
func (c *Conn) WriteTo(p []byte, addr net.Addr) (int, error) {
	return c.WriteToECN(p, addr, ecnNotECT)
}

// WriteToECN is WriteTo with an ECN codepoint (0 to 3), which ECNBleach
// and ECNMarkAllCE may rewrite. The wrapped PacketConn gets it if it has a
// WriteToECN method too, and drops it otherwise.
func (c *Conn) WriteToECN(p []byte, addr net.Addr, ecn uint8) (int, error) {
	hooked := c.cfg.Drop != nil && c.cfg.Drop(p, addr)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: addr, Err: net.ErrClosed}
	}
	// Drawn even for a datagram about to be dropped, so that the MTU and
	// the blackhole do not shift the decisions about later datagrams.
	v := c.drawLocked(len(p))
	if mtu := c.mtu.Load(); !hooked && mtu > 0 && int64(len(p)) > mtu {
		c.mu.Unlock()
		c.tooBig.Add(1)
		return len(p), nil
	}
	if hooked || c.blackhole.Load() || v.lose {
		c.mu.Unlock()
		c.dropped.Add(1)
		return len(p), nil
	}
	ecn &= ecnMask
	switch {
	case c.cfg.ECNBleach:
		ecn = ecnNotECT
	case c.cfg.ECNMarkAllCE && ecn != ecnNotECT:
		ecn = ecnCE
	}
	out, copied := p, false
	if v.corrupt && len(p) > 0 {
		out, copied = append([]byte(nil), p...), true
		out[v.bit/8] ^= 1 << (v.bit % 8)
		c.corrupted.Add(1)
	}
	copies := 1
	if v.duplicate {
		copies = 2
		c.duplicated.Add(1)
	}
	wait := c.cfg.Delay + v.jitter
	if v.reorder {
		wait += c.cfg.ReorderDelay
		c.reordered.Add(1)
	}
	if wait > 0 {
		if !copied {
			out = append([]byte(nil), p...) // the caller may reuse p at once
		}
		due := time.Now().Add(wait)
		for range copies {
			c.seq++
			c.held.push(heldDatagram{due: due, seq: c.seq, b: out, to: addr, ecn: ecn})
		}
		c.startLocked()
		c.mu.Unlock()
		select {
		case c.wake <- struct{}{}:
		default:
		}
		return len(p), nil
	}
	c.mu.Unlock()
	var first error
	for range copies {
		if err := c.send(out, addr, ecn); err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return 0, first
	}
	return len(p), nil
}

// send writes one datagram to the wrapped PacketConn and counts it.
func (c *Conn) send(b []byte, to net.Addr, ecn uint8) error {
	var err error
	if c.ecnPC != nil {
		_, err = c.ecnPC.WriteToECN(b, to, ecn)
	} else {
		_, err = c.pc.WriteTo(b, to)
	}
	if err != nil {
		c.failed.Add(1)
		return err
	}
	c.sent.Add(1)
	return nil
}

// startLocked starts the delivery goroutine the first time a datagram is
// held back.
func (c *Conn) startLocked() {
	if !c.running {
		c.running = true
		go c.deliver()
	}
}

// deliver sends held datagrams when they fall due, until Close.
func (c *Conn) deliver() {
	defer close(c.finished)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due []heldDatagram
	for {
		c.mu.Lock()
		now := time.Now()
		due = due[:0]
		for c.held.len() > 0 && !c.held.peek().due.After(now) {
			due = append(due, c.held.pop())
		}
		next := time.Duration(-1)
		if c.held.len() > 0 {
			next = c.held.peek().due.Sub(now)
		}
		c.mu.Unlock()
		for i := range due {
			_ = c.send(due[i].b, due[i].to, due[i].ecn)
			due[i] = heldDatagram{}
		}
		if next >= 0 {
			timer.Reset(next)
		} else {
			timer.Stop()
		}
		select {
		case <-timer.C:
		case <-c.wake:
		case <-c.done:
			return
		}
	}
}

// SetBlackhole drops every datagram written while on is true (counted in
// Dropped), as a link that went dark; the random draws go on, so turning it
// off resumes the same sequence of decisions.
func (c *Conn) SetBlackhole(on bool) { c.blackhole.Store(on) }

// SetMTU sets the largest datagram that passes from now on (Config.MTU);
// zero or less lifts the limit. Lowering it mid-connection makes the path
// a black hole for datagrams sized for the old one.
func (c *Conn) SetMTU(n int) { c.mtu.Store(int64(max(n, 0))) }

// Stats returns the counters so far. A datagram sent by the delivery
// goroutine is counted just after the wrapped PacketConn took it, so the
// counts are final only once Close has returned.
func (c *Conn) Stats() Counters {
	return Counters{
		Sent:       c.sent.Load(),
		Dropped:    c.dropped.Load(),
		Reordered:  c.reordered.Load(),
		Duplicated: c.duplicated.Load(),
		Corrupted:  c.corrupted.Load(),
		Failed:     c.failed.Load(),
		TooBig:     c.tooBig.Load(),
	}
}

// ReadFrom reads from the wrapped PacketConn, unimpaired.
func (c *Conn) ReadFrom(p []byte) (int, net.Addr, error) { return c.pc.ReadFrom(p) }

// ReadFromECN reads from the wrapped PacketConn, unimpaired, with the
// datagram's ECN codepoint if that PacketConn reports one (else Not-ECT).
func (c *Conn) ReadFromECN(p []byte) (n int, addr net.Addr, ecn uint8, err error) {
	if c.ecnPC != nil {
		return c.ecnPC.ReadFromECN(p)
	}
	n, addr, err = c.pc.ReadFrom(p)
	return n, addr, ecnNotECT, err
}

// Close stops the delivery goroutine, discarding datagrams still held
// back, and closes the wrapped PacketConn.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return &net.OpError{Op: "close", Net: "udp", Err: net.ErrClosed}
	}
	c.closed = true
	running := c.running
	c.held.clear()
	c.mu.Unlock()
	if running {
		close(c.done)
		<-c.finished
	}
	return c.pc.Close()
}

// LocalAddr returns the wrapped PacketConn's address.
func (c *Conn) LocalAddr() net.Addr { return c.pc.LocalAddr() }

// DontFragment reports true: a datagram over the MTU is dropped, never
// fragmented.
func (c *Conn) DontFragment() bool { return true }

// SetDeadline sets the wrapped PacketConn's deadlines.
func (c *Conn) SetDeadline(t time.Time) error { return c.pc.SetDeadline(t) }

// SetReadDeadline sets the wrapped PacketConn's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.pc.SetReadDeadline(t) }

// SetWriteDeadline sets the wrapped PacketConn's write deadline, which
// governs undelayed writes only.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.pc.SetWriteDeadline(t) }
