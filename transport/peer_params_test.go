package transport

import (
	"testing"
	"testing/synctest"

	"github.com/limpetnet/limpet/packet"
)

// TestPeerMaxUDPPayloadSize: a peer that announces a max_udp_payload_size
// below limpet's 1452 bytes never gets a larger datagram (RFC 9000 §18.2,
// docs/PROTOCOL.md section 6), and full packets fill what it allows.
func TestPeerMaxUDPPayloadSize(t *testing.T) {
	for _, side := range []connSide{clientSide, serverSide} {
		t.Run(side.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const limit = 1230
				tc := newTestConn(t, side, func(p *packet.TransportParameters) { p.MaxUDPPayloadSize = limit })
				s := tc.openStream(true)
				go s.Write(make([]byte, 64<<10))
				largest, count := 0, 0
				for d := tc.readDatagram(); d != nil; d = tc.readDatagram() {
					if d.size > limit {
						t.Fatalf("datagram of %d bytes to a peer that accepts %d", d.size, limit)
					}
					largest = max(largest, d.size)
					count++
				}
				if count == 0 || largest != limit {
					t.Fatalf("%d datagrams, the largest %d bytes; want full ones of exactly %d", count, largest, limit)
				}
			})
		})
	}
}
