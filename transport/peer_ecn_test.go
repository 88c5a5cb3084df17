package transport

import (
	"context"
	"testing"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// sendAckEliciting writes n small stream writes, each its own packet, and
// returns the packets' numbers and their datagrams' ECN codepoints.
func sendAckEliciting(tc *testConn, s *Stream, n int) (pns []packet.PacketNumber, marks []ECN) {
	tc.t.Helper()
	for range n {
		if _, err := s.Write([]byte("x")); err != nil {
			tc.t.Fatal(err)
		}
		tc.wantFrameType("a write goes out at once", packet.FrameStream)
		pns = append(pns, tc.lastPkt.pn)
		marks = append(marks, tc.lastDgram.ecn)
	}
	return pns, marks
}

// restartECN starts ECN validation afresh, on the Conn's loop.
func restartECN(tc *testConn) {
	tc.t.Helper()
	if err := tc.conn.run(context.Background(), func(time.Time) { tc.conn.ecnRestart() }); err != nil {
		tc.t.Fatal(err)
	}
	tc.wait()
}

// ecnPeer makes the harness's peer report ECN counts in its ACKs.
func ecnPeer(tc *testConn) { tc.reportECN = true }

func ackECN(counts packet.ECNCounts, pns ...packet.PacketNumber) packet.AckFrame {
	f := ackFor(pns...)
	f.HasECN, f.ECN = true, counts
	return f
}

// TestPeerECNValidation: the first ackframes.ECNTestingPackets packets go
// out ECT(0), then none until the peer's counts confirm the marks, then
// all (RFC 9000 §13.4.2, Appendix A.4).
func TestPeerECNValidation(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side, func(c *Config) { c.NoDelay = true }, ecnPeer)
		tc.ignoreFrame(packet.FrameAck)
		s := tc.openStream(true)
		// The handshake's packets began the test, and the peer's ACK
		// confirmed their marks.
		if got := tc.conn.Stats().ECN; got != ECNCapable {
			t.Fatalf("ECN state %v after the handshake, want capable", got)
		}
		restartECN(tc) // a new path, as after migration
		pns, marks := sendAckEliciting(tc, s, 12)
		first := -1
		for i, m := range marks {
			if m != packet.ECNECT0 && first < 0 {
				first = i
			}
			if first >= 0 && m != packet.ECNNotECT {
				t.Fatalf("packet %d sent %v after marking stopped at %d", i, m, first)
			}
		}
		if first < 0 {
			t.Fatal("every packet marked: testing never ended")
		}
		if got := tc.conn.Stats().ECN; got != ECNUnknown {
			t.Fatalf("Stats().ECN = %v, want unknown", got)
		}
		tc.writeFrames(ackECN(packet.ECNCounts{ECT0: tc.ecnCounts.ECT0}, pns[:first]...))
		if got := tc.conn.Stats().ECN; got != ECNCapable {
			t.Fatalf("after the peer confirmed the marks: Stats().ECN = %v, want capable", got)
		}
		if _, marks := sendAckEliciting(tc, s, 3); marks[0] != packet.ECNECT0 || marks[2] != packet.ECNECT0 {
			t.Fatalf("a capable path's packets went out %v", marks)
		}
	})
}

// TestPeerECNCongestion: more CE marks in the peer's counts reduce the
// congestion window once, with nothing lost and nothing sent again
// (RFC 9002 §7.1).
func TestPeerECNCongestion(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side, func(c *Config) { c.NoDelay = true }, ecnPeer)
		tc.ignoreFrame(packet.FrameAck)
		s := tc.openStream(true)
		pns, _ := sendAckEliciting(tc, s, 4)
		tc.writeFrames(ackECN(tc.ecnCounts, pns...))
		before := tc.conn.Stats()
		pns2, _ := sendAckEliciting(tc, s, 2)
		counts := tc.ecnCounts
		counts.ECT0--
		counts.CE++ // one of the two arrived marked CE
		tc.writeFrames(ackECN(counts, append(pns, pns2...)...))
		after := tc.conn.Stats()
		if after.ECNCEMarks != 1 || after.ECNCongestionEvents != 1 {
			t.Fatalf("CE marks %d, congestion events %d; want 1, 1", after.ECNCEMarks, after.ECNCongestionEvents)
		}
		if after.CongestionWindow >= before.CongestionWindow {
			t.Fatalf("window %d after CE, was %d: want a reduction", after.CongestionWindow, before.CongestionWindow)
		}
		if after.PacketsLost != 0 || after.BytesRetransmitted != 0 || after.ECN != ECNCapable {
			t.Fatalf("after CE: lost %d, retransmitted %d bytes, ECN %v; want 0, 0, capable", after.PacketsLost, after.BytesRetransmitted, after.ECN)
		}
		tc.wantIdle("a CE mark sends nothing again")
	})
}

// TestPeerECNFailures: validation fails, and marking stops, on a path that
// bleaches the marks, on one that rewrites them to ECT(1), and on a peer
// that stops reporting counts.
func TestPeerECNFailures(t *testing.T) {
	for _, test := range []struct {
		desc string
		ack  func(pns []packet.PacketNumber) packet.AckFrame
	}{
		{"bleached: Not-ECT arrived", func(pns []packet.PacketNumber) packet.AckFrame {
			return ackECN(packet.ECNCounts{}, pns...)
		}},
		{"no counts", func(pns []packet.PacketNumber) packet.AckFrame { return ackFor(pns...) }},
		{"ECT(1) never sent", func(pns []packet.PacketNumber) packet.AckFrame {
			return ackECN(packet.ECNCounts{ECT0: uint64(len(pns)) - 1, ECT1: 1}, pns...)
		}},
	} {
		t.Run(test.desc, func(t *testing.T) {
			forBothSides(t, func(t *testing.T, side connSide) {
				tc := newTestConn(t, side, func(c *Config) { c.NoDelay = true })
				tc.ignoreFrame(packet.FrameAck)
				s := tc.openStream(true)
				restartECN(tc) // the ECN-blind peer's handshake ACK failed it
				pns, _ := sendAckEliciting(tc, s, 3)
				tc.writeFrames(test.ack(pns))
				if got := tc.conn.Stats().ECN; got != ECNFailed {
					t.Fatalf("Stats().ECN = %v, want failed", got)
				}
				if _, marks := sendAckEliciting(tc, s, 2); marks[0] != packet.ECNNotECT || marks[1] != packet.ECNNotECT {
					t.Fatalf("after validation failed packets went out %v", marks)
				}
			})
		})
	}
}

// TestPeerECNCountsReported: the peer's marked packets are counted, and
// the ACKs that acknowledge them carry the counts (ACK_ECN, type 0x03).
func TestPeerECNCountsReported(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side)
		tc.peerECN = packet.ECNECT0
		tc.writeFrames(packet.PingFrame{})
		tc.peerECN = packet.ECNCE
		tc.writeFrames(packet.PingFrame{})
		f := tc.wantFrameType("two ack-eliciting packets get an ACK at once", packet.FrameAckECN).(packet.AckFrame)
		if want := (packet.ECNCounts{ECT0: 1, CE: 1}); !f.HasECN || f.ECN != want {
			t.Fatalf("ACK counts %+v (HasECN %v), want %+v", f.ECN, f.HasECN, want)
		}
	})
}

// TestPeerECNDisabled: with Config.DisableECN nothing is marked.
func TestPeerECNDisabled(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side, func(c *Config) { c.NoDelay = true; c.DisableECN = true })
		tc.ignoreFrame(packet.FrameAck)
		s := tc.openStream(true)
		if _, marks := sendAckEliciting(tc, s, 2); marks[0] != packet.ECNNotECT {
			t.Fatalf("packets went out %v with ECN disabled", marks)
		}
		if got := tc.conn.Stats().ECN; got != ECNFailed {
			t.Fatalf("Stats().ECN = %v, want failed (off)", got)
		}
	})
}

// TestPeerECNOffWithBBR: BBR does not answer CE marks, so a Conn running
// it sends its packets Not-ECT, as with DisableECN.
func TestPeerECNOffWithBBR(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side, func(c *Config) { c.CongestionControl = CongestionBBR })
		tc.ignoreFrame(packet.FrameAck)
		s := tc.openStream(true)
		if _, err := s.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		tc.wantFrameType("the data", packet.FrameStream)
		if tc.lastDgram.ecn != packet.ECNNotECT {
			t.Fatalf("a BBR Conn sent a datagram marked %v, want Not-ECT", tc.lastDgram.ecn)
		}
		if st := tc.conn.Stats(); st.ECN != ECNFailed {
			t.Fatalf("ECN state %v, want failed (off)", st.ECN)
		}
	})
}
