//go:build linux

package bench

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/limpetnet/limpet/bench/netlab"
	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
)

// TestMultihomedServerAnswersFromTheAddressUsed: a server namespace with
// two IPv4 and two IPv6 addresses, listening on 0.0.0.0 and on [::]
// (dual-stack). A client connecting to each address completes a transfer,
// and the server's packets come back from the address the client sent to:
// the client sees no change of the server's address (no migration), and
// the router's NAT, which maps replies by address, lets them through.
func TestMultihomedServerAnswersFromTheAddressUsed(t *testing.T) {
	lab := netlab.NewForTest(t, netlab.Options{})
	second4, second6 := netip.MustParseAddr("198.19.1.3"), netip.MustParseAddr("2001:2:0:2::3")
	for _, a := range []netip.Addr{second4, second6} {
		if err := lab.AddServerAddress(a); err != nil {
			t.Fatal(err)
		}
	}
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, ln := range []struct {
		desc  string
		bind  netip.Addr // the zero Addr: dual-stack [::]
		hosts []netip.Addr
	}{
		{"0.0.0.0", netip.IPv4Unspecified(), []netip.Addr{lab.ServerAddr(), second4}},
		{"[::]", netip.Addr{}, []netip.Addr{lab.ServerAddr(), second4, lab.ServerAddr6(), second6}},
	} {
		t.Run(ln.desc, func(t *testing.T) {
			sock, err := lab.ListenUDP(netlab.Server, netip.AddrPortFrom(ln.bind, 0))
			if err != nil {
				t.Fatal(err)
			}
			bind, err := transport.NewUDPBind(sock)
			if err != nil {
				t.Fatal(err)
			}
			l, err := transport.ListenBind(bind, &transport.Config{PrivateKey: key})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			port := sock.LocalAddr().(*net.UDPAddr).Port
			for _, host := range ln.hosts {
				addr := netip.AddrPortFrom(host, uint16(port))
				t.Run(host.String(), func(t *testing.T) { multihomedTransfer(t, lab, l, addr, key.Public()) })
			}
		})
	}
}

// multihomedTransfer dials addr from the client namespace, sends 1 MiB to
// the listener's application, and checks that the server stayed at addr.
func multihomedTransfer(t *testing.T, lab *netlab.Lab, l *transport.Listener, addr netip.AddrPort, server crypto.PublicKey) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	csock, err := lab.ListenUDP(netlab.Client, netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	cbind, err := transport.NewUDPBind(csock)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := transport.DialBind(ctx, cbind, addr, &transport.Config{ServerKey: server})
	if err != nil {
		t.Fatalf("Dial %v: %v", addr, err)
	}
	defer cli.Close()
	srv, err := l.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	data := bytes.Repeat([]byte("limpet multihomed "), 1<<16)
	go func() {
		s, err := cli.OpenStream(ctx)
		if err != nil {
			return
		}
		s.Write(data)
		s.CloseWrite()
	}()
	rs, err := srv.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rs)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the server read %d of %d bytes (%v)", len(got), len(data), err)
	}
	if got := cli.RemoteAddr().(*net.UDPAddr).AddrPort(); netip.AddrPortFrom(got.Addr().Unmap(), got.Port()) != addr {
		t.Errorf("the client's peer is now %v, want %v", got, addr)
	}
	if m := cli.Stats().Migrations; m != 0 {
		t.Errorf("the client saw the server's address change %d times", m)
	}
}
