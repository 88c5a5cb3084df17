package transport

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// TestAckScratchNotKeptLarge: the room a peer's ACK frame of many ranges
// was parsed into does not stay with the connection (an audit grew it to
// half a megabyte with one 64 KiB frame of 32,000 ranges); an ordinary
// frame's does, so that ACKs are parsed without allocating.
func TestAckScratchNotKeptLarge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := newTestConn(t, clientSide)
		ack := func(ranges int) []byte {
			f := packet.AckFrame{}
			for i := range ranges {
				pn := packet.PacketNumber(4 * (ranges - i))
				f.Ranges = append(f.Ranges, packet.AckRange{Smallest: pn, Largest: pn})
			}
			return f.Append(nil)
		}
		for _, tt := range []struct {
			ranges int
			kept   bool
		}{{maxKeptAckRanges + 44, false}, {3, true}} {
			b := ack(tt.ranges)
			var kept int
			tc.conn.run(context.Background(), func(now time.Time) {
				tc.conn.acks.buf = nil
				// These ranges name packets never sent: the frame is
				// refused, after it was parsed.
				tc.conn.handleFrame(packet.FrameAck, b, now)
				kept = cap(tc.conn.acks.buf)
			})
			if (kept >= tt.ranges) != tt.kept || kept > maxKeptAckRanges {
				t.Errorf("after an ACK of %d ranges the connection keeps room for %d, want kept %v and at most %d", tt.ranges, kept, tt.kept, maxKeptAckRanges)
			}
		}
	})
}
