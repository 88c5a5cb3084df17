package transport

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/synctest"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/internal/fec"
)

// fecConn starts a test connection whose Conn protects what it sends with
// groups of k and r repair packets, and whose peer announces that it
// decodes up to packet.MaxFECRepairSymbols per group.
func fecConn(t *testing.T, side connSide, k, r int) *testConn {
	t.Helper()
	tc := newTestConn(t, side,
		func(c *Config) { c.FEC = FECConfig{GroupSize: k, Repair: r}; c.NoDelay = true },
		func(p *packet.TransportParameters) { p.FECMaxRepairSymbols = packet.MaxFECRepairSymbols })
	if got := tc.connParams.FECMaxRepairSymbols; got != packet.MaxFECRepairSymbols {
		t.Fatalf("the %v announced fec %d, want %d: with Config.FEC it decodes repairs", side, got, packet.MaxFECRepairSymbols)
	}
	return tc
}

// sentGroup is what the Conn sent for one FEC group, as the peer read it.
type sentGroup struct {
	sources       []*testPacket
	repairs       []packet.FECRepairFrame
	repairPackets []*testPacket
	sizes         []int // datagram sizes, sources then repairs
}

// readGroup reads the Conn's packets up to and including the next group's
// repair packets: source packets with STREAM frames, then repair packets
// with one FEC_REPAIR frame each and nothing else.
func (tc *testConn) readGroup(reason string) sentGroup {
	tc.t.Helper()
	var g sentGroup
	for {
		p := tc.readPacket()
		if p == nil {
			if len(g.repairs) == 0 {
				tc.t.Fatalf("%s: the Conn sent %d packets and no repair packet", reason, len(g.sources))
			}
			return g
		}
		tc.discardUnread()
		if !p.ackEliciting() {
			continue // an ACK on its own
		}
		size := tc.lastDgram.size
		var repair *packet.FECRepairFrame
		stream := false
		for _, f := range p.frames {
			switch f := f.(type) {
			case packet.FECRepairFrame:
				if len(p.frames) != 1 {
					tc.t.Fatalf("%s: repair packet %d carries %s, want only its FEC_REPAIR", reason, p.pn, formatFrames(p.frames))
				}
				repair = &f
			case packet.StreamFrame:
				stream = true
			}
		}
		switch {
		case repair != nil:
			g.repairs = append(g.repairs, *repair)
			g.repairPackets = append(g.repairPackets, p)
		case len(g.repairs) > 0:
			tc.t.Fatalf("%s: packet %d %s after the group's repairs, want the repairs last", reason, p.pn, formatFrames(p.frames))
		case stream:
			g.sources = append(g.sources, p)
		default:
			tc.t.Fatalf("%s: packet %d %s, want stream data or a repair", reason, p.pn, formatFrames(p.frames))
		}
		g.sizes = append(g.sizes, size)
		if len(g.repairs) > 0 && tc.bind.pending() == 0 {
			return g
		}
	}
}

// check fails unless g's repair frames name its sources in order and
// carry repair indexes 0..r-1.
func (g sentGroup) check(t *testing.T, reason string, wantSources, wantRepairs int) {
	t.Helper()
	if len(g.sources) != wantSources || len(g.repairs) != wantRepairs {
		t.Fatalf("%s: %d source and %d repair packets, want %d and %d", reason, len(g.sources), len(g.repairs), wantSources, wantRepairs)
	}
	for i, f := range g.repairs {
		if f.Index != i || len(f.Sources) != len(g.sources) {
			t.Fatalf("%s: repair %d is %s, want index %d over %d sources", reason, i, formatFrame(f), i, len(g.sources))
		}
		for j, p := range g.sources {
			if f.Sources[j] != p.pn {
				t.Fatalf("%s: repair %d names sources %v, want the packets %d.. the Conn sent", reason, i, f.Sources, g.sources[0].pn)
			}
		}
	}
}

// TestPeerFECSendsRepairs: with Config.FEC{GroupSize: 4, Repair: 2} the Conn
// follows every 4 packets of stream data with 2 repair packets naming them
// (docs/PROTOCOL.md section 10), from which a peer that lost any one of
// them rebuilds it byte for byte; a partial group is closed as soon as the
// Conn has nothing more to send, with min(R, sources) repairs.
func TestPeerFECSendsRepairs(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := fecConn(t, side, 4, 2)
		tc.ignoreFrame(packet.FrameAck)
		s := tc.openStream(true)
		if _, err := s.Write(randomData(1, 5000)); err != nil {
			t.Fatalf("Write: %v", err)
		}
		g := tc.readGroup("5000 bytes: four packets of data")
		g.check(t, "a full group", 4, 2)
		for i, size := range g.sizes {
			if size > packet.DefaultMaxUDPPayload {
				t.Errorf("datagram %d of the group is %d bytes, over the %d-byte limit", i, size, packet.DefaultMaxUDPPayload)
			}
		}
		for lost := range g.sources {
			d := fec.NewDecoder(fec.DecoderConfig{})
			for j, p := range g.sources {
				if j != lost {
					if _, err := d.AddSource(p.pn, p.payload); err != nil {
						t.Fatal(err)
					}
				}
			}
			rec, err := d.AddRepair(g.repairPackets[0].pn, g.repairs[0])
			if err != nil || len(rec) != 1 || rec[0].PN != g.sources[lost].pn || !bytes.Equal(rec[0].Payload, g.sources[lost].payload) {
				t.Fatalf("source %d lost: the peer's decoder rebuilt %v, %v; want packet %d byte for byte", lost, rec, err, g.sources[lost].pn)
			}
		}
		if st := tc.conn.Stats(); st.FECRepairSent != 2 {
			t.Errorf("FECRepairSent = %d, want 2", st.FECRepairSent)
		}
		tc.writeFrames(tc.ackAll())

		// A short write is a partial group of one: the Conn goes idle and
		// protects it at once with min(2, 1) = 1 repair.
		if _, err := s.Write([]byte("tail")); err != nil {
			t.Fatalf("Write: %v", err)
		}
		g = tc.readGroup("a 4-byte write")
		g.check(t, "a partial group", 1, 1)
		tc.wantIdle("nothing after the partial group's repair")
	})
}

// TestPeerFECHoldsLossForRepair: a protected packet that loss detection
// gives up on is not sent again while its group's repair packets may still
// let the peer rebuild it. If the peer then acknowledges it, it was
// delivered (FECPeerRecovered) and is neither retransmitted nor lost; if
// the peer acknowledges the repairs without it, it is retransmitted at once;
// if no ACK comes, it is retransmitted at the probe timeout.
func TestPeerFECHoldsLossForRepair(t *testing.T) {
	for _, outcome := range []string{"peer rebuilds it", "peer cannot rebuild it", "no ACK settles it"} {
		rebuilt := outcome == "peer rebuilds it"
		t.Run(outcome, func(t *testing.T) {
			forBothSides(t, func(t *testing.T, side connSide) {
				tc := fecConn(t, side, 4, 2)
				tc.ignoreFrame(packet.FrameAck)
				s := tc.openStream(true)
				if _, err := s.Write(randomData(2, 5000)); err != nil {
					t.Fatalf("Write: %v", err)
				}
				g := tc.readGroup("four packets of data")
				g.check(t, "a full group", 4, 2)
				src := func(i int) packet.PacketNumber { return g.sources[i].pn }
				// Three later packets acknowledged: source 0 is lost by the
				// packet threshold, but its group's repairs are in flight.
				tc.writeFrames(ackFor(src(1), src(2), src(3)))
				tc.wantIdle("the lost source waits for its group's repair packets")
				if st := tc.conn.Stats(); st.PacketsLost != 0 || st.BytesRetransmitted != 0 {
					t.Fatalf("while held: PacketsLost %d, BytesRetransmitted %d; want 0", st.PacketsLost, st.BytesRetransmitted)
				}
				acked := []packet.PacketNumber{src(1), src(2), src(3), g.repairPackets[0].pn, g.repairPackets[1].pn}
				if rebuilt {
					tc.writeFrames(ackFor(append(acked, src(0))...))
					tc.advance(10 * testPTO)
					tc.wantIdle("a rebuilt packet is never sent again")
					st := tc.conn.Stats()
					if st.FECPeerRecovered != 1 || st.PacketsLost != 0 || st.BytesRetransmitted != 0 {
						t.Fatalf("FECPeerRecovered %d, PacketsLost %d, BytesRetransmitted %d; want 1, 0, 0", st.FECPeerRecovered, st.PacketsLost, st.BytesRetransmitted)
					}
					return
				}
				reason := "the repairs were acknowledged without the source: its data goes again"
				if outcome == "no ACK settles it" {
					reason = "at the probe timeout the held source's data goes again"
					tc.advanceToTimer()
					if tc.conn.Stats().ProbeTimeouts != 1 {
						t.Fatalf("the next timer was not the probe timeout")
					}
				} else {
					tc.writeFrames(ackFor(acked...))
				}
				f := tc.wantFrameType(reason, packet.FrameStream).(packet.StreamFrame)
				if f.Offset != 0 {
					t.Fatalf("retransmitted %s, want the lost packet's data from offset 0", formatFrame(f))
				}
				if st := tc.conn.Stats(); st.PacketsLost != 1 || st.FECPeerRecovered != 0 {
					t.Fatalf("PacketsLost %d, FECPeerRecovered %d; want 1, 0", st.PacketsLost, st.FECPeerRecovered)
				}
			})
		})
	}
}

// TestPeerFECRecoversLostPacket: the peer sends four packets of stream data
// and a repair packet over them, and the second packet is lost. The Conn
// rebuilds it from the repair: the application reads every byte in order
// at once, the next ACK covers the lost packet's number (so the peer does
// not retransmit it), FECRecovered counts it, the path does not change,
// and the original arriving late is dropped without counting as a
// duplicate.
func TestPeerFECRecoversLostPacket(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side, func(c *Config) { c.FEC = FECConfig{GroupSize: 4} })
		id := tc.peerStreamID(0, true)
		data := randomData(3, 4000)
		enc, err := fec.NewEncoder(4, 1)
		if err != nil {
			t.Fatal(err)
		}
		var pns []packet.PacketNumber
		var lostPacket []byte
		for i := range 4 {
			f := packet.StreamFrame{StreamID: id, Offset: int64(1000 * i), Data: data[1000*i : 1000*(i+1)], Fin: i == 3}
			pns = append(pns, tc.peerPN)
			enc.Add(tc.peerPN, f.Append(nil))
			b := tc.seal1RTT([]packet.Frame{f})
			if i == 1 {
				lostPacket = b
				continue
			}
			tc.writeDatagram(b)
		}
		for tc.readDatagram() != nil {
		}
		repairPN := tc.peerPN
		repair, _, err := packet.ParseFECRepairFrame(enc.AppendRepair(nil, repairPN), nil)
		if err != nil {
			t.Fatal(err)
		}
		tc.writeFrames(repair)
		tc.wantAck("the rebuilt packet is acknowledged at once, like one that arrived out of order", append(pns, repairPN)...)

		s := tc.acceptStream(true)
		got := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(s)
			got <- b
		}()
		tc.wait()
		select {
		case b := <-got:
			if !bytes.Equal(b, data) {
				t.Fatalf("the application read %d bytes, want the 4000 sent, byte for byte", len(b))
			}
		default:
			t.Fatal("the application is still waiting for data FEC should have rebuilt")
		}
		st := tc.conn.Stats()
		if st.FECRecovered != 1 || st.Migrations != 0 {
			t.Fatalf("FECRecovered %d, Migrations %d; want 1, 0", st.FECRecovered, st.Migrations)
		}
		for tc.readDatagram() != nil { // receipts for what the application read
		}
		tc.writeDatagram(lostPacket)
		tc.wantIdle("the late original is dropped")
		if st2 := tc.conn.Stats(); st2.Duplicates != st.Duplicates || st2.FECRecovered != 1 {
			t.Fatalf("after the late original: Duplicates %d → %d, FECRecovered %d; want unchanged", st.Duplicates, st2.Duplicates, st2.FECRecovered)
		}
	})
}

// TestPeerFECRepairViolations: FEC_REPAIR frames that break the rules of
// docs/PROTOCOL.md section 10 close the connection with PROTOCOL_VIOLATION.
func TestPeerFECRepairViolations(t *testing.T) {
	tests := []struct {
		desc      string
		send      func(tc *testConn)
		wantFrame packet.FrameType
	}{{
		desc: "a repair naming its own packet as a source",
		send: func(tc *testConn) {
			tc.writeFrames(packet.FECRepairFrame{Sources: []packet.PacketNumber{tc.peerPN}, Symbol: []byte{0, 1, 1}})
		},
		wantFrame: packet.FrameFECRepair,
	}, {
		desc: "a rebuilt packet carrying PATH_CHALLENGE",
		send: func(tc *testConn) {
			enc, _ := fec.NewEncoder(2, 1)
			id := tc.peerStreamID(0, true)
			first := []packet.Frame{packet.StreamFrame{StreamID: id, Data: []byte("abc")}}
			second := []packet.Frame{packet.PathChallengeFrame{Data: [8]byte{1}}, packet.StreamFrame{StreamID: id, Offset: 3, Data: []byte("def")}}
			for i, frames := range [][]packet.Frame{first, second} {
				var payload []byte
				for _, f := range frames {
					payload = f.Append(payload)
				}
				enc.Add(tc.peerPN, payload)
				b := tc.seal1RTT(frames)
				if i == 0 {
					tc.writeDatagram(b)
				}
			}
			repair, _, _ := packet.ParseFECRepairFrame(enc.AppendRepair(nil, tc.peerPN), nil)
			tc.writeFrames(repair)
		},
		wantFrame: packet.FramePathChallenge,
	}}
	for _, test := range tests {
		t.Run(test.desc, func(t *testing.T) {
			forBothSides(t, func(t *testing.T, side connSide) {
				tc := newTestConn(t, side, func(c *Config) { c.FEC = FECConfig{GroupSize: 4} })
				tc.ignoreFrame(packet.FrameAck)
				test.send(tc)
				f := tc.wantFrameType("the connection closes", packet.FrameConnectionClose).(packet.ConnectionCloseFrame)
				if packet.TransportErrorCode(f.ErrorCode) != packet.ProtocolViolation || f.FrameType != test.wantFrame {
					t.Fatalf("got %s, want PROTOCOL_VIOLATION in a %v frame", formatFrame(f), test.wantFrame)
				}
			})
		})
	}
}

// TestPeerFECNeedsBothSides: a Conn configured to send repairs sends none
// to a peer that did not announce fec, and its packets carry data as
// usual.
func TestPeerFECNeedsBothSides(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side, func(c *Config) { c.FEC = FECConfig{GroupSize: 4, Repair: 2}; c.NoDelay = true })
		tc.ignoreFrame(packet.FrameAck)
		s := tc.openStream(true)
		if _, err := s.Write(randomData(4, 5000)); err != nil {
			t.Fatalf("Write: %v", err)
		}
		for p := tc.readPacket(); p != nil; p = tc.readPacket() {
			for _, f := range p.frames {
				if f.Type() == packet.FrameFECRepair {
					t.Fatalf("packet %d carries %s, but the peer did not announce fec", p.pn, formatFrame(f))
				}
			}
		}
		if st := tc.conn.Stats(); st.FECRepairSent != 0 {
			t.Errorf("FECRepairSent = %d, want 0", st.FECRepairSent)
		}
	})
}

// TestFECConfigValidation: Dial and Listen refuse FEC shapes outside
// 0 ≤ Repair ≤ GroupSize ≤ 32.
func TestFECConfigValidation(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, fc := range []FECConfig{{GroupSize: 33}, {GroupSize: -1}, {GroupSize: 4, Repair: 5}, {Repair: 1}, {GroupSize: 4, Repair: -1}} {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := contextCancelled()
			defer cancel()
			if _, err := DialBind(ctx, newFakeBind(testConnAddr), testPeerAddr, &Config{ServerKey: key.Public(), FEC: fc}); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("Dial with FEC %+v: %v, want a Config.FEC error", fc, err)
			}
			if ln, err := ListenBind(newFakeBind(testConnAddr), &Config{PrivateKey: key, FEC: fc}); !errors.Is(err, ErrInvalidConfig) {
				if ln != nil {
					ln.Close()
				}
				t.Errorf("Listen with FEC %+v: %v, want a Config.FEC error", fc, err)
			}
		})
	}
}

// TestPeerFECLostRepairIsNoCongestion: a lost repair packet is counted as
// lost but neither sent again nor reported to congestion control, whose
// window stays where the ACK before the loss left it.
func TestPeerFECLostRepairIsNoCongestion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := fecConn(t, serverSide, 4, 2)
		tc.ignoreFrame(packet.FrameAck)
		s := tc.openStream(true)
		if _, err := s.Write(randomData(4, 5000)); err != nil {
			t.Fatalf("Write: %v", err)
		}
		g := tc.readGroup("four packets of data")
		g.check(t, "a full group", 4, 2)
		// Every source and the second repair arrive; the first repair is
		// lost, declared so by the time threshold.
		acked := []packet.PacketNumber{g.repairPackets[1].pn}
		for _, src := range g.sources {
			acked = append(acked, src.pn)
		}
		tc.writeFrames(ackFor(acked...))
		before := tc.conn.Stats().CongestionWindow
		tc.advanceToTimer()
		tc.wantIdle("a lost repair packet carries nothing to send again")
		st := tc.conn.Stats()
		if st.PacketsLost != 1 || st.BytesRetransmitted != 0 {
			t.Fatalf("PacketsLost %d, BytesRetransmitted %d; want 1, 0", st.PacketsLost, st.BytesRetransmitted)
		}
		if st.CongestionWindow != before {
			t.Fatalf("congestion window %d after losing only a repair packet, was %d: want it unchanged", st.CongestionWindow, before)
		}
	})
}
