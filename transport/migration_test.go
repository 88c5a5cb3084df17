package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/netsim"
)

// simPair connects a client and server over an in-memory network.
func simPair(t *testing.T, key crypto.PrivateKey) (n *netsim.Network, cli, srv *Conn, ln *Listener) {
	t.Helper()
	same := func(b Bind) Bind { return b }
	return simPairWrapped(t, key, same, same)
}

// simPairWrapped is simPair with the server's and the client's Binds
// wrapped as wrapSrv and wrapCli say.
func simPairWrapped(t *testing.T, key crypto.PrivateKey, wrapSrv, wrapCli func(Bind) Bind) (n *netsim.Network, cli, srv *Conn, ln *Listener) {
	t.Helper()
	n = netsim.NewNetwork()
	spc, err := n.Listen(netip.MustParseAddrPort("198.18.0.1:4433"))
	if err != nil {
		t.Fatal(err)
	}
	cpc, err := n.Listen(netip.MustParseAddrPort("198.18.0.2:5000"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err = ListenBind(wrapSrv(NewPacketConnBind(spc)), &Config{PrivateKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err = DialBind(ctx, wrapCli(NewPacketConnBind(cpc)), netip.MustParseAddrPort("198.18.0.1:4433"), &Config{ServerKey: key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	srv, err = ln.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n, cli, srv, ln
}

// transferDuring sends size bytes client→server, calling disrupt once a
// quarter has arrived, and checks the bytes.
func transferDuring(t *testing.T, cli, srv *Conn, size int, disrupt func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	data := randomData(11, size)
	s, err := cli.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	go func() { s.Write(data); s.Close() }()
	rs, err := srv.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, size)
	if _, err := io.ReadFull(rs, got[:size/4]); err != nil {
		t.Fatal(err)
	}
	disrupt()
	if _, err := io.ReadFull(rs, got[size/4:]); err != nil {
		t.Fatalf("after the disruption: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data differs")
	}
	if err := s.WaitConsumed(ctx, int64(size)); err != nil {
		t.Fatal(err)
	}
}

func TestNATRebindingInProcess(t *testing.T) {
	key, _ := crypto.GenerateKey()
	n, cli, srv, _ := simPair(t, key)
	old := netip.MustParseAddrPort("198.18.0.2:5000")
	transferDuring(t, cli, srv, 8<<20, func() {
		if err := n.Rebind(old, netip.MustParseAddrPort("198.18.0.2:6001")); err != nil {
			t.Fatal(err)
		}
	})
	if got, want := srv.RemoteAddr().String(), "198.18.0.2:6001"; got != want {
		t.Errorf("server's peer address %s, want %s", got, want)
	}
	if m := srv.Stats().Migrations; m != 1 {
		t.Errorf("server counted %d migrations, want 1", m)
	}
	var validated bool
	srv.run(context.Background(), func(now time.Time) { validated = srv.path.validated })
	if !validated {
		t.Error("new path not validated by PATH_CHALLENGE/PATH_RESPONSE")
	}
}

func TestActiveMigrationRotatesConnID(t *testing.T) {
	key, _ := crypto.GenerateKey()
	n, cli, srv, _ := simPair(t, key)
	newAddr := netip.MustParseAddrPort("198.18.0.3:7000")
	var before packet.ConnectionID
	cli.run(context.Background(), func(now time.Time) {
		before = cli.ids.remoteCID
		cli.path.newBind = func(string, string) (Bind, error) {
			pc, err := n.Listen(newAddr)
			if err != nil {
				return nil, err
			}
			return NewPacketConnBind(pc), nil
		}
	})
	transferDuring(t, cli, srv, 4<<20, func() {
		if err := cli.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	var after packet.ConnectionID
	cli.run(context.Background(), func(now time.Time) { after = cli.ids.remoteCID })
	if after == before {
		t.Errorf("destination connection ID unchanged after migration (%v): the paths can be linked", after)
	}
	if got := srv.RemoteAddr().String(); got != newAddr.String() {
		t.Errorf("server's peer address %s, want %s", got, newAddr)
	}
}

// TestStatelessReset: the server loses its state (crashes) and comes back
// with the same key; the client's next packet gets a stateless reset and
// the connection fails at once with ErrStatelessReset.
func TestStatelessReset(t *testing.T) {
	key, _ := crypto.GenerateKey()
	n, cli, srv, ln := simPair(t, key)
	_ = srv
	// Crash: the socket goes away and the connections with it, silently.
	ln.bind().Close()
	<-srv.Done()
	spc, err := n.Listen(netip.MustParseAddrPort("198.18.0.1:4433"))
	if err != nil {
		t.Fatal(err)
	}
	ln2, err := ListenBind(NewPacketConnBind(spc), &Config{PrivateKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	// A packet the client had in flight (an ACK, a probe) may meet the
	// new server first: then the reset has come before the stream opens.
	s, err := cli.OpenStream(ctx)
	switch {
	case err == nil:
		s.Write(make([]byte, 2000))
	case !errors.Is(err, ErrStatelessReset):
		t.Fatal(err)
	}
	select {
	case <-cli.Done():
	case <-ctx.Done():
		t.Fatal("client did not notice the server restart")
	}
	if err := cli.Err(); !errors.Is(err, ErrStatelessReset) {
		t.Fatalf("client error %v, want ErrStatelessReset", err)
	}
	t.Logf("client failed %v after the restart, with %v", time.Since(start), cli.Err())
}

// TestForgedPacketFromNewAddressMovesNothing: a datagram from a new address
// that fails authentication does not move the path.
func TestForgedPacketFromNewAddressMovesNothing(t *testing.T) {
	key, _ := crypto.GenerateKey()
	n, cli, srv, _ := simPair(t, key)
	_ = cli
	attacker, err := n.Listen(netip.MustParseAddrPort("198.18.0.66:666"))
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	var cid packet.ConnectionID
	srv.run(context.Background(), func(now time.Time) { cid = srv.ids.localCID })
	forged := []byte{0x40}
	forged = append(forged, cid.Bytes()...)
	forged = append(forged, bytes.Repeat([]byte{0xaa}, 60)...)
	for i := 0; i < 10; i++ {
		attacker.WriteTo(forged, netUDPAddr("198.18.0.1:4433"))
	}
	// A round trip on the real path proves the forged datagrams were
	// processed before we look.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, _ := cli.OpenStream(ctx)
	s.Write([]byte("x"))
	s.Close()
	go func() {
		if rs, err := srv.AcceptStream(ctx); err == nil {
			io.ReadAll(rs)
		}
	}()
	if err := s.WaitConsumed(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := srv.RemoteAddr().String(); got != "198.18.0.2:5000" {
		t.Errorf("forged packets moved the path to %s", got)
	}
	if st := srv.Stats(); st.Migrations != 0 || st.AuthFailed < 10 {
		t.Errorf("migrations %d, auth failures %d; want 0 and ≥ 10", st.Migrations, st.AuthFailed)
	}
}

func netUDPAddr(s string) *net.UDPAddr { return net.UDPAddrFromAddrPort(netip.MustParseAddrPort(s)) }

// cidTap records the destination connection ID of every short-header
// packet a socket sends, by the path it takes: the socket's own address
// and the destination.
type cidTap struct {
	net.PacketConn
	mu   sync.Mutex
	seen map[[2]netip.AddrPort]map[packet.ConnectionID]bool
}

func newCIDTap(pc net.PacketConn) *cidTap {
	return &cidTap{PacketConn: pc, seen: make(map[[2]netip.AddrPort]map[packet.ConnectionID]bool)}
}

func (c *cidTap) WriteTo(b []byte, addr net.Addr) (int, error) {
	if len(b) > packet.DefaultConnIDLen && !packet.IsLongHeader(b) {
		cid, _ := packet.NewConnectionID(b[1 : 1+packet.DefaultConnIDLen])
		local, _ := netip.ParseAddrPort(c.LocalAddr().String())
		to, _ := netip.ParseAddrPort(addr.String())
		c.mu.Lock()
		path := [2]netip.AddrPort{local, to}
		if c.seen[path] == nil {
			c.seen[path] = make(map[packet.ConnectionID]bool)
		}
		c.seen[path][cid] = true
		c.mu.Unlock()
	}
	return c.PacketConn.WriteTo(b, addr)
}

// cids returns the connection IDs sent on the path from→to.
func (c *cidTap) cids(from, to netip.AddrPort) map[packet.ConnectionID]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.seen[[2]netip.AddrPort{from, to}])
}

// TestMigrationUsesFreshConnIDsBothWays: after the client moves to a new
// socket, neither direction carries on the new path a connection ID it
// used on the old one (RFC 9000 §9.5, docs/PROTOCOL.md section 9), so an
// observer cannot link the paths: the client switches to a spare ID of the
// server's, and the server, seeing the new path, to a spare ID of the
// client's.
func TestMigrationUsesFreshConnIDsBothWays(t *testing.T) {
	key, _ := crypto.GenerateKey()
	n := netsim.NewNetwork()
	srvAddr := netip.MustParseAddrPort("198.18.0.1:4433")
	oldAddr := netip.MustParseAddrPort("198.18.0.2:5000")
	newAddr := netip.MustParseAddrPort("198.18.0.3:7000")
	spc, err := n.Listen(srvAddr)
	if err != nil {
		t.Fatal(err)
	}
	cpc, err := n.Listen(oldAddr)
	if err != nil {
		t.Fatal(err)
	}
	srvTap, oldTap := newCIDTap(spc), newCIDTap(cpc)
	var newTap *cidTap
	ln, err := ListenBind(NewPacketConnBind(srvTap), &Config{PrivateKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	newBind := func(string, string) (Bind, error) {
		pc, err := n.Listen(newAddr)
		if err != nil {
			return nil, err
		}
		newTap = newCIDTap(pc)
		return NewPacketConnBind(newTap), nil
	}
	cli, err := dialPrivate(ctx, NewPacketConnBind(oldTap), srvAddr, (&Config{ServerKey: key.Public()}).withDefaults(), newBind)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	srv, err := ln.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Data both ways on each path, so both ends send on both.
	echo := func(round string) {
		s, err := cli.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		msg := randomData(3, 64<<10)
		go func() { s.Write(msg); s.CloseWrite() }()
		rs, err := srv.AcceptStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		go func() { io.Copy(rs, rs); rs.Close() }()
		got, err := io.ReadAll(s)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("%s: echo of %d bytes: got %d bytes, %v", round, len(msg), len(got), err)
		}
	}
	echo("before migrating")
	if err := cli.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	echo("after migrating")
	if got := srv.RemoteAddr().String(); got != newAddr.String() {
		t.Fatalf("server's peer address %s, want %s", got, newAddr)
	}

	disjoint := func(dir string, a, b map[packet.ConnectionID]bool) {
		t.Helper()
		if len(a) == 0 || len(b) == 0 {
			t.Fatalf("%s: %d connection IDs on the old path, %d on the new; want some on each", dir, len(a), len(b))
		}
		for cid := range b {
			if a[cid] {
				t.Errorf("%s: connection ID %v carried on both paths", dir, cid)
			}
		}
		t.Logf("%s: %d connection IDs on the old path, %d on the new, none on both", dir, len(a), len(b))
	}
	disjoint("client → server", oldTap.cids(oldAddr, srvAddr), newTap.cids(newAddr, srvAddr))
	disjoint("server → client", srvTap.cids(srvAddr, oldAddr), srvTap.cids(srvAddr, newAddr))
}
