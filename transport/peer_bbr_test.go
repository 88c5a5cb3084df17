package transport

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/limpetnet/limpet/congestion"
	"github.com/limpetnet/limpet/packet"
)

// lossRecorder wraps a controller and records the loss calls it gets.
type lossRecorder struct {
	congestion.Controller
	events []string
}

func (r *lossRecorder) OnPacketLost(now time.Time, pn int64, bytes int) {
	r.events = append(r.events, fmt.Sprintf("packet %d", pn))
	r.Controller.(congestion.PacketLossObserver).OnPacketLost(now, pn, bytes)
}

func (r *lossRecorder) OnLoss(now time.Time, lostBytes int, largestLostSentTime time.Time) bool {
	r.events = append(r.events, "loss")
	return r.Controller.OnLoss(now, lostBytes, largestLostSentTime)
}

// TestPeerBBRHearsEachLostPacket: under BBR, whose loss response needs
// what was in flight when each lost packet left, loss detection reports
// every lost packet by number before the loss they make up.
func TestPeerBBRHearsEachLostPacket(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side, func(c *Config) {
			c.NoDelay = true
			c.CongestionControl = CongestionBBR
		})
		rec := &lossRecorder{}
		if err := tc.conn.run(context.Background(), func(time.Time) {
			rec.Controller = tc.conn.loss.cc
			tc.conn.loss.cc = rec
		}); err != nil {
			t.Fatal(err)
		}
		tc.ignoreFrame(packet.FrameAck)
		s := tc.openStream(true)
		var pns []packet.PacketNumber
		for range 5 {
			if _, err := s.Write([]byte("abcd")); err != nil {
				t.Fatal(err)
			}
			tc.wantFrameType("each write leaves in its own packet with NoDelay", packet.FrameStream)
			pns = append(pns, tc.lastPkt.pn)
		}
		tc.writeFrames(ackFor(pns[2:]...))
		tc.wantFrameType("the lost data is sent again", packet.FrameStream)
		want := []string{fmt.Sprintf("packet %d", pns[0]), fmt.Sprintf("packet %d", pns[1]), "loss"}
		if fmt.Sprint(rec.events) != fmt.Sprint(want) {
			t.Fatalf("controller heard %q, want %q", rec.events, want)
		}
	})
}
