//go:build linux

package netlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Timeouts for round trips: a working path answers in well under a
// millisecond, so echoTimeout only matters under heavy load, and
// silenceTimeout is how long a test waits to conclude that nothing comes.
const (
	echoTimeout    = 2 * time.Second
	silenceTimeout = 200 * time.Millisecond
)

// natPortRange returns the external port range RebindNAT's n-th range
// covers.
func natPortRange(n int) (lo, hi uint16) {
	lo = uint16(natFirstPort + n*natRangeSize)
	return lo, lo + natRangeSize - 1
}

// startEcho runs a UDP server in the server namespace on addr that answers
// every datagram with its payload followed by the source address it saw, so
// the client learns what the NAT did. It stops at the end of the test.
func startEcho(t *testing.T, l *Lab, addr netip.Addr) (netip.AddrPort, *net.UDPConn) {
	t.Helper()
	conn, err := l.ListenUDP(Server, netip.AddrPortFrom(addr, 0))
	if err != nil {
		t.Fatalf("ListenUDP(Server, %v): %v", addr, err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			reply := fmt.Appendf(nil, "%s %s", buf[:n], from)
			if _, err := conn.WriteToUDPAddrPort(reply, from); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		wg.Wait()
	})
	return netip.MustParseAddrPort(conn.LocalAddr().String()), conn
}

// roundTrip sends a numbered request to server and returns the source
// address the server saw, skipping replies to earlier requests.
func roundTrip(c *net.UDPConn, server netip.AddrPort, seq int, timeout time.Duration) (netip.AddrPort, error) {
	req := fmt.Sprintf("seq%d", seq)
	if _, err := c.WriteToUDPAddrPort([]byte(req), server); err != nil {
		return netip.AddrPort{}, err
	}
	if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return netip.AddrPort{}, err
	}
	buf := make([]byte, 2048)
	for {
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return netip.AddrPort{}, err
		}
		got, seen, ok := strings.Cut(string(buf[:n]), " ")
		if !ok || got != req {
			continue
		}
		return netip.ParseAddrPort(seen)
	}
}

// mustRoundTrip is roundTrip for a path that must work.
func mustRoundTrip(t *testing.T, c *net.UDPConn, server netip.AddrPort, seq int) netip.AddrPort {
	t.Helper()
	seen, err := roundTrip(c, server, seq, echoTimeout)
	if err != nil {
		t.Fatalf("round trip %d to %v: %v", seq, server, err)
	}
	return seen
}

// wantSilence checks that a round trip gets no answer.
func wantSilence(t *testing.T, c *net.UDPConn, server netip.AddrPort, seq int) {
	t.Helper()
	seen, err := roundTrip(c, server, seq, silenceTimeout)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("round trip %d: got seen=%v err=%v, want os.ErrDeadlineExceeded", seq, seen, err)
	}
}

// labNamespaces lists the namespaces whose names start with prefix.
func labNamespaces(t *testing.T, prefix string) []string {
	t.Helper()
	entries, err := os.ReadDir("/run/netns")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read /run/netns: %v", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	return names
}

// requireRoot applies NewForTest's skip policy to tests that build labs
// themselves.
func requireRoot(t *testing.T) {
	t.Helper()
	if skipWithoutLab(os.Geteuid() == 0, inCI()) {
		t.Skip("netlab: needs root")
	}
}

// families lists the address families every path test runs over.
var families = []struct {
	desc     string
	server   func(*Lab) netip.Addr
	nat      func(*Lab) netip.Addr
	client   func(*Lab) netip.Addr
	wildcard netip.Addr
}{
	{"IPv4", (*Lab).ServerAddr, (*Lab).NATAddr, (*Lab).ClientAddr, netip.IPv4Unspecified()},
	{"IPv6", (*Lab).ServerAddr6, (*Lab).NATAddr6, (*Lab).ClientAddr6, netip.IPv6Unspecified()},
}

func TestEchoAcrossNATShowsRouterAddress(t *testing.T) {
	t.Parallel()
	for _, fam := range families {
		t.Run(fam.desc, func(t *testing.T) {
			t.Parallel()
			l := NewForTest(t, Options{})
			server, _ := startEcho(t, l, fam.server(l))
			c, err := l.ListenUDP(Client, netip.AddrPortFrom(fam.wildcard, 0))
			if err != nil {
				t.Fatalf("ListenUDP(Client): %v", err)
			}
			defer c.Close()
			seen := mustRoundTrip(t, c, server, 1)
			if got, want := seen.Addr(), fam.nat(l); got != want {
				t.Errorf("server saw source address %v, want the router's %v", got, want)
			}
			if lo, hi := natPortRange(0); seen.Port() < lo || seen.Port() > hi {
				t.Errorf("server saw source port %d, want one in the NAT range %d-%d", seen.Port(), lo, hi)
			}
		})
	}
}

func TestNoNATShowsClientAddress(t *testing.T) {
	t.Parallel()
	l := NewForTest(t, Options{NoNAT: true})
	for _, fam := range families {
		t.Run(fam.desc, func(t *testing.T) {
			server, _ := startEcho(t, l, fam.server(l))
			c, err := l.ListenUDP(Client, netip.AddrPortFrom(fam.wildcard, 0))
			if err != nil {
				t.Fatalf("ListenUDP(Client): %v", err)
			}
			defer c.Close()
			seen := mustRoundTrip(t, c, server, 1)
			local := netip.MustParseAddrPort(c.LocalAddr().String())
			if got, want := seen, netip.AddrPortFrom(fam.client(l), local.Port()); got != want {
				t.Errorf("server saw %v, want the client's own %v", got, want)
			}
		})
	}
	if err := l.RebindNAT(); !errors.Is(err, ErrNoNAT) {
		t.Errorf("RebindNAT without NAT: got %v, want ErrNoNAT", err)
	}
}

func TestRebindNATChangesExternalPort(t *testing.T) {
	t.Parallel()
	l := NewForTest(t, Options{})
	type client struct {
		conn   *net.UDPConn
		server netip.AddrPort
		nat    netip.Addr
		desc   string
	}
	var clients []client
	for _, fam := range families {
		server, _ := startEcho(t, l, fam.server(l))
		c, err := l.ListenUDP(Client, netip.AddrPortFrom(fam.wildcard, 0))
		if err != nil {
			t.Fatalf("ListenUDP(Client): %v", err)
		}
		defer c.Close()
		clients = append(clients, client{c, server, fam.nat(l), fam.desc})
	}
	// Three rebinds: each moves every flow, IPv4 and IPv6 alike, to the
	// next disjoint port range.
	prev := make([]netip.AddrPort, len(clients))
	for i, c := range clients {
		prev[i] = mustRoundTrip(t, c.conn, c.server, 0)
	}
	for rebind := 1; rebind <= 3; rebind++ {
		if err := l.RebindNAT(); err != nil {
			t.Fatalf("RebindNAT #%d: %v", rebind, err)
		}
		lo, hi := natPortRange(rebind)
		for i, c := range clients {
			seen := mustRoundTrip(t, c.conn, c.server, rebind)
			if seen.Addr() != c.nat {
				t.Errorf("%s after rebind #%d: server saw address %v, want %v", c.desc, rebind, seen.Addr(), c.nat)
			}
			if seen.Port() == prev[i].Port() || seen.Port() < lo || seen.Port() > hi {
				t.Errorf("%s after rebind #%d: server saw port %d (before: %d), want a new one in %d-%d",
					c.desc, rebind, seen.Port(), prev[i].Port(), lo, hi)
			}
			prev[i] = seen
		}
	}
}

func TestChangeClientIPMovesUnconnectedSocket(t *testing.T) {
	t.Parallel()
	for _, fam := range families {
		t.Run(fam.desc, func(t *testing.T) {
			t.Parallel()
			l := NewForTest(t, Options{})
			server, _ := startEcho(t, l, fam.server(l))
			c, err := l.ListenUDP(Client, netip.AddrPortFrom(fam.wildcard, 0))
			if err != nil {
				t.Fatalf("ListenUDP(Client): %v", err)
			}
			defer c.Close()
			before := mustRoundTrip(t, c, server, 0)
			for change, wantHost := range []byte{3, 4} {
				if err := l.ChangeClientIP(); err != nil {
					t.Fatalf("ChangeClientIP: %v", err)
				}
				if got := fam.client(l).AsSlice(); got[len(got)-1] != wantHost {
					t.Errorf("after change %d: client address %v, want host byte %d", change+1, fam.client(l), wantHost)
				}
				seen := mustRoundTrip(t, c, server, change+1)
				// The router sees a new source address, so conntrack makes
				// a new mapping; the old one still holds the old port.
				if seen.Addr() != fam.nat(l) || seen.Port() == before.Port() {
					t.Errorf("after change %d: server saw %v (before: %v), want %v with a new port",
						change+1, seen, before, fam.nat(l))
				}
				before = seen
			}
		})
	}
}

func TestChangeClientIPBreaksConnectedSocket(t *testing.T) {
	t.Parallel()
	l := NewForTest(t, Options{})
	server, _ := startEcho(t, l, l.ServerAddr())
	var c *net.UDPConn
	err := l.InClient(func() error {
		var err error
		c, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(server))
		return err
	})
	if err != nil {
		t.Fatalf("DialUDP in client: %v", err)
	}
	defer c.Close()
	buf := make([]byte, 100)
	if _, err := c.Write([]byte("seq1")); err != nil {
		t.Fatalf("write before change: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(echoTimeout))
	if _, err := c.Read(buf); err != nil {
		t.Fatalf("read before change: %v", err)
	}
	if err := l.ChangeClientIP(); err != nil {
		t.Fatalf("ChangeClientIP: %v", err)
	}
	// The socket keeps the source address it chose at connect time, which
	// no longer exists, although the new one is already in place.
	for attempt := range 3 {
		if _, err := c.Write([]byte("seq2")); !errors.Is(err, syscall.ENETUNREACH) {
			t.Errorf("connected write %d after change: got %v, want ENETUNREACH", attempt, err)
		}
	}
	c.SetReadDeadline(time.Now().Add(silenceTimeout))
	if n, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("connected read after change: got %q, %v; want os.ErrDeadlineExceeded", buf[:n], err)
	}
}

func TestChangeClientIPWithGap(t *testing.T) {
	t.Parallel()
	const gap = 150 * time.Millisecond
	l := NewForTest(t, Options{AddressGap: gap})
	server, _ := startEcho(t, l, l.ServerAddr())
	c, err := l.ListenUDP(Client, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
	if err != nil {
		t.Fatalf("ListenUDP(Client): %v", err)
	}
	defer c.Close()
	mustRoundTrip(t, c, server, 0)

	start := time.Now()
	changed := make(chan error, 1)
	go func() { changed <- l.ChangeClientIP() }()
	// Send until the change completes; some send must land in the gap.
	var unreachable int
	var changeErr error
sending:
	for {
		select {
		case changeErr = <-changed:
			break sending
		case <-time.After(5 * time.Millisecond):
			if _, err := c.WriteToUDPAddrPort([]byte("gap"), server); errors.Is(err, syscall.ENETUNREACH) {
				unreachable++
			} else if err != nil {
				t.Fatalf("send during change: got %v, want nil or ENETUNREACH", err)
			}
		}
	}
	if changeErr != nil {
		t.Fatalf("ChangeClientIP: %v", changeErr)
	}
	if elapsed := time.Since(start); elapsed < gap {
		t.Errorf("ChangeClientIP took %v, want at least the gap %v", elapsed, gap)
	}
	if unreachable == 0 {
		t.Errorf("no send failed with ENETUNREACH during a %v address gap", gap)
	}
	if got, want := l.ClientAddr(), netip.MustParseAddr("198.18.1.3"); got != want {
		t.Errorf("ClientAddr after change = %v, want %v", got, want)
	}
	mustRoundTrip(t, c, server, 1)
}

func TestBlackoutDropsBothDirections(t *testing.T) {
	t.Parallel()
	l := NewForTest(t, Options{})
	server, serverConn := startEcho(t, l, l.ServerAddr())
	c, err := l.ListenUDP(Client, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
	if err != nil {
		t.Fatalf("ListenUDP(Client): %v", err)
	}
	defer c.Close()
	seen := mustRoundTrip(t, c, server, 0)

	if err := l.Blackout(true); err != nil {
		t.Fatalf("Blackout(true): %v", err)
	}
	if err := l.Blackout(true); err != nil {
		t.Fatalf("Blackout(true) again: %v", err)
	}
	wantSilence(t, c, server, 1)
	// Server to client, through the NAT mapping that still exists.
	if _, err := serverConn.WriteToUDPAddrPort([]byte("pushed"), seen); err != nil {
		t.Fatalf("server send: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(silenceTimeout))
	buf := make([]byte, 100)
	if n, _, err := c.ReadFromUDPAddrPort(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("client read during blackout: got %q, %v; want os.ErrDeadlineExceeded", buf[:n], err)
	}

	if err := l.Blackout(false); err != nil {
		t.Fatalf("Blackout(false): %v", err)
	}
	if got := mustRoundTrip(t, c, server, 2); got != seen {
		t.Errorf("after blackout: server saw %v, want the surviving mapping %v", got, seen)
	}
}

func TestSetLoss(t *testing.T) {
	t.Parallel()
	l := NewForTest(t, Options{})
	server, _ := startEcho(t, l, l.ServerAddr())
	c, err := l.ListenUDP(Client, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
	if err != nil {
		t.Fatalf("ListenUDP(Client): %v", err)
	}
	defer c.Close()
	mustRoundTrip(t, c, server, 0)

	if err := l.SetLoss(100); err != nil {
		t.Fatalf("SetLoss(100): %v", err)
	}
	wantSilence(t, c, server, 1)
	if err := l.SetLoss(0); err != nil {
		t.Fatalf("SetLoss(0): %v", err)
	}
	mustRoundTrip(t, c, server, 2)

	for _, tc := range []struct {
		desc    string
		percent float64
	}{
		{"negative", -1},
		{"above 100", 100.5},
		{"NaN", math.NaN()},
		{"infinite", math.Inf(1)},
	} {
		if err := l.SetLoss(tc.percent); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: SetLoss(%v) = %v, want ErrInvalidArgument", tc.desc, tc.percent, err)
		}
	}
}

func TestSetLossPartialDropsAboutThatShare(t *testing.T) {
	t.Parallel()
	l := NewForTest(t, Options{})
	sink, err := l.ListenUDP(Server, netip.AddrPortFrom(l.ServerAddr(), 0))
	if err != nil {
		t.Fatalf("ListenUDP(Server): %v", err)
	}
	defer sink.Close()
	// Room for every datagram, so that only the router drops any.
	if err := sink.SetReadBuffer(4 << 20); err != nil {
		t.Fatalf("SetReadBuffer: %v", err)
	}
	c, err := l.ListenUDP(Client, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
	if err != nil {
		t.Fatalf("ListenUDP(Client): %v", err)
	}
	defer c.Close()
	if err := l.SetLoss(50); err != nil {
		t.Fatalf("SetLoss(50): %v", err)
	}
	const sent = 1000
	dst := netip.MustParseAddrPort(sink.LocalAddr().String())
	for i := range sent {
		if _, err := c.WriteToUDPAddrPort([]byte(strconv.Itoa(i)), dst); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	received := 0
	buf := make([]byte, 100)
	for {
		sink.SetReadDeadline(time.Now().Add(silenceTimeout))
		if _, err := sink.Read(buf); err != nil {
			break
		}
		received++
	}
	// Binomial(1000, 0.5): mean 500, standard deviation 15.8; the bounds
	// are more than six deviations out.
	if received < 400 || received > 600 {
		t.Errorf("received %d of %d datagrams at 50%% loss, want 400..600", received, sent)
	}
}

func TestSetRateLimitsThroughput(t *testing.T) {
	t.Parallel()
	l := NewForTest(t, Options{})
	ln, err := l.ListenTCP(Server, netip.AddrPortFrom(l.ServerAddr(), 0))
	if err != nil {
		t.Fatalf("ListenTCP(Server): %v", err)
	}
	defer ln.Close()
	const rate = 8_000_000 // 1 MB/s
	if err := l.SetRate(rate); err != nil {
		t.Fatalf("SetRate(%d): %v", rate, err)
	}
	const size = 256 << 10
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := l.DialTCP(ctx, Client, netip.MustParseAddrPort(ln.Addr().String()))
	if err != nil {
		t.Fatalf("DialTCP: %v", err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	defer s.Close()
	start := time.Now()
	go func() {
		c.Write(make([]byte, size))
		c.CloseWrite()
	}()
	s.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, s)
	elapsed := time.Since(start)
	if err != nil || n != size {
		t.Fatalf("received %d bytes, err %v; want %d", n, err, size)
	}
	// The token bucket lets at most its burst through ahead of the rate.
	minimum := time.Duration(float64(size-rateMinBurst) * 8 / rate * float64(time.Second))
	if elapsed < minimum {
		t.Errorf("%d bytes at %d bit/s took %v, want at least %v", size, rate, elapsed, minimum)
	}

	if err := l.SetRate(0); err != nil {
		t.Fatalf("SetRate(0): %v", err)
	}
	if err := l.SetRate(0); err != nil {
		t.Fatalf("SetRate(0) again: %v", err)
	}
	for _, dev := range []string{routerClientLink, routerServerLink} {
		out, err := exec.Command(l.tools.tc, "-n", l.Namespace(Router), "qdisc", "show", "dev", dev).CombinedOutput()
		if err != nil {
			t.Fatalf("tc qdisc show: %v: %s", err, out)
		}
		if bytes.Contains(out, []byte("tbf")) {
			t.Errorf("after SetRate(0), %s still has %s", dev, out)
		}
	}
}

// tcpPair connects a client and a server TCP socket across the lab and
// exchanges one message so that the NAT mapping exists.
func tcpPair(t *testing.T, l *Lab, server netip.Addr) (client, accepted *net.TCPConn) {
	t.Helper()
	ln, err := l.ListenTCP(Server, netip.AddrPortFrom(server, 0))
	if err != nil {
		t.Fatalf("ListenTCP(Server): %v", err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), echoTimeout)
	defer cancel()
	client, err = l.DialTCP(ctx, Client, netip.MustParseAddrPort(ln.Addr().String()))
	if err != nil {
		t.Fatalf("DialTCP: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	accepted, err = ln.AcceptTCP()
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	t.Cleanup(func() { accepted.Close() })
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatalf("client write: %v", err)
	}
	buf := make([]byte, 5)
	accepted.SetReadDeadline(time.Now().Add(echoTimeout))
	if _, err := io.ReadFull(accepted, buf); err != nil {
		t.Fatalf("server read: %v", err)
	}
	return client, accepted
}

func TestTCPIsResetByNATRebinding(t *testing.T) {
	t.Parallel()
	for _, fam := range families {
		t.Run(fam.desc, func(t *testing.T) {
			t.Parallel()
			l := NewForTest(t, Options{})
			client, server := tcpPair(t, l, fam.server(l))
			if err := l.RebindNAT(); err != nil {
				t.Fatalf("RebindNAT: %v", err)
			}
			// The client's next segment is picked up mid-stream under a
			// new external port; the server knows no such connection and
			// answers with RST, which the router passes back.
			if _, err := client.Write([]byte("after")); err != nil {
				t.Fatalf("client write after rebind: %v", err)
			}
			buf := make([]byte, 100)
			client.SetReadDeadline(time.Now().Add(echoTimeout))
			if n, err := client.Read(buf); !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("client read after rebind: got %q, %v; want ECONNRESET", buf[:n], err)
			}
			// The server's connection is still open, and its next segment
			// goes to the old port, which now reaches the router itself; the
			// router answers with RST too.
			if _, err := server.Write([]byte("late")); err != nil {
				t.Fatalf("server write after rebind: %v", err)
			}
			server.SetReadDeadline(time.Now().Add(echoTimeout))
			if n, err := server.Read(buf); !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("server read after rebind: got %q, %v; want ECONNRESET (the client's data never arrives)", buf[:n], err)
			}
		})
	}
}

func TestTCPStallsAcrossClientIPChange(t *testing.T) {
	t.Parallel()
	l := NewForTest(t, Options{})
	client, server := tcpPair(t, l, l.ServerAddr())
	if err := l.ChangeClientIP(); err != nil {
		t.Fatalf("ChangeClientIP: %v", err)
	}
	// The socket's source address is gone: its segments cannot leave, and
	// the server's segments go to an address nobody has. Nobody resets.
	if _, err := client.Write([]byte("after")); err != nil {
		t.Fatalf("client write after change: got %v, want nil (buffered)", err)
	}
	if _, err := server.Write([]byte("reply")); err != nil {
		t.Fatalf("server write after change: got %v, want nil (buffered)", err)
	}
	buf := make([]byte, 100)
	for _, end := range []struct {
		desc string
		conn *net.TCPConn
	}{{"server", server}, {"client", client}} {
		end.conn.SetReadDeadline(time.Now().Add(silenceTimeout))
		if n, err := end.conn.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s read after change: got %q, %v; want os.ErrDeadlineExceeded", end.desc, buf[:n], err)
		}
	}
}

func TestCloseRemovesNamespaces(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	l, err := New(Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got := labNamespaces(t, l.Prefix()); len(got) != 3 {
		t.Fatalf("namespaces with prefix %s: %v, want 3", l.Prefix(), got)
	}
	c, err := l.ListenUDP(Client, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
	if err != nil {
		t.Fatalf("ListenUDP: %v", err)
	}
	defer c.Close() // an open socket must not keep the names alive
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := labNamespaces(t, l.Prefix()); len(got) != 0 {
		t.Errorf("namespaces left after Close: %v", got)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	for _, op := range []struct {
		desc string
		do   func() error
	}{
		{"RebindNAT", l.RebindNAT},
		{"ChangeClientIP", l.ChangeClientIP},
		{"Blackout", func() error { return l.Blackout(true) }},
		{"SetLoss", func() error { return l.SetLoss(1) }},
		{"SetRate", func() error { return l.SetRate(1e6) }},
		{"InServer", func() error { return l.InServer(func() error { return nil }) }},
		{"ListenUDP", func() error {
			_, err := l.ListenUDP(Server, netip.AddrPort{})
			return err
		}},
	} {
		if err := op.do(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: got %v, want ErrClosed", op.desc, err)
		}
	}
}

// TestFailedSetupLeavesNothing runs sequentially (no t.Parallel) so that
// no other lab of this process exists while it counts namespaces.
func TestFailedSetupLeavesNothing(t *testing.T) {
	requireRoot(t)
	ours := fmt.Sprintf("lp%dn", os.Getpid())
	for _, step := range []string{"namespaces", "sysctls", "links", "addresses", "offloads", "nftables"} {
		t.Run(step, func(t *testing.T) {
			before := labNamespaces(t, ours)
			l, err := New(Options{failAt: step})
			if err == nil || l != nil {
				t.Fatalf("New with failure at %q: got %v, %v; want nil and an error", step, l, err)
			}
			if got := labNamespaces(t, ours); len(got) != len(before) {
				t.Errorf("namespaces after failed setup: %v, want %v", got, before)
			}
		})
	}
}

// fakeTB records what NewForTest does with its testing.TB. Methods it does
// not override panic through the nil embedded interface.
type fakeTB struct {
	testing.TB
	cleanups []func()
	fatal    string
	errors   []string
	skipped  bool
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Cleanup(fn func())              { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Fatalf(format string, a ...any) { f.fatal = fmt.Sprintf(format, a...) }
func (f *fakeTB) Errorf(format string, a ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, a...))
}
func (f *fakeTB) Skip(...any) { f.skipped = true }

func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func TestNewForTestCleansUpAfterFailure(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	tb := &fakeTB{}
	l := NewForTest(tb, Options{})
	if l == nil {
		t.Fatalf("NewForTest: nil lab (fatal %q, skipped %v)", tb.fatal, tb.skipped)
	}
	if got := labNamespaces(t, l.Prefix()); len(got) != 3 {
		t.Fatalf("namespaces with prefix %s: %v, want 3", l.Prefix(), got)
	}
	tb.Errorf("the test using the lab fails")
	tb.runCleanups()
	if got := labNamespaces(t, l.Prefix()); len(got) != 0 {
		t.Errorf("namespaces left after a failed test's cleanup: %v", got)
	}
	if len(tb.errors) != 1 {
		t.Errorf("errors reported: %q, want only the test's own", tb.errors)
	}
}

func TestNewForTestFailsWhenSetupFails(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	tb := &fakeTB{}
	if l := NewForTest(tb, Options{failAt: "links"}); l != nil {
		t.Fatalf("NewForTest with failing setup returned a lab")
	}
	if tb.skipped || !strings.Contains(tb.fatal, "injected failure") {
		t.Errorf("got skipped=%v fatal=%q; want a Fatal naming the failure", tb.skipped, tb.fatal)
	}
	if len(tb.cleanups) != 0 {
		t.Errorf("registered %d cleanups for a lab that does not exist", len(tb.cleanups))
	}
}

func TestSkipWithoutLab(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		desc     string
		root, ci bool
		want     bool
	}{
		{"developer without root skips", false, false, true},
		{"CI without root fails", false, true, false},
		{"root outside CI runs", true, false, false},
		{"root in CI runs", true, true, false},
	} {
		if got := skipWithoutLab(tc.root, tc.ci); got != tc.want {
			t.Errorf("%s: skipWithoutLab(root=%v, ci=%v) = %v, want %v", tc.desc, tc.root, tc.ci, got, tc.want)
		}
	}
}

func TestInCI(t *testing.T) {
	for _, tc := range []struct {
		desc, value string
		want        bool
	}{
		{"unset", "", false},
		{"true", "true", true},
		{"1", "1", true},
		{"false", "false", false},
		{"0", "0", false},
		{"unparsable counts as CI", "yes", true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			t.Setenv("CI", tc.value)
			if got := inCI(); got != tc.want {
				t.Errorf("inCI with CI=%q = %v, want %v", tc.value, got, tc.want)
			}
		})
	}
}

func TestMissingToolError(t *testing.T) {
	t.Parallel()
	err := error(&MissingToolError{Tool: "nft", Package: "nftables"})
	if !errors.Is(err, ErrMissingTool) {
		t.Errorf("errors.Is(%v, ErrMissingTool) = false", err)
	}
	if got, want := err.Error(), "install the Debian package nftables"; !strings.Contains(got, want) {
		t.Errorf("message %q does not contain %q", got, want)
	}
	if _, err := lookTool("netlab-no-such-program"); err == nil {
		t.Errorf("lookTool found a program that does not exist")
	}
	if _, err := findTools(); err != nil {
		t.Errorf("findTools on this machine: %v", err)
	}
}

// netnsInode identifies the network namespace of the calling thread.
func netnsInode(t *testing.T) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		t.Fatalf("stat own network namespace: %v", err)
	}
	return st.Ino
}

func TestInSwitchesThreadAndBack(t *testing.T) {
	t.Parallel()
	l := NewForTest(t, Options{})
	runtime.LockOSThread()
	home := netnsInode(t)
	runtime.UnlockOSThread()

	inodes := map[uint64]Side{home: hostSide}
	for s := range Side(sideCount) {
		var ino uint64
		if err := l.In(s, func() error {
			var st unix.Stat_t
			if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
				return err
			}
			ino = st.Ino
			return nil
		}); err != nil {
			t.Fatalf("In(%v): %v", s, err)
		}
		if prev, ok := inodes[ino]; ok {
			t.Errorf("In(%v) ran in the namespace of %v", s, prev)
		}
		inodes[ino] = s
	}

	sentinel := errors.New("from fn")
	if err := l.InRouter(func() error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("In returned %v, want fn's error", err)
	}
	if err := l.In(Side(7), func() error { return nil }); err == nil {
		t.Errorf("In(Side(7)) succeeded")
	}
	func() {
		defer func() {
			if got := recover(); got != "boom" {
				t.Errorf("recovered %v, want fn's panic value", got)
			}
		}()
		l.InClient(func() error { panic("boom") })
	}()

	// No thread of the process may be left in a lab namespace.
	var wg sync.WaitGroup
	for range 4 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if got := netnsInode(t); got != home {
				t.Errorf("a thread is in namespace %d (%v), want the host's %d", got, inodes[got], home)
			}
		}()
	}
	wg.Wait()
}

func TestSideString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		side Side
		want string
	}{{Client, "client"}, {Router, "router"}, {Server, "server"}, {Side(9), "Side(9)"}} {
		if got := tc.side.String(); got != tc.want {
			t.Errorf("Side(%d).String() = %q, want %q", int(tc.side), got, tc.want)
		}
	}
}

func TestNewSweepsLabsOfDeadProcesses(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	// No process can have this pid: it is above the kernel's pid_max limit.
	const stale = "lp99999999n1-client"
	if out, err := exec.Command("ip", "netns", "add", stale).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", stale, err, out)
	}
	t.Cleanup(func() { deleteNamespaces("ip", []string{stale}) })
	NewForTest(t, Options{})
	if got := labNamespaces(t, stale); len(got) != 0 {
		t.Errorf("stale namespace %v survived New", got)
	}
}
