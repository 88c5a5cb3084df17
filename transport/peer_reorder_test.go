package transport

import (
	"fmt"
	"testing"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// TestPeerReorderingIsNotLoss: the peer receives every packet, but the
// first of each burst of eight arrives after the other seven, as on a path
// that reorders (docs/PROTOCOL.md section 3, "Loss detection"). The first
// time, the packet threshold of 3 declares it lost: its data is resent and
// the window cut. When the late packet's acknowledgement arrives, the loss
// is spurious: the cut is undone and the packet threshold grows past the
// reordering, so later bursts reordered the same way lose nothing and
// the window never ratchets down.
func TestPeerReorderingIsNotLoss(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		const rounds, burst = 10, 8
		tc := newTestConn(t, side, func(c *Config) {
			c.NoDelay = true
			// Every loss cuts the window, so that there is a cut to undo.
			c.EveryLossIsCongestion = true
		})
		tc.ignoreFrame(packet.FrameAck)
		s := tc.openStream(true)
		id := tc.connStreamID(0, true)
		tc.wait()
		initial := tc.conn.Stats()
		w0 := initial.CongestionWindow

		off := int64(0)
		for round := range rounds {
			tc.advance(time.Millisecond) // each round's losses are a new congestion event
			first := off
			var chunks [][]byte
			for i := range burst {
				chunks = append(chunks, []byte(fmt.Sprintf("%02d.%d", round, i)))
			}
			var pns []packet.PacketNumber
			pns, off = tc.writeEachInOwnPacket(s, id, off, chunks...)
			tc.writeFrames(ackFor(pns[1:]...))
			if round == 0 {
				tc.wantFrame("seven later packets acknowledged: the first is declared lost and resent",
					packet.StreamFrame{StreamID: id, Offset: first, Data: []byte("00.0")})
				if got, want := tc.conn.Stats().CongestionWindow, w0*7/10; got != want {
					t.Fatalf("window after the loss: %d, want %d", got, want)
				}
			}
			tc.wantIdle(fmt.Sprintf("round %d: nothing more to send", round))
			tc.writeFrames(tc.ackAll()) // the late packet arrives
			tc.wantIdle("all acknowledged")
			if got := tc.conn.Stats().CongestionWindow; got != w0 {
				t.Fatalf("round %d: window %d after the late packet was acknowledged, want %d as before", round, got, w0)
			}
		}
		st := tc.conn.Stats()
		if got := st.PacketsLost - initial.PacketsLost; got != 1 {
			t.Errorf("PacketsLost grew by %d over %d reordered bursts, want 1: only the first", got, rounds)
		}
		if got := st.SpuriousLosses - initial.SpuriousLosses; got != 1 {
			t.Errorf("SpuriousLosses grew by %d, want 1", got)
		}
		if got := st.BytesRetransmitted - initial.BytesRetransmitted; got != 4 {
			t.Errorf("BytesRetransmitted grew by %d, want 4: the first burst's first chunk", got)
		}
	})
}
