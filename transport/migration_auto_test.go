package transport

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport/netsim"
)

// addressGoneConn fails every write with EADDRNOTAVAIL once gone is set, as
// a socket bound to an address the host no longer has.
type addressGoneConn struct {
	net.PacketConn
	gone atomic.Bool
}

func (c *addressGoneConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.gone.Load() {
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: addr, Err: syscall.EADDRNOTAVAIL}
	}
	return c.PacketConn.WriteTo(b, addr)
}

// autoMigratingPair is simPair whose client can open new sockets at
// 198.18.0.3 (automatic migration) and whose first socket is wrapped by
// wrap.
func autoMigratingPair(t *testing.T, wrap func(net.PacketConn) net.PacketConn) (cli, srv *Conn) {
	t.Helper()
	key, _ := crypto.GenerateKey()
	n := netsim.NewNetwork()
	spc, err := n.Listen(netip.MustParseAddrPort("198.18.0.1:4433"))
	if err != nil {
		t.Fatal(err)
	}
	cpc, err := n.Listen(netip.MustParseAddrPort("198.18.0.2:5000"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := ListenBind(NewPacketConnBind(spc), &Config{PrivateKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var port atomic.Uint32
	port.Store(7000)
	newBind := func(string, string) (Bind, error) {
		pc, err := n.Listen(netip.AddrPortFrom(netip.MustParseAddr("198.18.0.3"), uint16(port.Add(1))))
		if err != nil {
			return nil, err
		}
		return NewPacketConnBind(pc), nil
	}
	cli, err = dialPrivate(ctx, NewPacketConnBind(wrap(cpc)), netip.MustParseAddrPort("198.18.0.1:4433"), (&Config{ServerKey: key.Public()}).withDefaults(), newBind)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	srv, err = ln.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return cli, srv
}

// TestAutoMigrateOnLocalAddressError: the client's address disappears
// (sends fail with EADDRNOTAVAIL); the client moves to a new socket by
// itself and the transfer completes byte-exact, with no error to the
// application.
func TestAutoMigrateOnLocalAddressError(t *testing.T) {
	var gone *addressGoneConn
	cli, srv := autoMigratingPair(t, func(pc net.PacketConn) net.PacketConn {
		gone = &addressGoneConn{PacketConn: pc}
		return gone
	})
	transferDuring(t, cli, srv, 4<<20, func() { gone.gone.Store(true) })
	if c := cli.Stats().Migrations; c != 1 {
		t.Errorf("client migrated %d times, want 1", c)
	}
	if got := srv.RemoteAddr().(*net.UDPAddr).AddrPort().Addr(); got != netip.MustParseAddr("198.18.0.3") {
		t.Errorf("server's peer is %v, want the client's new address 198.18.0.3", got)
	}
}

// TestAutoMigrateAfterSilence: the client's path goes dark in silence (its
// NAT mapping died without an error); after several probe timeouts with
// nothing heard, the client moves to a new socket and the transfer
// completes. This takes a few seconds of real time by design: the client
// must not abandon a path that is merely slow.
func TestAutoMigrateAfterSilence(t *testing.T) {
	var dark *netsim.Conn
	cli, srv := autoMigratingPair(t, func(pc net.PacketConn) net.PacketConn {
		dark = netsim.Impair(pc, netsim.Config{Seed: 1})
		return dark
	})
	transferDuring(t, cli, srv, 1<<20, func() { dark.SetBlackhole(true) })
	if c := cli.Stats().Migrations; c != 1 {
		t.Errorf("client migrated %d times, want 1", c)
	}
	if got := srv.RemoteAddr().(*net.UDPAddr).AddrPort().Addr(); got != netip.MustParseAddr("198.18.0.3") {
		t.Errorf("server's peer is %v, want the client's new address 198.18.0.3", got)
	}
}
