package transport

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
)

// natRelay stands in for a NAT on loopback: the client talks to its front
// socket, and it forwards to the server from a back socket. Rebind replaces
// the back socket, so the server sees the client's flow come from a new
// port, as after a NAT mapping timeout. It works for either address family.
type natRelay struct {
	front  *net.UDPConn
	server netip.AddrPort

	mu     sync.Mutex
	back   *net.UDPConn
	client netip.AddrPort
	wg     sync.WaitGroup
}

func newNATRelay(t *testing.T, listen string, server netip.AddrPort) *natRelay {
	t.Helper()
	front, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(listen)))
	if err != nil {
		t.Fatal(err)
	}
	r := &natRelay{front: front, server: server}
	if err := r.Rebind(); err != nil {
		t.Fatal(err)
	}
	r.wg.Go(r.forwardToServer)
	t.Cleanup(r.close)
	return r
}

// Addr is where the client should dial.
func (r *natRelay) Addr() netip.AddrPort { return r.front.LocalAddr().(*net.UDPAddr).AddrPort() }

// Rebind moves the flow to a new external port; the old one is closed.
func (r *natRelay) Rebind() error {
	laddr := &net.UDPAddr{IP: r.server.Addr().AsSlice()}
	back, err := net.ListenUDP("udp", laddr)
	if err != nil {
		return err
	}
	r.mu.Lock()
	old := r.back
	r.back = back
	r.mu.Unlock()
	if old != nil {
		old.Close()
	}
	r.wg.Go(func() { r.forwardToClient(back) })
	return nil
}

// External is the address the server currently sees for the client.
func (r *natRelay) External() netip.AddrPort {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.back.LocalAddr().(*net.UDPAddr).AddrPort()
}

func (r *natRelay) forwardToServer() {
	buf := make([]byte, 65536)
	for {
		n, from, err := r.front.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		r.client = from
		back := r.back
		r.mu.Unlock()
		back.WriteToUDPAddrPort(buf[:n], r.server)
	}
}

func (r *natRelay) forwardToClient(back *net.UDPConn) {
	buf := make([]byte, 65536)
	for {
		n, _, err := back.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		r.mu.Lock()
		client := r.client
		r.mu.Unlock()
		r.front.WriteToUDPAddrPort(buf[:n], client)
	}
}

func (r *natRelay) close() {
	r.front.Close()
	r.mu.Lock()
	r.back.Close()
	r.mu.Unlock()
	r.wg.Wait()
}

// listenOrFail listens on addr, failing the test (not skipping it) when the
// host has no such address: IPv6 loopback is part of what limpet supports.
func listenOrFail(t *testing.T, addr string, cfg *Config) *Listener {
	t.Helper()
	ln, err := Listen(addr, cfg)
	if err != nil {
		t.Fatalf("Listen(%q): %v (IPv6 loopback must be available for these tests)", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func dialAccept(t *testing.T, ln *Listener, addr string, key crypto.PrivateKey) (cli, srv *Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := Dial(ctx, addr, &Config{ServerKey: key.Public()})
	if err != nil {
		t.Fatalf("Dial(%s): %v", addr, err)
	}
	t.Cleanup(func() { cli.Close() })
	srv, err = ln.Accept(ctx)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	return cli, srv
}

// TestNATRebindingIPv6Loopback: 8 MiB over [::1] through a relay whose
// external port changes twice mid-transfer arrive byte-exact, and the server
// follows the client to each new port.
func TestNATRebindingIPv6Loopback(t *testing.T) {
	key, _ := crypto.GenerateKey()
	// The round trips below run while the transfer's reader waits: with
	// less connection credit than the transfer, a fast sender (64 KiB
	// datagrams on loopback) can use it all and hold them up.
	ln := listenOrFail(t, "[::1]:0", &Config{PrivateKey: key, InitialConnWindow: 16 << 20})
	relay := newNATRelay(t, "[::1]:0", netip.MustParseAddrPort(ln.Addr().String()))
	cli, srv := dialAccept(t, ln, relay.Addr().String(), key)
	transferDuring(t, cli, srv, 8<<20, func() {
		for range 2 {
			if err := relay.Rebind(); err != nil {
				t.Fatal(err)
			}
			roundTrip(t, cli, srv) // the server has seen the new port
		}
	})
	if got, want := srv.RemoteAddr().String(), relay.External().String(); got != want {
		t.Errorf("server's peer address %s, want the relay's current port %s", got, want)
	}
	if m := srv.Stats().Migrations; m != 2 {
		t.Errorf("server counted %d migrations, want 2", m)
	}
}

// TestActiveMigrationIPv6Loopback: Conn.Migrate over [::1] moves the client
// to a new socket mid-transfer; the data arrives byte-exact and the server
// sees the new port.
func TestActiveMigrationIPv6Loopback(t *testing.T) {
	key, _ := crypto.GenerateKey()
	ln := listenOrFail(t, "[::1]:0", &Config{PrivateKey: key})
	cli, srv := dialAccept(t, ln, ln.Addr().String(), key)
	oldPort := cli.LocalAddr().(*net.UDPAddr).Port
	transferDuring(t, cli, srv, 4<<20, func() {
		if err := cli.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	newAddr := cli.LocalAddr().(*net.UDPAddr)
	if newAddr.Port == oldPort {
		t.Fatalf("client still on port %d after Migrate", oldPort)
	}
	peer := srv.RemoteAddr().(*net.UDPAddr)
	if peer.Port != newAddr.Port || peer.IP.To4() != nil {
		t.Errorf("server's peer address %v, want [::1]:%d", peer, newAddr.Port)
	}
	if c, s := cli.Stats().Migrations, srv.Stats().Migrations; c != 1 || s != 1 {
		t.Errorf("migrations: client %d, server %d; want 1 and 1", c, s)
	}
}

// TestDualStackListener: one listener on [::] serves IPv4 and IPv6 clients,
// and reports each client's address in its own family (not as ::ffff:a.b.c.d).
func TestDualStackListener(t *testing.T) {
	key, _ := crypto.GenerateKey()
	ln := listenOrFail(t, "[::]:0", &Config{PrivateKey: key})
	port := ln.Addr().(*net.UDPAddr).Port
	for _, tt := range []struct {
		desc, addr string
		want4      bool
	}{
		{"IPv4 client", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)).String(), true},
		{"IPv6 client", netip.AddrPortFrom(netip.IPv6Loopback(), uint16(port)).String(), false},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			cli, srv := dialAccept(t, ln, tt.addr, key)
			roundTrip(t, cli, srv)
			peer := srv.RemoteAddr().(*net.UDPAddr).AddrPort().Addr()
			if peer.Is4() != tt.want4 || peer.Is4In6() {
				t.Errorf("server sees the client as %v; want an IPv4 address: %v", peer, tt.want4)
			}
		})
	}
}
