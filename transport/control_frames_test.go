package transport

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// TestControlFrameLeftOutGoesLater: a connection-level control frame that
// falls due when the packet being built has no room for it goes in a later
// packet. Asking for MAX_DATA marks it sent, so a version that asked first
// and checked room after lost the frame for good, and the peer stalled on
// its connection window: it happened when a server's path had just moved
// and its anti-amplification budget left room only for PATH_CHALLENGE (a
// migration test hung about once in fifty runs).
func TestControlFrameLeftOutGoesLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := newTestConn(t, serverSide)
		c := tc.conn
		var tight, roomy []packet.Frame
		c.run(context.Background(), func(now time.Time) {
			// The application read past half the connection window, so
			// MAX_DATA is due; and the peer may open more streams.
			c.streams.connRecv.Receive(500_000)
			c.streams.connRecv.Consume(500_000)
			var rec sentFrames
			header := make([]byte, 12)
			tight = tc.parseFrames(c.appendControlFrames(header, len(header)+10, &rec, now)[len(header):])
			roomy = tc.parseFrames(c.appendControlFrames(header, 1200, &rec, now)[len(header):])
		})
		if len(tight) != 0 {
			t.Fatalf("frames in 10 bytes of room: %v", formatFrames(tight))
		}
		for _, f := range roomy {
			if md, ok := f.(packet.MaxDataFrame); ok && md.Max > 768<<10 {
				return
			}
		}
		t.Fatalf("the next packet with room carries %v, no MAX_DATA: the peer would stall", formatFrames(roomy))
	})
}
