//go:build linux && measure

// The link's calibration: measurements, not checks of behaviour, so they
// run in their own step (go test -tags measure), as the benchmark harness
// does, and not in every go test.

package netlab

import (
	"context"
	"crypto/sha256"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/limpetnet/limpet/bench/netlab/linkem"
)

// percentile returns the p-th percentile (0..100) of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// TestLinkRoundTripCalibration is the acceptance check for the
// delay: through a link of 25 ms each way, a round trip takes 50 ms ± 1 ms.
// Bounds: no round trip may be shorter than the two delays, and the median
// may exceed them by 2 ms at most, leaving a millisecond for a loaded
// machine. It runs sequentially (no t.Parallel), so that the other lab
// tests of this process do not load the machine while it measures.
func TestLinkRoundTripCalibration(t *testing.T) {
	const oneWay = 25 * time.Millisecond
	l := newLinkLab(t, SymmetricLink(linkem.Config{Delay: oneWay}))
	server, _ := startEcho(t, l, l.ServerAddr())
	c, err := l.ListenUDP(Client, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
	if err != nil {
		t.Fatalf("ListenUDP(Client): %v", err)
	}
	defer c.Close()
	rtts := timedRoundTrips(t, c, server, 50)
	median, p90 := percentile(rtts, 50), percentile(rtts, 90)
	t.Logf("RTT through 2 x %v: min %v median %v p90 %v max %v", oneWay, rtts[0], median, p90, rtts[len(rtts)-1])
	if rtts[0] < 2*oneWay {
		t.Errorf("shortest round trip %v, want at least %v", rtts[0], 2*oneWay)
	}
	if median > 2*oneWay+2*time.Millisecond {
		t.Errorf("median round trip %v, want at most %v", median, 2*oneWay+2*time.Millisecond)
	}
}

// payload returns n pseudo-random bytes, the same for the same seed.
func payload(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// tcpTransfer sends data from the client to the server over kernel TCP
// and returns the goodput in bits per second, from the connection's first
// byte to the server's receipt of the last, and the process's CPU time
// spent meanwhile. The data must arrive unchanged.
func tcpTransfer(t *testing.T, l *Lab, data []byte) (bitsPerSecond float64, cpu time.Duration) {
	t.Helper()
	ln, err := l.ListenTCP(Server, netip.AddrPortFrom(l.ServerAddr(), 0))
	if err != nil {
		t.Fatalf("ListenTCP(Server): %v", err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := l.DialTCP(ctx, Client, netip.MustParseAddrPort(ln.Addr().String()))
	if err != nil {
		t.Fatalf("DialTCP: %v", err)
	}
	defer c.Close()
	s, err := ln.AcceptTCP()
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	defer s.Close()
	s.SetReadDeadline(time.Now().Add(30 * time.Second))
	cpuBefore := processCPU(t)
	start := time.Now()
	sent := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.CloseWrite()
		}
		sent <- err
	}()
	h := sha256.New()
	n, err := io.Copy(h, s)
	elapsed := time.Since(start)
	cpu = processCPU(t) - cpuBefore
	if err != nil || n != int64(len(data)) {
		t.Fatalf("server received %d bytes, err %v; want %d", n, err, len(data))
	}
	if err := <-sent; err != nil {
		t.Fatalf("client send: %v", err)
	}
	if got, want := h.Sum(nil), sha256.Sum256(data); !slices.Equal(got, want[:]) {
		t.Fatalf("server received data with SHA-256 %x, want %x", got, want)
	}
	return float64(n) * 8 / elapsed.Seconds(), cpu
}

// processCPU returns the user and system time the test process has used.
func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestLinkTCPThroughputCalibration is the acceptance check for the
// rate: kernel TCP through a 100 Mbit/s link measures 90 to 100 Mbit/s. The
// path has an RTT of 10 ms and a queue of 100 packets, a little more than
// one bandwidth-delay product (83 packets). The test asserts a looser
// range, since other work on the machine can starve the forwarder, and
// logs the figure. Like TestLinkRoundTripCalibration, it runs
// sequentially.
func TestLinkTCPThroughputCalibration(t *testing.T) {
	const rate = 100_000_000
	l := newLinkLab(t, SymmetricLink(linkem.Config{
		Delay:             5 * time.Millisecond,
		RateBitsPerSecond: rate,
		QueueLimitPackets: 100,
	}))
	data := payload(24<<20, 1)
	goodput, cpu := tcpTransfer(t, l, data)
	st := linkStats(t, l)
	t.Logf("TCP goodput through 100 Mbit/s, RTT 10 ms: %.1f Mbit/s; process CPU %v for %d MiB; up: %+v; down: %+v; largest packet %d",
		goodput/1e6, cpu, len(data)>>20, st.Up, st.Down, st.LargestPacket)
	if goodput < 0.70*rate || goodput > 1.01*rate {
		t.Errorf("goodput %.1f Mbit/s, want 70..101", goodput/1e6)
	}
	if st.LargestPacket > l.MTU() {
		t.Errorf("largest packet through the link %d bytes, want at most the MTU %d", st.LargestPacket, l.MTU())
	}
	if st.WriteErrors != 0 {
		t.Errorf("%d packets refused by the kernel, want 0", st.WriteErrors)
	}
	if st.Up.DeliveredBytes < uint64(len(data)) {
		t.Errorf("up direction delivered %d bytes, fewer than the %d bytes of data", st.Up.DeliveredBytes, len(data))
	}
}

// TestLinkLossCalibration sends 20,000 datagrams through a link with 1 %
// random loss. The share lost must fit Binomial(20000, 0.01), and every
// datagram that did not arrive must have been dropped by the emulator, not
// by a queue on the way.
func TestLinkLossCalibration(t *testing.T) {
	t.Parallel()
	const sent = 20_000
	const loss = 0.01
	l := newLinkLab(t, LinkConfig{Up: linkem.Config{Delay: time.Millisecond, Loss: loss, Seed: 99}})
	sink, err := l.ListenUDP(Server, netip.AddrPortFrom(l.ServerAddr(), 0))
	if err != nil {
		t.Fatalf("ListenUDP(Server): %v", err)
	}
	defer sink.Close()
	if err := sink.SetReadBuffer(4 << 20); err != nil {
		t.Fatalf("SetReadBuffer: %v", err)
	}
	var received atomic.Int64
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		buf := make([]byte, 100)
		for {
			if _, err := sink.Read(buf); err != nil {
				return
			}
			received.Add(1)
		}
	}()
	c, err := l.ListenUDP(Client, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
	if err != nil {
		t.Fatalf("ListenUDP(Client): %v", err)
	}
	defer c.Close()

	before := linkStats(t, l).Up
	dst := netip.MustParseAddrPort(sink.LocalAddr().String())
	msg := make([]byte, 32)
	const window = 500 // well below the TUN's queue, so only the emulator drops
	for i := range sent {
		if i%window == 0 {
			waitFor(t, "the emulator to read the last window", 10*time.Second, func() bool {
				return linkStats(t, l).Up.Offered >= before.Offered+uint64(i)
			})
		}
		if _, err := c.WriteToUDPAddrPort(msg, dst); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	var after linkem.Stats
	waitFor(t, "the emulator to deliver or drop every datagram", 10*time.Second, func() bool {
		after = linkStats(t, l).Up
		return after.Offered >= before.Offered+sent && after.Delivered+after.Lost == after.Offered
	})
	lost := after.Lost - before.Lost
	others := after.Offered - before.Offered - sent // packets that are not the test's
	waitFor(t, "the sink to read every delivered datagram", 10*time.Second, func() bool {
		return received.Load() >= int64(sent)-int64(lost)
	})
	sink.Close()
	<-readerDone

	missing := uint64(sent - received.Load())
	t.Logf("sent %d, received %d, emulator lost %d (other packets on the link: %d)", sent, received.Load(), lost, others)
	if lo, hi := binomialBound(sent, loss, 5); float64(missing) < lo || float64(missing) > hi {
		t.Errorf("%d of %d datagrams missing at %v loss, want %.0f..%.0f", missing, sent, loss, lo, hi)
	}
	if missing > lost || lost > missing+others {
		t.Errorf("%d datagrams missing but the emulator lost %d (of which at most %d were other packets)", missing, lost, others)
	}
}

// binomialBound returns the range within k standard deviations of the mean
// of Binomial(n, p).
func binomialBound(n int, p, k float64) (lo, hi float64) {
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	return mean - k*sd, mean + k*sd
}
