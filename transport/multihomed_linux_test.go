//go:build linux

package transport

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
)

// TestWildcardListenerAnswersFromTheAddressUsed: a listener on a wildcard
// address of a host with several addresses (Linux answers on all of
// 127.0.0.0/8) sends each client's packets from the address that client
// dialled, so the client sees no change of address: no migration, no path
// validation, and its RemoteAddr is what it dialled. Without IP_PKTINFO the
// reply to 127.0.0.2 would leave from 127.0.0.1.
func TestWildcardListenerAnswersFromTheAddressUsed(t *testing.T) {
	for _, tc := range []struct {
		desc, listen string
		dial         []string
	}{
		{"IPv4 wildcard", "0.0.0.0:0", []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}},
		{"dual-stack wildcard", "[::]:0", []string{"127.0.0.2", "::1"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			key, err := crypto.GenerateKey()
			if err != nil {
				t.Fatal(err)
			}
			ln, err := Listen(tc.listen, &Config{PrivateKey: key})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			port := ln.Addr().(*net.UDPAddr).Port
			for _, host := range tc.dial {
				addr := netip.AddrPortFrom(netip.MustParseAddr(host), uint16(port))
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				cli, err := Dial(ctx, addr.String(), &Config{ServerKey: key.Public()})
				cancel()
				if err != nil {
					t.Fatalf("Dial %v: %v", addr, err)
				}
				srv, err := ln.Accept(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				roundTrip(t, cli, srv)
				transferDuring(t, cli, srv, 1<<20, func() {})
				if got := cli.RemoteAddr().(*net.UDPAddr).AddrPort(); unmapAddrPort(got) != addr {
					t.Errorf("dialled %v: the client's peer is now %v", addr, got)
				}
				if m := cli.Stats().Migrations; m != 0 {
					t.Errorf("dialled %v: the client saw %d changes of the server's address", addr, m)
				}
				cli.Close()
				srv.Close()
			}
		})
	}
}
