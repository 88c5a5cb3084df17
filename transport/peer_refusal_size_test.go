package transport

import (
	"testing"
	"testing/synctest"

	"github.com/limpetnet/limpet/packet"
)

// TestPeerRefusalSmallerThanInitial: a refusal that quotes the client (no
// application protocol in common names the client's list) stays smaller
// than the Initial that provoked it, however long that list: the reason is
// cut, so the answer cannot amplify.
func TestPeerRefusalSmallerThanInitial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var names []string
		for i := range packet.MaxApplicationProtocols {
			name := make([]byte, 200)
			for j := range name {
				name[j] = byte(i + j) // mostly unprintable: %q makes four bytes of each
			}
			names = append(names, string(name))
		}
		tc := startTestConn(t, serverSide,
			func(c *Config) { c.ApplicationProtocols = []string{"x"} },
			func(p *packet.TransportParameters) { p.ApplicationProtocols = names })
		tc.writeClientHello()
		sent := tc.bind.bytesReceivedFrom(tc.peerAddr)
		f, ok := tc.wantFrameType("the server refuses", packet.FrameConnectionClose).(packet.ConnectionCloseFrame)
		if !ok || f.ErrorCode != uint64(packet.NoApplicationProtocol) {
			t.Fatalf("got %v, want CONNECTION_CLOSE NO_APPLICATION_PROTOCOL", formatFrame(f))
		}
		if int64(tc.lastDgram.size) >= sent || len(f.Reason) > maxCloseReason {
			t.Errorf("the refusal is %d bytes with a %d-byte reason, in answer to %d bytes: want it smaller, its reason at most %d", tc.lastDgram.size, len(f.Reason), sent, maxCloseReason)
		}
	})
}
