package transport

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// TestPeerAckDelayClampedToItsMaxAckDelay: an RTT sample takes off the
// peer's reported ACK Delay only up to the max_ack_delay it announced
// (RFC 9002 §5.3), here 5 ms: a 50 ms round trip reported with 20 ms of
// delay counts as 45 ms, not 30, in the smoothed RTT (7/8 of the
// handshake's 10 ms plus 1/8 of the sample).
func TestPeerAckDelayClampedToItsMaxAckDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := newTestConn(t, clientSide, func(p *packet.TransportParameters) { p.MaxAckDelay = 5 * time.Millisecond })
		s := tc.openStream(true)
		if _, err := s.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		p := tc.readPacket()
		if p == nil {
			t.Fatal("the write sent nothing")
		}
		tc.discardUnread()
		tc.advance(50 * time.Millisecond)
		delay := uint64((20 * time.Millisecond).Microseconds()) >> 3 // ack_delay_exponent 3, the default
		tc.writeFrames(packet.AckFrame{Ranges: []packet.AckRange{{Smallest: p.pn, Largest: p.pn}}, Delay: delay})
		want := testRTT*7/8 + 45*time.Millisecond/8
		if got := tc.conn.Stats().SmoothedRTT; got != want {
			t.Errorf("smoothed RTT %v, want %v (the 20 ms ACK Delay clamped to 5 ms)", got, want)
		}
	})
}
