package netsim

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

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
	ecn     []uint8
	changed chan struct{} // gets a token after each write
}

func newRecorder() *recorder {
	return &recorder{changed: make(chan struct{}, 1)}
}

func (r *recorder) WriteTo(b []byte, to net.Addr) (int, error) {
	return r.WriteToECN(b, to, ecnNotECT)
}

func (r *recorder) WriteToECN(b []byte, to net.Addr, ecn uint8) (int, error) {
	r.mu.Lock()
	r.got = append(r.got, append([]byte(nil), b...))
	r.to = append(r.to, to)
	r.ecn = append(r.ecn, ecn)
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

// codepoints returns the ECN codepoint of each datagram written so far.
func (r *recorder) codepoints() []uint8 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint8(nil), r.ecn...)
}

func (r *recorder) ReadFrom([]byte) (int, net.Addr, error) {
	return 0, nil, net.ErrClosed
}

func (r *recorder) ReadFromECN([]byte) (int, net.Addr, uint8, error) {
	return 0, nil, 0, net.ErrClosed
}
func (r *recorder) Close() error                     { return nil }
func (r *recorder) LocalAddr() net.Addr              { return testAddr("198.18.0.1:1") }
func (r *recorder) SetDeadline(time.Time) error      { return nil }
func (r *recorder) SetReadDeadline(time.Time) error  { return nil }
func (r *recorder) SetWriteDeadline(time.Time) error { return nil }

func testAddr(s string) *net.UDPAddr {
	return net.UDPAddrFromAddrPort(netip.MustParseAddrPort(s))
}
