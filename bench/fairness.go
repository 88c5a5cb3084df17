//go:build !nolimpet

package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
)

// RunFairness starts a limpet flow and another flow on nw at the same
// moment: TCP with the named congestion controller, or, for "limpet", a
// second limpet flow. It lets them compete for warmup, and measures what
// each delivers over the following window. With headStart, two flows of
// one kind do not start together: the first flow sends while the second
// is being dialled.
//
// limpetProtocol configures the limpet flows: ProtocolLimpet (the default
// configuration) or ProtocolLimpetBBR. ProtocolTCPCubic or ProtocolTCPBBR
// there makes a reference row without limpet: the first flow is TCP too,
// so that a report can say what TCP itself gets on the same link.
func RunFairness(ctx context.Context, nw Network, congestion, limpetProtocol string, headStart bool, warmup, window time.Duration) FairnessResult {
	res := FairnessResult{Congestion: congestion, Limpet: limpetProtocol, Window: window.Seconds()}
	tune := transport.Config{}
	start := startCompetingFlows
	switch limpetProtocol {
	case ProtocolLimpet:
	case ProtocolLimpetBBR:
		tune.CongestionControl = transport.CongestionBBR
	case ProtocolTCPCubic, ProtocolTCPBBR:
		if congestion == "limpet" {
			res.Err = "a TCP reference row competes with TCP, not limpet"
			return res
		}
		first := strings.TrimPrefix(limpetProtocol, "tcp-")
		start = func(ctx context.Context, nw Network, second string, _ transport.Config, closers *closerSet, fail func(error)) (*atomic.Int64, *atomic.Int64, error) {
			return startTCPPair(ctx, nw, first, second, headStart, closers, fail)
		}
	default:
		res.Err = fmt.Sprintf("first flow %q: want %s, %s, %s or %s", limpetProtocol, ProtocolLimpet, ProtocolLimpetBBR, ProtocolTCPCubic, ProtocolTCPBBR)
		return res
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	closers := new(closerSet)
	defer closers.closeAll()
	stop := context.AfterFunc(ctx, closers.closeAll)
	defer stop()

	var failOnce sync.Once
	var firstErr error
	fail := func(err error) { failOnce.Do(func() { firstErr = err; cancel() }) }

	if congestion == "limpet" {
		start = func(ctx context.Context, nw Network, _ string, tune transport.Config, closers *closerSet, fail func(error)) (*atomic.Int64, *atomic.Int64, error) {
			return startLimpetPair(ctx, nw, tune, headStart, closers, fail)
		}
	}
	limpetIn, otherIn, err := start(ctx, nw, congestion, tune, closers, fail)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	select {
	case <-ctx.Done():
	case <-time.After(warmup):
	}
	l0, t0 := limpetIn.Load(), otherIn.Load()
	begin := time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(window):
	}
	elapsed := time.Since(begin).Seconds()
	l1, t1 := limpetIn.Load(), otherIn.Load()
	cancel()
	if firstErr != nil && !errors.Is(firstErr, context.Canceled) {
		res.Err = firstErr.Error()
		return res
	}
	res.LimpetMbit = float64(l1-l0) * 8 / 1e6 / elapsed
	res.OtherMbit = float64(t1-t0) * 8 / 1e6 / elapsed
	if sum := res.LimpetMbit + res.OtherMbit; sum > 0 {
		res.LimpetShare = res.LimpetMbit / sum
	}
	return res
}

// startCompetingFlows connects both flows and starts their senders and
// receivers; the counters are the bytes each receiver has read.
func startCompetingFlows(ctx context.Context, nw Network, congestion string, tune transport.Config, closers *closerSet, fail func(error)) (limpetIn, tcpIn *atomic.Int64, err error) {
	limpetIn, tcpIn = new(atomic.Int64), new(atomic.Int64)

	control := func(_, _ string, c syscall.RawConn) error { return setCongestion(c, congestion) }
	tln, err := nw.ListenTCP(ctx, control)
	if err != nil {
		return nil, nil, fmt.Errorf("tcp listen: %w", err)
	}
	closers.add(tln)
	lln, key, err := startFairnessListener(nw, closers)
	if err != nil {
		return nil, nil, err
	}

	go func() {
		c, err := tln.Accept()
		if err != nil {
			fail(err)
			return
		}
		closers.add(c)
		countReads(ctx, c, tcpIn, fail)
	}()
	go func() {
		conn, err := lln.Accept(ctx)
		if err != nil {
			fail(err)
			return
		}
		closers.add(conn)
		s, err := conn.AcceptStream(ctx)
		if err != nil {
			fail(err)
			return
		}
		countReads(ctx, s, limpetIn, fail)
	}()

	tc, err := nw.DialTCP(ctx, tln.Addr().(*net.TCPAddr).AddrPort(), control)
	if err != nil {
		return nil, nil, fmt.Errorf("tcp dial: %w", err)
	}
	closers.add(tc)
	lc, err := dialLimpet(ctx, nw, lln.Addr().(*net.UDPAddr).AddrPort(), key.Public(), tune)
	if err != nil {
		return nil, nil, fmt.Errorf("limpet dial: %w", err)
	}
	closers.add(lc)
	ls, err := lc.OpenStream(ctx)
	if err != nil {
		return nil, nil, err
	}
	go writeUntilDone(ctx, tc, fail)
	go writeUntilDone(ctx, ls, fail)
	return limpetIn, tcpIn, nil
}

// startTCPPair connects two TCP flows, the first with congestion control
// first, the second with second, each to a listener of its own, and
// starts their senders and receivers as startLimpetPair does.
func startTCPPair(ctx context.Context, nw Network, first, second string, headStart bool, closers *closerSet, fail func(error)) (*atomic.Int64, *atomic.Int64, error) {
	p := newFlowPair(headStart, fail)
	for i, cc := range []string{first, second} {
		control := func(_, _ string, c syscall.RawConn) error { return setCongestion(c, cc) }
		ln, err := nw.ListenTCP(ctx, control)
		if err != nil {
			return nil, nil, fmt.Errorf("tcp listen %d: %w", i+1, err)
		}
		closers.add(ln)
		c, err := nw.DialTCP(ctx, ln.Addr().(*net.TCPAddr).AddrPort(), control)
		if err != nil {
			return nil, nil, fmt.Errorf("tcp dial %d: %w", i+1, err)
		}
		closers.add(c)
		sc, err := ln.Accept()
		if err != nil {
			return nil, nil, fmt.Errorf("tcp accept %d: %w", i+1, err)
		}
		closers.add(sc)
		p.connected(ctx, i, c, func(context.Context) (io.Reader, error) { return sc, nil })
	}
	return p.start()
}

// startLimpetPair connects two limpet flows to one listener and starts
// their senders and receivers, both once both are connected or, with
// headStart, each as soon as it is; the counters are the bytes each
// receiver has read, in the order the flows were dialled.
func startLimpetPair(ctx context.Context, nw Network, tune transport.Config, headStart bool, closers *closerSet, fail func(error)) (first, second *atomic.Int64, err error) {
	lln, key, err := startFairnessListener(nw, closers)
	if err != nil {
		return nil, nil, err
	}
	p := newFlowPair(headStart, fail)
	for i := range 2 {
		lc, err := dialLimpet(ctx, nw, lln.Addr().(*net.UDPAddr).AddrPort(), key.Public(), tune)
		if err != nil {
			return nil, nil, fmt.Errorf("limpet dial %d: %w", i+1, err)
		}
		closers.add(lc)
		conn, err := lln.Accept(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("limpet accept %d: %w", i+1, err)
		}
		closers.add(conn)
		ls, err := lc.OpenStream(ctx)
		if err != nil {
			return nil, nil, err
		}
		p.connected(ctx, i, ls, func(ctx context.Context) (io.Reader, error) { return conn.AcceptStream(ctx) })
	}
	return p.start()
}

// flowPair starts the senders and receivers of two flows of one kind.
// Without a head start both start once both are connected: dialling the
// second only after the first had started would give the first a
// handshake's head start in slow start, and with it about three times the
// other's window when both leave it, which a loss-based controller takes
// tens of seconds to even out at this bandwidth-delay product
// (congestion/cubic_share_test.go). Rows with a head start measure that.
type flowPair struct {
	headStart bool
	fail      func(error)
	counters  [2]*atomic.Int64
	waiting   []func()
}

func newFlowPair(headStart bool, fail func(error)) *flowPair {
	return &flowPair{headStart: headStart, fail: fail, counters: [2]*atomic.Int64{new(atomic.Int64), new(atomic.Int64)}}
}

// connected starts flow i, writing to w and reading what accept returns,
// now with a head start and otherwise in start.
func (p *flowPair) connected(ctx context.Context, i int, w io.Writer, accept func(context.Context) (io.Reader, error)) {
	run := func() {
		go writeUntilDone(ctx, w, p.fail)
		go func() {
			r, err := accept(ctx)
			if err != nil {
				p.fail(err)
				return
			}
			countReads(ctx, r, p.counters[i], p.fail)
		}()
	}
	if p.headStart {
		run()
		return
	}
	p.waiting = append(p.waiting, run)
}

// start starts the flows still waiting and returns the counters of the
// bytes each receiver has read.
func (p *flowPair) start() (first, second *atomic.Int64, err error) {
	for _, run := range p.waiting {
		run()
	}
	return p.counters[0], p.counters[1], nil
}

// startFairnessListener starts the limpet listener of a fairness row, with
// a fresh key, closed with closers.
func startFairnessListener(nw Network, closers *closerSet) (*transport.Listener, crypto.PrivateKey, error) {
	key, err := crypto.GenerateKey()
	if err != nil {
		return nil, key, err
	}
	lln, err := listenLimpet(nw, key, transport.FECConfig{})
	if err != nil {
		return nil, key, fmt.Errorf("limpet listen: %w", err)
	}
	closers.add(lln)
	return lln, key, nil
}

func writeUntilDone(ctx context.Context, w io.Writer, fail func(error)) {
	chunk := payload()
	for ctx.Err() == nil {
		if _, err := w.Write(chunk); err != nil {
			if ctx.Err() == nil {
				fail(fmt.Errorf("write: %w", err))
			}
			return
		}
	}
}

func countReads(ctx context.Context, r io.Reader, n *atomic.Int64, fail func(error)) {
	buf := make([]byte, readBuffer)
	for {
		k, err := r.Read(buf)
		n.Add(int64(k))
		if err != nil {
			if ctx.Err() == nil {
				fail(fmt.Errorf("read: %w", err))
			}
			return
		}
	}
}
