package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// TestStatelessResetNotAnOracle: two listeners hold the same key, as the
// servers of a fleet do. Anyone who sees a client's connection ID to the
// first can send it to the second; the stateless reset the second answers
// with, forwarded to the client, must not end the client's connection
// (docs/PROTOCOL.md section 4.7). With one instance ID for both, it
// does: the test's control.
func TestStatelessResetNotAnOracle(t *testing.T) {
	for _, tt := range []struct {
		desc      string
		instances [2]string
		wantReset bool
	}{
		{"default instance IDs", [2]string{"", ""}, false},
		{"distinct instance IDs", [2]string{"a", "b"}, false},
		{"one instance ID for both (control)", [2]string{"same", "same"}, true},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			key, err := crypto.GenerateKey()
			if err != nil {
				t.Fatal(err)
			}
			var lns [2]*Listener
			for i := range lns {
				lns[i], err = Listen("127.0.0.1:0", &Config{PrivateKey: key, InstanceID: tt.instances[i]})
				if err != nil {
					t.Fatal(err)
				}
				defer lns[i].Close()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cli, err := Dial(ctx, lns[0].Addr().String(), &Config{ServerKey: key.Public()})
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			srv, err := lns[0].Accept(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var dcid packet.ConnectionID
			if err := cli.run(ctx, func(time.Time) { dcid = cli.ids.remoteCID }); err != nil {
				t.Fatal(err)
			}

			// The attacker sends the victim's DCID to the second listener.
			att, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer att.Close()
			trigger := append([]byte{0x40}, dcid.Bytes()...)
			trigger = append(trigger, make([]byte, 100)...)
			if _, err := att.WriteTo(trigger, lns[1].Addr()); err != nil {
				t.Fatal(err)
			}
			att.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 2048)
			n, _, err := att.ReadFrom(buf)
			if err != nil {
				t.Fatalf("the second listener sent no stateless reset: %v", err)
			}
			// ... and forwards the answer to the victim.
			if _, err := att.WriteTo(buf[:n], cli.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			if tt.wantReset {
				select {
				case <-cli.Done():
				case <-time.After(5 * time.Second):
				}
				if !errors.Is(cli.Err(), ErrStatelessReset) {
					t.Fatalf("control: the forwarded reset did not end the connection: Err() = %v", cli.Err())
				}
				return
			}
			// A round trip: the client reads the server's answer after the
			// forwarded datagram, which reached its socket first.
			s, err := cli.OpenStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			ss, err := srv.AcceptStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(ss, buf[:1]); err != nil {
				t.Fatal(err)
			}
			if _, err := ss.Write([]byte("y")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(s, buf[:1]); err != nil || buf[0] != 'y' {
				t.Fatalf("the forwarded reset broke the connection: read %q, %v (Err() = %v)", buf[:1], err, cli.Err())
			}
		})
	}
}
