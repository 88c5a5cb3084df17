package netsim

import (
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// checkGoroutines fails the test if it ends with more goroutines than it
// started with. Register it first, so that it runs after the test's other
// cleanups (which close things). The bounded Gosched loop only gives
// goroutines already told to stop a chance to exit; it synchronises nothing.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		for i := 0; i < 100000 && runtime.NumGoroutine() > before; i++ {
			runtime.Gosched()
		}
		if got := runtime.NumGoroutine(); got > before {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutines after the test: got %d, want at most %d\n%s", got, before, buf)
		}
	})
}

// waitUntilBlocked waits until some goroutine is parked in state (as
// runtime.Stack names it, e.g. "select") inside a function whose name
// contains fn, so that a test can act on a call that is really blocked.
// It polls the goroutine dump with a bounded loop; it never sleeps.
func waitUntilBlocked(t *testing.T, fn, state string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for range 100000 {
		dump := string(buf[:runtime.Stack(buf, true)])
		for _, g := range strings.Split(dump, "\n\n") {
			header, _, _ := strings.Cut(g, "\n")
			if strings.Contains(header, "["+state) && strings.Contains(g, fn) {
				return
			}
		}
		runtime.Gosched()
	}
	t.Fatalf("no goroutine blocked in %s [%s]", fn, state)
}

// receiveWithin returns the error a goroutine reports on errc, failing
// the test if it takes longer than d (the call it made is stuck).
func receiveWithin(t *testing.T, errc <-chan error, d time.Duration) error {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-errc:
		return err
	case <-timer.C:
		t.Fatalf("blocked call did not return within %v", d)
		return nil
	}
}

// mustListen opens a Socket at addr and closes it when the test ends. A
// watchdog closes it after 20 s, so that a read that wrongly blocks fails
// the test with net.ErrClosed instead of hanging it.
func mustListen(t *testing.T, n *Network, addr string) *Socket {
	t.Helper()
	s, err := n.Listen(netip.MustParseAddrPort(addr))
	if err != nil {
		t.Fatalf("Listen(%s): %v", addr, err)
	}
	watchdog := time.AfterFunc(20*time.Second, func() { s.Close() })
	t.Cleanup(func() {
		watchdog.Stop()
		s.Close()
	})
	return s
}

// readWithin reads one datagram from pc, failing the test if none arrives
// within d.
func readWithin(t *testing.T, pc net.PacketConn, d time.Duration) ([]byte, net.Addr) {
	t.Helper()
	if err := pc.SetReadDeadline(time.Now().Add(d)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	n, from, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	return buf[:n], from
}

// recorder is a net.PacketConn that keeps a copy of every datagram written
// to it, for checking exactly what an impaired Conn let through.
type recorder struct {
	mu      sync.Mutex
	got     [][]byte
	to      []net.Addr
	changed chan struct{} // gets a token after each write
}

func newRecorder() *recorder {
	return &recorder{changed: make(chan struct{}, 1)}
}

func (r *recorder) WriteTo(b []byte, to net.Addr) (int, error) {
	r.mu.Lock()
	r.got = append(r.got, append([]byte(nil), b...))
	r.to = append(r.to, to)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
	return len(b), nil
}

// datagrams returns copies of what was written so far.
func (r *recorder) datagrams() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.got...)
}

// waitFor waits until at least n datagrams were written, failing the test
// after timeout.
func (r *recorder) waitFor(t *testing.T, n int, timeout time.Duration) [][]byte {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if got := r.datagrams(); len(got) >= n {
			return got
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("recorder: got %d datagrams within %v, want %d", len(r.datagrams()), timeout, n)
		}
	}
}

func (r *recorder) ReadFrom([]byte) (int, net.Addr, error) {
	return 0, nil, net.ErrClosed
}
func (r *recorder) Close() error                     { return nil }
func (r *recorder) LocalAddr() net.Addr              { return testAddr("198.18.0.1:1") }
func (r *recorder) SetDeadline(time.Time) error      { return nil }
func (r *recorder) SetReadDeadline(time.Time) error  { return nil }
func (r *recorder) SetWriteDeadline(time.Time) error { return nil }

func testAddr(s string) *net.UDPAddr {
	return net.UDPAddrFromAddrPort(netip.MustParseAddrPort(s))
}
