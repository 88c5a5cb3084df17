package transport

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/internal/fec"
)

// adaptiveConn starts a test connection with the default, adaptive FEC,
// whose peer announces that it decodes repair packets.
func adaptiveConn(t *testing.T, side connSide) *testConn {
	t.Helper()
	tc := newTestConn(t, side,
		func(c *Config) { c.NoDelay = true },
		func(p *packet.TransportParameters) { p.FECMaxRepairSymbols = packet.MaxFECRepairSymbols })
	if got := tc.connParams.FECMaxRepairSymbols; got != packet.MaxFECRepairSymbols {
		t.Fatalf("the %v announced fec %d, want %d: the default Config decodes repairs", side, got, packet.MaxFECRepairSymbols)
	}
	return tc
}

// readDataNoRepair reads the Conn's packets until it goes quiet and
// returns the datagram sizes of those with STREAM frames, failing on any
// FEC_REPAIR.
func (tc *testConn) readDataNoRepair(reason string) []int {
	tc.t.Helper()
	var sizes []int
	for {
		p := tc.readPacket()
		if p == nil {
			return sizes
		}
		tc.discardUnread()
		for _, f := range p.frames {
			switch f.(type) {
			case packet.FECRepairFrame:
				tc.t.Fatalf("%s: packet %d carries %s, want no repair packets", reason, p.pn, formatFrame(f))
			case packet.StreamFrame:
				sizes = append(sizes, tc.lastDgram.size)
			}
		}
	}
}

// TestPeerAdaptiveFECCleanPath: on a path that has lost nothing, adaptive
// FEC sends no repair packets and leaves no room for them: packets of
// stream data are as large as the path allows.
func TestPeerAdaptiveFECCleanPath(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := adaptiveConn(t, side)
		tc.ignoreFrame(packet.FrameAck)
		s := tc.openStream(true)
		if _, err := s.Write(randomData(1, 5000)); err != nil {
			t.Fatalf("Write: %v", err)
		}
		tc.advance(10 * time.Millisecond)
		sizes := tc.readDataNoRepair("5000 bytes on a clean path")
		full := tc.conn.path.maxPacket
		// The first may share its datagram with control frames.
		if len(sizes) != 4 || sizes[1] != full || sizes[2] != full {
			t.Fatalf("datagrams of %v bytes, want 4 with the middle two of %d", sizes, full)
		}
		if st := tc.conn.Stats(); st.FECRepairSent != 0 {
			t.Fatalf("FECRepairSent %d on a clean path, want 0", st.FECRepairSent)
		}
	})
}

// TestPeerAdaptiveFECAfterLoss: once the path has lost a packet, a short
// message that fits the congestion window is protected: its packets form
// a group followed by the repair packets fec.Repairs gives it, from which
// a peer that lost one rebuilds it.
func TestPeerAdaptiveFECAfterLoss(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := adaptiveConn(t, side)
		tc.ignoreFrame(packet.FrameAck)
		s := tc.openStream(true)
		id := tc.connStreamID(0, true)

		// Eight small packets, the first lost: the later ones acknowledged
		// 20 ms after they left make it lost (and give an RTT sample).
		var chunks [][]byte
		for i := range 8 {
			chunks = append(chunks, []byte(fmt.Sprintf("chunk %d", i)))
		}
		pns, _ := tc.writeEachInOwnPacket(s, id, 0, chunks...)
		tc.advance(20 * time.Millisecond)
		tc.writeFrames(ackFor(pns[1:]...))
		// The path has lost a packet: the resend, all there is to send,
		// is protected.
		g := tc.readGroup("the first is declared lost and resent")
		g.check(t, "the resend", 1, 1)
		if f, ok := g.sources[0].frames[0].(packet.StreamFrame); !ok || f.Offset != 0 || string(f.Data) != "chunk 0" {
			t.Fatalf("resent %s, want chunk 0", formatFrames(g.sources[0].frames))
		}
		tc.advance(20 * time.Millisecond)
		tc.writeFrames(tc.ackAll())
		tc.wantIdle("all acknowledged")

		// A 4000-byte message: three packets, all in the window.
		msg := randomData(2, 4000)
		if _, err := s.Write(msg); err != nil {
			t.Fatalf("Write: %v", err)
		}
		g = tc.readGroup("a 4000-byte message after a loss")
		want := fec.Repairs(3, tc.conn.fec.pathLoss.Rate(), 1)
		if want < 1 {
			t.Fatalf("fec.Repairs gives %d repairs after a loss, want at least 1", want)
		}
		g.check(t, "a protected message", 3, want)
		if st := tc.conn.Stats(); st.FECRepairSent != uint64(1+want) {
			t.Fatalf("FECRepairSent %d, want %d", st.FECRepairSent, 1+want)
		}
		tc.advance(20 * time.Millisecond)
		tc.writeFrames(tc.ackAll())
		tc.wantIdle("the message acknowledged")

		// A bulk write, far more than the window: the window's worth
		// that leaves now is not protected, since repair packets would
		// take the place of data and retransmitting costs less.
		if _, err := s.Write(randomData(3, 300_000)); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if sizes := tc.readDataNoRepair("the first window of a bulk write"); len(sizes) < 10 {
			t.Fatalf("%d packets of the bulk write, want a window of at least 10", len(sizes))
		}
	})
}

// TestPeerAdaptiveFECNotWhenDisabled: with Config.FEC.Disable the Conn
// announces no fec and sends no repairs, whatever it loses.
func TestPeerAdaptiveFECNotWhenDisabled(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side,
			func(c *Config) { c.NoDelay = true; c.FEC.Disable = true },
			func(p *packet.TransportParameters) { p.FECMaxRepairSymbols = packet.MaxFECRepairSymbols })
		if got := tc.connParams.FECMaxRepairSymbols; got != 0 {
			t.Fatalf("announced fec %d with FEC disabled, want 0", got)
		}
		if tc.conn.fec.enc != nil {
			t.Fatal("an encoder with FEC disabled")
		}
	})
}

// TestAdaptiveFECClosesGroupWhenDatagramsGrow: if path MTU discovery
// raises the datagram size past what a symbol holds while a group is open,
// the group closes with what it has and nothing more is protected, instead
// of the encoder being handed a payload it cannot take.
func TestAdaptiveFECClosesGroupWhenDatagramsGrow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := adaptiveConn(t, clientSide)
		tc.wait()
		c := tc.conn
		if c.fec.enc == nil || !c.fec.adaptive {
			t.Fatal("no adaptive encoder")
		}
		c.fec.pathLoss.OnLost(1) // the path has lost a packet
		c.fec.enc.Add(1000, []byte("a source packet of the open group"))
		c.path.maxPacket = fec.MaxPayload + 1
		c.fecDecideProtection()
		if c.fec.protecting || c.fec.enc.Open() != 0 || !c.fec.enc.HasRepair() {
			t.Fatalf("protecting %v, %d sources open, repair due %v; want the group closed with its repair and nothing protected",
				c.fec.protecting, c.fec.enc.Open(), c.fec.enc.HasRepair())
		}
	})
}
