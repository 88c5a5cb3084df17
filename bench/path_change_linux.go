//go:build linux && !nolimpet

package bench

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/bench/netlab"
	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
)

// RunDisruption moves sc.Size bytes from the lab's client to its server over
// protocol (DisruptTCP or DisruptLimpet), making sc's path changes as the
// server's progress crosses each trigger, and reports what each change did.
// The same code drives both protocols: only the connection set-up differs.
// The lab is left as it was found (no blackout, the path's own MTU),
// whatever happens; after a path MTU change the client's and server's
// kernels forget the path MTU they learned, so that the next run starts
// from the same place.
func RunDisruption(ctx context.Context, lab *netlab.Lab, protocol string, sc DisruptionScenario) DisruptionResult {
	res := DisruptionResult{Scenario: sc.Name, Protocol: protocol}
	if sc.StallLimit <= 0 {
		sc.StallLimit = 10 * time.Second
	}
	if sc.Change.narrowsMTU() {
		if sc.PathMTU <= 0 {
			res.Err = fmt.Sprintf("bench: %s change without a PathMTU", sc.Change)
			return res
		}
		if err := lab.FlushPathMTUCache(); err != nil {
			res.Err = err.Error()
			return res
		}
		defer lab.FlushPathMTUCache()
	}
	server := lab.ServerAddr()
	if sc.IPv6 {
		server = lab.ServerAddr6()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	closers := new(closerSet)
	defer closers.closeAll()
	stop := context.AfterFunc(ctx, closers.closeAll)
	defer stop()

	var ends disruptionEnds
	var err error
	switch protocol {
	case DisruptTCP:
		ends, err = tcpDisruptionEnds(lab, server, closers)
	case DisruptLimpet:
		ends, err = limpetDisruptionEnds(lab, server, closers)
	case DisruptLimpetSession:
		ends, err = limpetSessionDisruptionEnds(lab, server, closers)
	default:
		err = fmt.Errorf("bench: no disruption runner for protocol %q", protocol)
	}
	if err != nil {
		res.Err = err.Error()
		return res
	}

	var (
		failOnce sync.Once
		firstErr error
	)
	fail := func(err error) { failOnce.Do(func() { firstErr = err; cancel() }) }

	start := time.Now()
	progress := &progressLog{start: start}
	sentSum := make(chan [sha256.Size]byte, 1)

	var wg sync.WaitGroup
	wg.Go(func() {
		sum, err := ends.send(ctx, sc.Size)
		sentSum <- sum
		if err != nil {
			fail(fmt.Errorf("client: %w", err))
		}
	})
	type served struct {
		n   int64
		sum [sha256.Size]byte
		err error
	}
	serverDone := make(chan served, 1)
	wg.Go(func() {
		n, sum, err := ends.receive(ctx, sc.Size, progress)
		if err != nil {
			fail(fmt.Errorf("server after %s: %w", formatMiB(n), err))
		}
		serverDone <- served{n, sum, err}
	})

	// The changes, triggered by progress; and a watchdog for hangs.
	changes := newChangeDriver(lab, sc, progress, start)
	wg.Go(func() { changes.run(ctx) })
	var sizes []DatagramSizeSample
	if ends.datagramSize != nil {
		wg.Go(func() { sizes = sampleDatagramSize(ctx, start, ends.datagramSize) })
	}
	wg.Go(func() {
		if err := watchStall(ctx, progress, sc.StallLimit); err != nil {
			fail(err)
		}
	})

	got := <-serverDone
	end := time.Since(start)
	cancel()
	closers.closeAll()
	wg.Wait()
	if err := changes.restore(); err != nil && firstErr == nil {
		firstErr = err
	}

	want := <-sentSum
	res.Bytes = got.n
	res.Seconds = end.Seconds()
	res.Timeline = progress.samples()
	res.Changes = changeOutcomes(res.Timeline, changes.times(), end)
	res.Detail = ends.detail()
	res.DatagramSizes = sizes
	if ends.path != nil {
		res.Path = ends.path()
	}
	if ends.session != nil {
		res.Resumptions, res.Resent = ends.session()
	}
	switch {
	case firstErr != nil && !(got.err == nil && got.n == sc.Size):
		res.Err = firstErr.Error()
	case got.n != sc.Size:
		res.Err = fmt.Sprintf("server read %d of %d bytes", got.n, sc.Size)
	case got.sum != want:
		res.Err = "data differs: SHA-256 mismatch"
	default:
		res.Survived = true
	}
	if sc.Every == 0 && len(res.Changes) < sc.Count && res.Err == "" {
		res.Survived = false
		res.Err = fmt.Sprintf("only %d of %d changes made", len(res.Changes), sc.Count)
	}
	return res
}

// disruptionEnds is one protocol's client and server for RunDisruption.
type disruptionEnds struct {
	// send dials, writes size bytes of the seeded stream and half-closes;
	// it returns the stream's SHA-256 once it was all written (and, for
	// limpet, consumed by the peer application).
	send func(ctx context.Context, size int64) ([sha256.Size]byte, error)
	// receive accepts and reads to EOF, logging progress.
	receive func(ctx context.Context, size int64, p *progressLog) (int64, [sha256.Size]byte, error)
	// detail describes the sender's connection after the run.
	detail func() string
	// datagramSize, if set, reports the sender's largest datagram now,
	// or 0 before it exists; path, if set, what it knows about the path.
	datagramSize func() int
	path         func() *PathStats
	// session, if set, reports a limpet session's resumptions and the
	// bytes they sent again.
	session func() (resumptions int, resent int64)
}

// datagramSizeInterval is how often RunDisruption samples limpet's datagram
// size: far below the round trip, and cheap (a Stats call).
const datagramSizeInterval = 10 * time.Millisecond

// sampleDatagramSize records size's value, and every change of it, until
// ctx is done.
func sampleDatagramSize(ctx context.Context, start time.Time, size func() int) []DatagramSizeSample {
	t := time.NewTicker(datagramSizeInterval)
	defer t.Stop()
	var out []DatagramSizeSample
	for {
		if n := size(); n > 0 && (len(out) == 0 || out[len(out)-1].Size != n) {
			out = append(out, DatagramSizeSample{At: time.Since(start), Size: n})
		}
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
	}
}

func tcpDisruptionEnds(lab *netlab.Lab, server netip.Addr, closers *closerSet) (disruptionEnds, error) {
	ln, err := lab.ListenTCP(netlab.Server, netip.AddrPortFrom(server, 0))
	if err != nil {
		return disruptionEnds{}, fmt.Errorf("listen: %w", err)
	}
	closers.add(ln)
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	var lastErr atomic.Value
	return disruptionEnds{
		send: func(ctx context.Context, size int64) ([sha256.Size]byte, error) {
			c, err := lab.DialTCP(ctx, netlab.Client, addr)
			if err != nil {
				return [sha256.Size]byte{}, err
			}
			closers.add(c)
			sum, err := writeSeeded(c, size)
			if err == nil {
				err = c.CloseWrite()
			}
			if err != nil {
				lastErr.Store(err.Error())
			}
			return sum, err
		},
		receive: func(ctx context.Context, size int64, p *progressLog) (int64, [sha256.Size]byte, error) {
			c, err := ln.Accept()
			if err != nil {
				return 0, [sha256.Size]byte{}, err
			}
			closers.add(c)
			return readAll(c, size, p)
		},
		detail: func() string {
			if e, ok := lastErr.Load().(string); ok {
				return "sender: " + e
			}
			return ""
		},
	}, nil
}

func limpetDisruptionEnds(lab *netlab.Lab, server netip.Addr, closers *closerSet) (disruptionEnds, error) {
	key, err := crypto.GenerateKey()
	if err != nil {
		return disruptionEnds{}, err
	}
	sock, err := lab.ListenUDP(netlab.Server, netip.AddrPortFrom(server, 0))
	if err != nil {
		return disruptionEnds{}, fmt.Errorf("listen: %w", err)
	}
	bind, err := transport.NewUDPBind(sock)
	if err != nil {
		sock.Close()
		return disruptionEnds{}, err
	}
	ln, err := transport.ListenBind(bind, &transport.Config{PrivateKey: key, QLogLogger: qlogLogger()})
	if err != nil {
		return disruptionEnds{}, err
	}
	closers.add(ln)
	addr := sock.LocalAddr().(*net.UDPAddr).AddrPort()
	var client atomic.Pointer[transport.Conn]
	return disruptionEnds{
		send: func(ctx context.Context, size int64) ([sha256.Size]byte, error) {
			bind, err := clientBind(lab, addr)
			if err != nil {
				return [sha256.Size]byte{}, err
			}
			conn, err := transport.DialBind(ctx, bind, addr, &transport.Config{ServerKey: key.Public(), QLogLogger: qlogLogger()})
			if err != nil {
				return [sha256.Size]byte{}, err
			}
			closers.add(conn)
			client.Store(conn)
			s, err := conn.OpenStream(ctx)
			if err != nil {
				return [sha256.Size]byte{}, err
			}
			return sendConsumed(ctx, s, size)
		},
		receive: func(ctx context.Context, size int64, p *progressLog) (int64, [sha256.Size]byte, error) {
			conn, err := ln.Accept(ctx)
			if err != nil {
				return 0, [sha256.Size]byte{}, err
			}
			closers.add(conn)
			s, err := conn.AcceptStream(ctx)
			if err != nil {
				return 0, [sha256.Size]byte{}, err
			}
			return readAll(s, size, p)
		},
		detail: func() string {
			c := client.Load()
			if c == nil {
				return ""
			}
			st := c.Stats()
			return fmt.Sprintf("%d packets lost, %s retransmitted, %d probe timeouts", st.PacketsLost, formatMiB(int64(st.BytesRetransmitted)), st.ProbeTimeouts)
		},
		datagramSize: func() int {
			if c := client.Load(); c != nil {
				return c.Stats().MaxDatagramSize
			}
			return 0
		},
		path: func() *PathStats {
			if c := client.Load(); c != nil {
				return limpetPathStats(c.Stats())
			}
			return nil
		},
	}, nil
}

// clientBind is a wildcard, unconnected socket in the client namespace,
// of addr's family: after an address change the kernel sends from the
// new address (see netlab's package doc).
func clientBind(lab *netlab.Lab, addr netip.AddrPort) (transport.Bind, error) {
	wildcard := netip.IPv4Unspecified()
	if addr.Addr().Is6() {
		wildcard = netip.IPv6Unspecified()
	}
	sock, err := lab.ListenUDP(netlab.Client, netip.AddrPortFrom(wildcard, 0))
	if err != nil {
		return nil, err
	}
	bind, err := transport.NewUDPBind(sock)
	if err != nil {
		sock.Close()
	}
	return bind, err
}

// receiptWriter is a stream with delivery receipts.
type receiptWriter interface {
	io.Writer
	CloseWrite() error
	WaitConsumed(ctx context.Context, n int64) error
}

// sendConsumed writes size seeded bytes on w, half-closes it and waits
// until the peer application has read them all; it returns their
// SHA-256.
func sendConsumed(ctx context.Context, w receiptWriter, size int64) ([sha256.Size]byte, error) {
	sum, err := writeSeeded(w, size)
	if err == nil {
		err = w.CloseWrite()
	}
	if err == nil {
		err = w.WaitConsumed(ctx, size)
	}
	return sum, err
}

// writeSeeded writes size pseudo-random bytes (a fixed seed: both ends can
// check them by hash) in 64 KiB chunks and returns their SHA-256.
func writeSeeded(w io.Writer, size int64) ([sha256.Size]byte, error) {
	rng := rand.NewChaCha8([32]byte{'l', 'i', 'm', 'p', 'e', 't'})
	h := sha256.New()
	buf := make([]byte, writeChunk)
	for sent := int64(0); sent < size; {
		n := int(min(int64(len(buf)), size-sent))
		rng.Read(buf[:n])
		h.Write(buf[:n])
		if _, err := w.Write(buf[:n]); err != nil {
			return [sha256.Size]byte(h.Sum(nil)), err
		}
		sent += int64(n)
	}
	return [sha256.Size]byte(h.Sum(nil)), nil
}

// readAll reads to EOF (at most size bytes), hashing and logging progress.
func readAll(r io.Reader, size int64, p *progressLog) (int64, [sha256.Size]byte, error) {
	h := sha256.New()
	buf := make([]byte, readBuffer)
	var n int64
	for {
		k, err := r.Read(buf)
		if k > 0 {
			n += int64(k)
			h.Write(buf[:k])
			p.add(n)
		}
		if n > size {
			return n, [sha256.Size]byte(h.Sum(nil)), fmt.Errorf("more than the %d bytes sent", size)
		}
		if errors.Is(err, io.EOF) {
			return n, [sha256.Size]byte(h.Sum(nil)), nil
		}
		if err != nil {
			return n, [sha256.Size]byte(h.Sum(nil)), err
		}
	}
}

// progressLog records the server's byte count over time, at most one sample
// per millisecond (the first read after a pause is always recorded, so a
// stall is measured to within a millisecond).
type progressLog struct {
	start time.Time
	mu    sync.Mutex
	log   []ProgressSample
	bytes atomic.Int64
	last  atomic.Int64 // nanoseconds since start of the latest read
}

func (p *progressLog) add(total int64) {
	at := time.Since(p.start)
	p.bytes.Store(total)
	p.last.Store(int64(at))
	p.mu.Lock()
	if n := len(p.log); n == 0 || at-p.log[n-1].At >= time.Millisecond {
		p.log = append(p.log, ProgressSample{At: at, Bytes: total})
	} else {
		p.log[n-1].Bytes = total
	}
	p.mu.Unlock()
}

func (p *progressLog) samples() []ProgressSample {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ProgressSample(nil), p.log...)
}

// watchStall fails the run when no byte arrived for limit.
func watchStall(ctx context.Context, p *progressLog, limit time.Duration) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			quiet := time.Since(p.start) - time.Duration(p.last.Load())
			if quiet > limit {
				return fmt.Errorf("hung: no data for %v", limit)
			}
		}
	}
}

// changeDriver makes a scenario's path changes as progress crosses the
// triggers, and remembers when each took effect.
type changeDriver struct {
	lab      *netlab.Lab
	sc       DisruptionScenario
	progress *progressLog
	start    time.Time

	mu        sync.Mutex
	at        []time.Duration
	blackedOn bool
	narrowed  bool // the path MTU is narrowed
}

func newChangeDriver(lab *netlab.Lab, sc DisruptionScenario, p *progressLog, start time.Time) *changeDriver {
	return &changeDriver{lab: lab, sc: sc, progress: p, start: start}
}

func (d *changeDriver) run(ctx context.Context) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for i := 0; i < d.sc.Count; i++ {
		if d.sc.Every > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(d.start.Add(time.Duration(i+1) * d.sc.Every))):
			}
		}
		trigger := d.sc.Size * int64(i+1) / int64(d.sc.Count+1)
		for d.sc.Every == 0 && d.progress.bytes.Load() < trigger {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		if err := d.apply(ctx); err != nil {
			return
		}
	}
}

func (d *changeDriver) apply(ctx context.Context) error {
	var err error
	switch d.sc.Change {
	case ChangeNATRebind:
		err = d.lab.RebindNAT()
	case ChangeClientIP:
		err = d.lab.ChangeClientIP()
	case ChangeBlackout:
		d.mu.Lock()
		d.blackedOn = true
		d.mu.Unlock()
		if err = d.lab.Blackout(true); err != nil {
			break
		}
		half := d.sc.Blackout
		if d.sc.NewClientIP {
			half /= 2
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(half):
		}
		if d.sc.NewClientIP {
			if err = d.lab.ChangeClientIP(); err != nil {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d.sc.Blackout - half):
			}
		}
		err = d.lab.Blackout(false)
		if err == nil {
			d.mu.Lock()
			d.blackedOn = false
			d.mu.Unlock()
		}
	case ChangePathMTU, ChangePathMTUBlackHole:
		return d.narrowMTU(ctx)
	default:
		err = fmt.Errorf("unknown path change %q", d.sc.Change)
	}
	if err != nil {
		return err
	}
	d.record()
	return nil
}

// record notes that a change took effect now.
func (d *changeDriver) record() {
	d.mu.Lock()
	d.at = append(d.at, time.Since(d.start))
	d.mu.Unlock()
}

// setMTU narrows the path to mtu bytes, or widens it back for 0, with or
// without ICMP as the scenario says.
func (d *changeDriver) setMTU(mtu int) error {
	if d.sc.Change == ChangePathMTUBlackHole {
		return d.lab.SetPathMTUBlackHole(mtu)
	}
	return d.lab.SetPathMTU(mtu)
}

// narrowMTU narrows the path MTU and, with MTURestore set, widens it again
// after that long: two changes.
func (d *changeDriver) narrowMTU(ctx context.Context) error {
	d.mu.Lock()
	d.narrowed = true
	d.mu.Unlock()
	if err := d.setMTU(d.sc.PathMTU); err != nil {
		return err
	}
	d.record()
	if d.sc.MTURestore <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d.sc.MTURestore):
	}
	if err := d.setMTU(0); err != nil {
		return err
	}
	d.mu.Lock()
	d.narrowed = false
	d.mu.Unlock()
	d.record()
	return nil
}

// restore ends a blackout or a narrowed path MTU the run was cancelled in.
func (d *changeDriver) restore() error {
	d.mu.Lock()
	on, narrowed := d.blackedOn, d.narrowed
	d.mu.Unlock()
	var err error
	if on {
		err = d.lab.Blackout(false)
	}
	if narrowed {
		err = errors.Join(err, d.setMTU(0))
	}
	return err
}

func (d *changeDriver) times() []time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]time.Duration(nil), d.at...)
}
