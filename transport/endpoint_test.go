package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
)

// TestEndpointManyConnections: one Endpoint dials 1000 connections to one
// listener from its one socket; each carries an echo, and closing the
// endpoint ends them all.
func TestEndpointManyConnections(t *testing.T) {
	key, _ := crypto.GenerateKey()
	ln, err := Listen("127.0.0.1:0", &Config{PrivateKey: key, MaxHandshakes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go echoAll(ln)
	ep, err := NewEndpoint("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 1000
	conns := make([]*Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	// 100 handshakes at a time: the server's queue sheds a thousand at
	// once (by design), and the backed-off retries of a slow race build
	// could then outlast the handshake timeout.
	slots := make(chan struct{}, 100)
	for i := range conns {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			c, err := ep.Dial(ctx, ln.Addr().String(), &Config{ServerKey: key.Public()})
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
			if err := echoOnStream(ctx, c, []byte(fmt.Sprintf("connection %d", i))); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, c := range conns {
		if got, want := c.LocalAddr().String(), ep.Addr().String(); got != want {
			t.Fatalf("connection %d is on %s, not the endpoint's socket %s", i, got, want)
		}
	}
	ep.Close()
	for i, c := range conns {
		select {
		case <-c.Done():
		default:
			t.Fatalf("connection %d still open after the endpoint closed", i)
		}
	}
}

// echoAll accepts connections and echoes every stream they open.
func echoAll(ln *Listener) {
	for {
		c, err := ln.Accept(context.Background())
		if err != nil {
			return
		}
		go func() {
			for {
				s, err := c.AcceptStream(context.Background())
				if err != nil {
					return
				}
				go func() { io.Copy(s, s); s.Close() }()
			}
		}()
	}
}

func echoOnStream(ctx context.Context, c *Conn, msg []byte) error {
	s, err := c.OpenStream(ctx)
	if err != nil {
		return err
	}
	s.Write(msg)
	s.CloseWrite()
	got, err := io.ReadAll(s)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("echo %q, want %q", got, msg)
	}
	return s.Close()
}

// TestEndpointsDialEachOther: two endpoints, each accepting, dial each
// other at the same moment from their one socket each, as two peers behind
// NATs do, and both connections carry data.
func TestEndpointsDialEachOther(t *testing.T) {
	keyA, _ := crypto.GenerateKey()
	keyB, _ := crypto.GenerateKey()
	a, err := NewEndpoint("127.0.0.1:0", &Config{PrivateKey: keyA})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewEndpoint("127.0.0.1:0", &Config{PrivateKey: keyB})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	go echoAll(a)
	go echoAll(b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var ab, ba *Conn
	var errAB, errBA error
	var wg sync.WaitGroup
	wg.Go(func() {
		ab, errAB = a.Dial(ctx, b.Addr().String(), &Config{PrivateKey: keyA, ServerKey: keyB.Public()})
	})
	wg.Go(func() {
		ba, errBA = b.Dial(ctx, a.Addr().String(), &Config{PrivateKey: keyB, ServerKey: keyA.Public()})
	})
	wg.Wait()
	if errAB != nil || errBA != nil {
		t.Fatalf("Dial A→B: %v; B→A: %v", errAB, errBA)
	}
	if err := echoOnStream(ctx, ab, []byte("from A")); err != nil {
		t.Fatal(err)
	}
	if err := echoOnStream(ctx, ba, []byte("from B")); err != nil {
		t.Fatal(err)
	}
	if ab.LocalAddr().String() != a.Addr().String() || ba.LocalAddr().String() != b.Addr().String() {
		t.Fatalf("connections not on their endpoints' sockets: %v, %v", ab.LocalAddr(), ba.LocalAddr())
	}
	if got := ab.ConnectionState().PeerKey; got != keyB.Public() {
		t.Fatalf("A's connection proved key %v, want B's", got)
	}
}

// BenchmarkDialConnMemory is BenchmarkEndpointConnMemory for clients that
// Dial, each connection on a socket and an endpoint of its own, as most
// programs use the package.
func BenchmarkDialConnMemory(b *testing.B) {
	key, ln := echoListener(b)
	conns := measureIdlePairs(b, func(ctx context.Context) (*Conn, error) {
		return Dial(ctx, ln.Addr().String(), &Config{ServerKey: key.Public()})
	})
	for _, c := range conns {
		c.Close()
	}
}

// BenchmarkEndpointConnMemory measures what an established, idle
// connection costs: b.N pairs (client on one Endpoint, server on one
// listener, each pair having echoed one message), reported as resident
// memory and Go heap per pair, both sides together. Run it with
// -benchtime=10000x for the figure the README quotes.
func BenchmarkEndpointConnMemory(b *testing.B) {
	key, ln := echoListener(b)
	ep, err := NewEndpoint("127.0.0.1:0", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ep.Close()
	conns := measureIdlePairs(b, func(ctx context.Context) (*Conn, error) {
		return ep.Dial(ctx, ln.Addr().String(), &Config{ServerKey: key.Public()})
	})
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.StackInuse)/float64(b.N), "stack-B/pair")
	runtime.KeepAlive(conns)
}

// measureIdlePairs dials b.N connections, each echoing one message, and
// reports the resident memory and Go heap they added per pair.
func measureIdlePairs(b *testing.B, dial func(context.Context) (*Conn, error)) []*Conn {
	ctx := context.Background()
	debug.FreeOSMemory() // a collection, and freed memory back to the system
	rss0, heap0 := residentBytes(b), heapBytes()
	b.ResetTimer()
	conns := make([]*Conn, b.N)
	for i := range conns {
		c, err := dial(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := echoOnStream(ctx, c, []byte("hello")); err != nil {
			b.Fatal(err)
		}
		conns[i] = c
	}
	b.StopTimer()
	debug.FreeOSMemory()
	rss1, heap1 := residentBytes(b), heapBytes()
	b.ReportMetric(float64(rss1-rss0)/float64(b.N), "RSS-B/pair")
	b.ReportMetric(float64(heap1-heap0)/float64(b.N), "heap-B/pair")
	return conns
}

// echoListener is an echo server on loopback that admits as many
// connections from one address as the memory benchmarks make, closed when
// the test or benchmark ends.
func echoListener(tb testing.TB) (crypto.PrivateKey, *Listener) {
	key, _ := crypto.GenerateKey()
	ln, err := Listen("127.0.0.1:0", &Config{PrivateKey: key, MaxHandshakes: 4096, MaxConns: 1 << 20, MaxConnsPerSource: 1 << 20, MaxHandshakesPerSource: 1 << 20})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go echoAll(ln)
	return key, ln
}

func heapBytes() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse)
}

// residentBytes is the process's resident set size, from /proc.
func residentBytes(tb testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		tb.Skip("no /proc/self/statm")
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// TestApplicationProtocols: the server picks the first of its protocols
// that the client offers; with none in common the handshake fails with
// NO_APPLICATION_PROTOCOL; without a list on either side the protocol is
// "". ConnectionState reports it on both ends, with the peer's key and
// the suite.
func TestApplicationProtocols(t *testing.T) {
	tests := []struct {
		desc           string
		server, client []string
		want           string
		wantErr        TransportErrorCode
	}{
		{desc: "the server's preference wins", server: []string{"b/2", "a/1"}, client: []string{"a/1", "b/2"}, want: "b/2"},
		{desc: "one in common", server: []string{"x", "a/1"}, client: []string{"a/1"}, want: "a/1"},
		{desc: "none in common", server: []string{"x"}, client: []string{"a/1"}, wantErr: NoApplicationProtocol},
		{desc: "the server lists none", client: []string{"a/1"}, want: ""},
		{desc: "the client lists none", server: []string{"x"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			key, _ := crypto.GenerateKey()
			ln, err := Listen("127.0.0.1:0", &Config{PrivateKey: key, ApplicationProtocols: tt.server})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			clientKey, _ := crypto.GenerateKey()
			c, err := Dial(ctx, ln.Addr().String(), &Config{PrivateKey: clientKey, ServerKey: key.Public(), ApplicationProtocols: tt.client})
			if tt.wantErr != 0 {
				var te *TransportError
				if !errors.As(err, &te) || !te.Remote || te.Code != tt.wantErr {
					t.Fatalf("Dial = %v, want the server's %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s, err := ln.Accept(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cs, ss := c.ConnectionState(), s.ConnectionState()
			if cs.ApplicationProtocol != tt.want || ss.ApplicationProtocol != tt.want {
				t.Fatalf("application protocol: client %q, server %q; want %q", cs.ApplicationProtocol, ss.ApplicationProtocol, tt.want)
			}
			if cs.PeerKey != key.Public() || ss.PeerKey != clientKey.Public() || cs.CipherSuite != ss.CipherSuite || !cs.CipherSuite.Known() {
				t.Fatalf("ConnectionState: client %+v, server %+v", cs, ss)
			}
		})
	}
}
