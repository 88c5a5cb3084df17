package transport

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// newConnIDFrames issues the peer's connection IDs first … first+n-1,
// each retiring all before it.
func newConnIDFrames(first, n uint64) []packet.Frame {
	var frames []packet.Frame
	for seq := first; seq < first+n; seq++ {
		cid, _ := packet.NewConnectionID([]byte{0xc1, 0xd0, byte(seq >> 8), byte(seq), 1, 2, 3, 4})
		var tok [packet.StatelessResetTokenLen]byte
		tok[0], tok[1] = byte(seq>>8), byte(seq)
		frames = append(frames, packet.NewConnectionIDFrame{SequenceNumber: seq, RetirePriorTo: seq, ConnID: cid, ResetToken: tok})
	}
	return frames
}

// resetTokensHeld counts the stateless reset tokens the connection's
// endpoint honours for it.
func (tc *testConn) resetTokensHeld() int {
	e := tc.conn.ep
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.resetTokens {
		if c == tc.conn {
			n++
		}
	}
	return n
}

// TestPeerRetiredConnIDsBounded: a peer that issues connection IDs and
// retires them as fast as it issues them cannot make the connection hold
// more than maxPendingRetirements of them waiting for RETIRE_CONNECTION_ID
// (RFC 9000 §5.1.2): one packet of maxPendingRetirements+2 such frames
// closes it with CONNECTION_ID_LIMIT_ERROR. Fewer are taken, and the
// retired IDs' reset tokens are dropped at once, not when the frames go.
func TestPeerRetiredConnIDsBounded(t *testing.T) {
	t.Run("within the bound", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tc := newTestConn(t, serverSide)
			tc.ignoreFrame(packet.FrameRetireConnectionID)
			frames := newConnIDFrames(1, maxPendingRetirements)
			tc.writeFrames(frames...)
			// Its packets now go to the only ID not retired.
			tc.peerCID = frames[len(frames)-1].(packet.NewConnectionIDFrame).ConnID
			if n := tc.resetTokensHeld(); n != 1 {
				t.Errorf("%d reset tokens honoured after retiring all but the newest ID, want 1", n)
			}
			tc.advance(testPTO) // the ACK's delay, and anything after it
			retired := map[uint64]bool{}
			for p := tc.readPacket(); p != nil; p = tc.readPacket() {
				for _, f := range p.frames {
					switch f := f.(type) {
					case packet.RetireConnectionIDFrame:
						retired[f.SequenceNumber] = true
					case packet.ConnectionCloseFrame:
						t.Fatalf("the connection closed: %v", formatFrame(f))
					}
				}
			}
			if len(retired) != maxPendingRetirements {
				t.Errorf("retired %d of the peer's IDs, want %d (sequence 0 to %d)", len(retired), maxPendingRetirements, maxPendingRetirements-1)
			}
		})
	})
	t.Run("tokens dropped at retirement", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tc := newTestConn(t, serverSide)
			var held int
			var err error
			// On the loop, before anything is sent: the tokens must go
			// with the retirement, not with the RETIRE_CONNECTION_ID.
			tc.conn.run(context.Background(), func(time.Time) {
				for _, f := range newConnIDFrames(1, 4) {
					if err = tc.conn.onNewConnectionID(f.(packet.NewConnectionIDFrame)); err != nil {
						return
					}
				}
				held = tc.resetTokensHeld()
			})
			if err != nil || held != 1 {
				t.Errorf("after issuing 4 IDs each retiring those before: %d reset tokens honoured (error %v), want 1", held, err)
			}
		})
	})
	t.Run("beyond it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tc := newTestConn(t, serverSide)
			frames := newConnIDFrames(1, maxPendingRetirements+2)
			tc.writeFrames(frames...)
			// The frame that passes the bound has made its ID the one in
			// use: the close goes to it.
			tc.peerCID = frames[maxPendingRetirements].(packet.NewConnectionIDFrame).ConnID
			f := tc.wantFrameType("too many retirements close the connection", packet.FrameConnectionClose).(packet.ConnectionCloseFrame)
			if f.ErrorCode != uint64(packet.ConnectionIDLimitError) || f.FrameType != packet.FrameNewConnectionID {
				t.Fatalf("got %v, want CONNECTION_ID_LIMIT_ERROR for NEW_CONNECTION_ID", formatFrame(f))
			}
		})
	})
}
