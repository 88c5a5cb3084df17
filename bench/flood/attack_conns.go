package flood

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/bench"
	"github.com/limpetnet/limpet/transport"
)

// This file holds the attacks made of real connections, through the
// public transport API: ConnExhaust and Slowloris.

// exhaustPorts is how many sockets (ports of one address) the
// ConnExhaust attacker dials from.
const exhaustPorts = 64

// exhaustParallel is how many of its Dials run at once.
const exhaustParallel = 32

// exhaustDialTimeout bounds the attacker's own Dials while it fills the
// server; a Dial refused for capacity fails only at its timeout.
const exhaustDialTimeout = 3 * time.Second

func runConnExhaust(ctx context.Context, env *attackEnv, ready func()) attackResult {
	r := attackResult{}
	want := env.plan.MaxConns - env.clientConn
	var eps []*transport.Endpoint
	defer func() {
		for _, ep := range eps {
			ep.Close()
		}
	}()
	for range exhaustPorts {
		ep, err := transport.NewEndpoint(netip.AddrPortFrom(exhaustAddr, 0).String(), nil)
		if err != nil {
			r.err = err
			return r
		}
		eps = append(eps, ep)
	}
	cfg := transport.Config{ServerKey: env.serverPub, HandshakeTimeout: exhaustDialTimeout}
	var (
		next, open, failed atomic.Int64
		wg                 sync.WaitGroup
		mu                 sync.Mutex
		firstErr           error
	)
	start := time.Now()
	for range exhaustParallel {
		wg.Go(func() {
			for ctx.Err() == nil && failed.Load() == 0 {
				i := next.Add(1)
				if i > int64(want) {
					return
				}
				_, err := eps[i%exhaustPorts].Dial(ctx, env.addr.String(), &cfg)
				if err != nil {
					failed.Add(1)
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
				open.Add(1)
			}
		})
	}
	wg.Wait()
	fillTime := time.Since(start)
	r.offered = formatCount(float64(open.Load())) + " conns"
	r.note("%s connections from %d ports of %v in %v (server MaxConns %s, %d of them the legitimate echo and bulk connections), kept alive",
		formatCount(float64(open.Load())), exhaustPorts, exhaustAddr, fillTime.Round(10*time.Millisecond), formatCount(float64(env.plan.MaxConns)), env.clientConn)
	if firstErr != nil {
		r.note("an attacker Dial failed while filling: %v", firstErr)
	}
	ready()

	// One more client, from the same address, with the default handshake
	// timeout: what does a client over the limit see?
	probeStart := time.Now()
	_, err := eps[0].Dial(ctx, env.addr.String(), &transport.Config{ServerKey: env.serverPub})
	switch {
	case err == nil:
		r.note("a Dial over the limit succeeded after %v", formatDuration(time.Since(probeStart)))
	case ctx.Err() == nil:
		r.note("a Dial over the limit failed after %v: %q", formatDuration(time.Since(probeStart)), err.Error())
	default:
		r.note("a Dial over the limit had not ended after %v", formatDuration(time.Since(probeStart)))
	}
	<-ctx.Done()
	return r
}

// slowlorisChunk is the size of the Slowloris attacker's writes.
const slowlorisChunk = 64 << 10

// slowlorisCredit is the flow-control credit the Slowloris attacker
// grants per stream: the server can send it almost nothing.
const slowlorisCredit = 1 << 10

// slowlorisStall is how long the attacker's writes may make no progress
// before it stops waiting for them and the measurements start.
const slowlorisStall = 2 * time.Second

func runSlowloris(ctx context.Context, env *attackEnv, ready func()) attackResult {
	r := attackResult{}
	n, per := env.plan.SlowlorisStreams, env.plan.SlowlorisBytes
	ep, err := transport.NewEndpoint(netip.AddrPortFrom(slowlorisAddr, 0).String(), nil)
	if err != nil {
		r.err = err
		return r
	}
	defer ep.Close()
	c, err := ep.Dial(ctx, env.addr.String(), &transport.Config{
		ServerKey:           env.serverPub,
		InitialStreamWindow: slowlorisCredit,
		MaxStreamWindow:     slowlorisCredit,
		InitialConnWindow:   uint64(n) * slowlorisCredit,
		MaxConnWindow:       uint64(n) * slowlorisCredit,
	})
	if err != nil {
		r.err = fmt.Errorf("slowloris dial: %w", err)
		return r
	}
	defer c.Close()
	var (
		done    atomic.Int64
		wg      sync.WaitGroup
		opened  int
		openErr error
	)
	chunk := make([]byte, slowlorisChunk)
	chunk[0] = modeEcho
	start := time.Now()
	for range n {
		s, err := c.OpenStream(ctx)
		if err != nil {
			openErr = err
			break
		}
		opened++
		wg.Go(func() {
			defer done.Add(1)
			for left := per; left > 0; {
				m, err := s.Write(chunk[:min(left, slowlorisChunk)])
				left -= int64(m)
				if err != nil {
					return
				}
			}
		})
	}
	// The measurements run while the server takes in what it is asked to
	// echo.
	ready()
	// Then the attack lasts until the writes end or stall, however long
	// the measurements took, so that the row sees the server's memory at
	// its peak; the measurements ending does not stop it, only
	// SetupTimeout does. Progress is what the connection sent: a write
	// returns only once its bytes are buffered, and a server that stops
	// reading leaves every write blocked.
	last, lastAt := uint64(0), time.Now()
	for done.Load() < int64(opened) && time.Since(lastAt) < slowlorisStall && time.Since(start) < env.plan.SetupTimeout {
		if sent := c.Stats().StreamBytesSent; sent != last {
			last, lastAt = sent, time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(start)
	w := int64(c.Stats().StreamBytesSent)
	r.offered = fmt.Sprintf("%d streams", opened)
	r.note("one connection from %v, %d streams, each asking the server to echo %s and granting %s of credit, never reading",
		slowlorisAddr, opened, bench.FormatSize(per), bench.FormatSize(slowlorisCredit))
	state := "all written"
	if done.Load() < int64(opened) {
		state = "then the writes stalled (the server stopped taking data in)"
	}
	r.note("%s of %s sent to the server in %v, %s", formatBytes(w), formatBytes(int64(opened)*per), took.Round(100*time.Millisecond), state)
	if openErr != nil {
		r.note("opening streams: %v", openErr)
	}
	<-ctx.Done()
	c.Close()
	wg.Wait()
	return r
}
