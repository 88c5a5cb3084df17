package transport

import (
	"net/netip"
	"testing"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// TestPeerBlockedSenderRepeats: a sender blocked by the peer's connection
// credit, with everything it sent acknowledged, repeats DATA_BLOCKED on the
// probe timeout's schedule (RFC 9000 §4.1): first one PTO after its last
// ack-eliciting packet, then doubling, never more than a second apart (the
// PTO's own cap). Otherwise a MAX_DATA that went to an address this end no
// longer has would leave both ends waiting for ever. Once credit comes the
// repeats stop, and the next block starts the schedule again.
func TestPeerBlockedSenderRepeats(t *testing.T) {
	const peerWindow = 100
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side, func(c *Config) { c.NoDelay = true },
			func(p *packet.TransportParameters) { p.InitialMaxData = peerWindow })
		tc.ignoreFrame(packet.FrameAck)
		s := tc.openStream(true)
		id := tc.connStreamID(0, true)
		data := make([]byte, 3*peerWindow)
		go s.Write(data)
		tc.wantFrame("what the credit allows", packet.StreamFrame{StreamID: id, Data: data[:peerWindow]})
		tc.wantFrame("then blocked", packet.DataBlockedFrame{Limit: peerWindow})
		tc.writeFrames(tc.ackAll())

		// repeats records when DATA_BLOCKED goes again over d, each
		// acknowledged at once.
		repeats := func(d time.Duration) []time.Duration {
			var at []time.Duration
			for end := tc.elapsed() + d; tc.elapsed() < end; {
				tc.advanceToTimer()
				for {
					f, ok := tc.readFrame()
					if !ok {
						break
					}
					if _, ok := f.(packet.DataBlockedFrame); !ok {
						t.Fatalf("while blocked: got %s, want only DATA_BLOCKED", formatFrame(f))
					}
					at = append(at, tc.elapsed())
					tc.writeFrames(tc.ackAll())
				}
			}
			return at
		}
		start := tc.elapsed()
		at := repeats(10 * time.Second)
		if len(at) < 8 {
			t.Fatalf("%d repeats in 10 s (at %v), want one at least every second once backed off", len(at), at)
		}
		if first := at[0] - start; first < testPTO || first > testPTO+testRTT {
			t.Errorf("first repeat %v after the last packet, want one PTO (%v)", first, testPTO)
		}
		for i := 1; i < len(at); i++ {
			gap, prev := at[i]-at[i-1], at[i-1]-start
			if i > 1 {
				prev = at[i-1] - at[i-2]
			}
			if gap < prev-testRTT || gap > time.Second+testRTT {
				t.Fatalf("repeats at %v: gap %d is %v after %v, want doubling up to 1 s", at, i, gap, prev)
			}
		}

		tc.writeFrames(packet.MaxDataFrame{Max: 2 * peerWindow})
		tc.wantFrame("credit lets data go", packet.StreamFrame{StreamID: id, Offset: peerWindow, Data: data[peerWindow : 2*peerWindow]})
		tc.wantFrame("blocked again", packet.DataBlockedFrame{Limit: 2 * peerWindow})
		tc.writeFrames(tc.ackAll())
		start = tc.elapsed()
		at = repeats(testPTO + testRTT)
		if len(at) != 1 || at[0]-start < testPTO {
			t.Errorf("blocked again: repeats at %v after %v, want one a PTO (%v) after the block: the backoff starts again", at, start, testPTO)
		}
	})
}

// TestPeerStaleBlockedGetsCredit: a DATA_BLOCKED or STREAM_DATA_BLOCKED at a
// limit below what the Conn granted means the grant did not arrive: the Conn
// sends it again at once or, when the frame came from a new address (the
// repeat is what tells the Conn where the peer went), as soon as that
// address answers the challenge. A blocked
// frame at the current limit gets no repeat of it.
func TestPeerStaleBlockedGetsCredit(t *testing.T) {
	tests := []struct {
		desc string
		from func(tc *testConn) netip.AddrPort
		// blocked returns the frame at limit's offset from the grant and
		// the frame the Conn should answer with.
		blocked func(tc *testConn, below int64) (packet.Frame, packet.Frame)
	}{{
		desc: "DATA_BLOCKED",
		from: func(tc *testConn) netip.AddrPort { return tc.peerAddr },
		blocked: func(tc *testConn, below int64) (packet.Frame, packet.Frame) {
			limit := int64(tc.connParams.InitialMaxData)
			return packet.DataBlockedFrame{Limit: limit - below}, packet.MaxDataFrame{Max: limit}
		},
	}, {
		desc: "STREAM_DATA_BLOCKED",
		from: func(tc *testConn) netip.AddrPort { return tc.peerAddr },
		blocked: func(tc *testConn, below int64) (packet.Frame, packet.Frame) {
			id := tc.peerStreamID(0, true)
			limit := int64(tc.connParams.InitialMaxStreamDataBidiRemote)
			return packet.StreamDataBlockedFrame{StreamID: id, Limit: limit - below}, packet.MaxStreamDataFrame{StreamID: id, Max: limit}
		},
	}, {
		desc: "DATA_BLOCKED from a new address",
		from: func(*testConn) netip.AddrPort { return newNetPeerAddr },
		blocked: func(tc *testConn, below int64) (packet.Frame, packet.Frame) {
			limit := int64(tc.connParams.InitialMaxData)
			return packet.DataBlockedFrame{Limit: limit - below}, packet.MaxDataFrame{Max: limit}
		},
	}}
	for _, test := range tests {
		t.Run(test.desc, func(t *testing.T) {
			forBothSides(t, func(t *testing.T, side connSide) {
				tc := newTestConn(t, side)
				tc.ignoreFrame(packet.FrameAck)
				tc.writeFrames(packet.StreamFrame{StreamID: tc.peerStreamID(0, true), Data: []byte("x")})
				tc.writeFrames(tc.ackAll())
				tc.wantNoFrame("one byte needs no new credit")

				current, _ := test.blocked(tc, 0)
				tc.writeFrames(current)
				tc.wantNoFrame("blocked at the current limit: the grant stands")

				from := test.from(tc)
				stale, want := test.blocked(tc, 1000)
				tc.writeFramesFrom(from, stale)
				// On a new path the 3× budget of one small datagram holds
				// the challenge; the grant follows the answer.
				for {
					f, ok := tc.readFrame()
					if !ok {
						t.Fatalf("blocked below the current limit: nothing more sent, want %s", formatFrame(want))
					}
					if c, ok := f.(packet.PathChallengeFrame); ok && tc.lastDgram.to == from && from != tc.peerAddr {
						tc.writeFramesFrom(from, packet.PathResponseFrame(c))
						continue
					}
					if !framesEqual(f, want) {
						t.Fatalf("blocked below the current limit: got %s, want %s", formatFrame(f), formatFrame(want))
					}
					break
				}
				if tc.lastDgram.to != from {
					t.Errorf("%s went to %v, want %v where the blocked frame came from", formatFrame(want), tc.lastDgram.to, from)
				}
			})
		})
	}
}
