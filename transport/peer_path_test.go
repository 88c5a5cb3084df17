package transport

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// newPeerAddr is where the scripted client appears to move to, as after a
// NAT rebinding (same host, new port) or a new network (new host).
var (
	reboundPeerAddr = netip.MustParseAddrPort("198.51.100.7:6111")
	newNetPeerAddr  = netip.MustParseAddrPort("203.0.113.9:7000")
)

// wantChallengeTo reads what the Conn sent until a PATH_CHALLENGE to addr
// and returns its data; it fails if there is none.
func (tc *testConn) wantChallengeTo(reason string, addr netip.AddrPort) [8]byte {
	tc.t.Helper()
	for d := tc.readDatagram(); d != nil; d = tc.readDatagram() {
		for _, p := range d.packets {
			for _, f := range p.frames {
				if c, ok := f.(packet.PathChallengeFrame); ok {
					if d.to != addr {
						tc.t.Fatalf("%s: PATH_CHALLENGE went to %v, want %v", reason, d.to, addr)
					}
					return c.Data
				}
			}
		}
	}
	tc.t.Fatalf("%s: no PATH_CHALLENGE sent", reason)
	return [8]byte{}
}

// pathState reads the Conn's view of its path on its own loop.
func (tc *testConn) pathState() (peer netip.AddrPort, validated bool, migrations uint64) {
	tc.t.Helper()
	tc.conn.msgCh <- func(time.Time) {
		peer, validated, migrations = tc.conn.path.peer, tc.conn.path.validated, tc.conn.path.migrations
	}
	tc.wait()
	return peer, validated, migrations
}

// TestPeerPathValidation: a packet from a new address moves the path at once
// (RFC 9000 §9.3), and the move is confirmed only by a PATH_RESPONSE
// echoing the challenge's unpredictable data from the new address; a wrong
// echo confirms nothing, and with no echo the Conn goes back to the old
// path.
func TestPeerPathValidation(t *testing.T) {
	tests := []struct {
		desc          string
		newAddr       netip.AddrPort
		response      func(challenge [8]byte) *packet.PathResponseFrame
		wantPeer      func(newAddr netip.AddrPort) netip.AddrPort
		wantValidated bool
	}{{
		desc:          "NAT rebinding, correct response",
		newAddr:       reboundPeerAddr,
		response:      func(c [8]byte) *packet.PathResponseFrame { return &packet.PathResponseFrame{Data: c} },
		wantPeer:      func(a netip.AddrPort) netip.AddrPort { return a },
		wantValidated: true,
	}, {
		desc:          "new network, correct response",
		newAddr:       newNetPeerAddr,
		response:      func(c [8]byte) *packet.PathResponseFrame { return &packet.PathResponseFrame{Data: c} },
		wantPeer:      func(a netip.AddrPort) netip.AddrPort { return a },
		wantValidated: true,
	}, {
		desc:    "wrong response data, then silence",
		newAddr: reboundPeerAddr,
		response: func(c [8]byte) *packet.PathResponseFrame {
			c[0] ^= 1
			return &packet.PathResponseFrame{Data: c}
		},
		wantPeer:      func(netip.AddrPort) netip.AddrPort { return testPeerAddr },
		wantValidated: true, // the old path, validated during the handshake
	}, {
		desc:          "no response",
		newAddr:       reboundPeerAddr,
		response:      func([8]byte) *packet.PathResponseFrame { return nil },
		wantPeer:      func(netip.AddrPort) netip.AddrPort { return testPeerAddr },
		wantValidated: true,
	}}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tc := newTestConn(t, serverSide)
				tc.ignoreFrame(packet.FrameAck)
				tc.writeFramesFrom(tt.newAddr, packet.PingFrame{})
				if peer, validated, migrations := tc.pathState(); peer != tt.newAddr || validated || migrations != 1 {
					t.Fatalf("after a packet from %v: peer %v, validated %v, %d migrations; want %v, false, 1",
						tt.newAddr, peer, validated, migrations, tt.newAddr)
				}
				challenge := tc.wantChallengeTo("a packet from a new address", tt.newAddr)
				if r := tt.response(challenge); r != nil {
					tc.writeFramesFrom(tt.newAddr, *r)
				}
				tc.advance(5 * time.Second) // beyond the validation deadline
				peer, validated, _ := tc.pathState()
				if want := tt.wantPeer(tt.newAddr); peer != want || validated != tt.wantValidated {
					t.Errorf("5 s later: peer %v, validated %v; want %v, %v", peer, validated, want, tt.wantValidated)
				}
			})
		})
	}
}

// TestPeerPathAntiAmplification: until the new address answers the
// challenge, the Conn sends it at most three times the bytes it received
// from it (RFC 9000 §8.2.1), however much data it has queued; once
// validated, the data flows.
func TestPeerPathAntiAmplification(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := newTestConn(t, serverSide)
		s := tc.openStream(true)
		go s.Write(make([]byte, 512<<10)) // far more than 3× one small packet
		tc.wait()
		for tc.readDatagram() != nil {
		}
		// The receiver's NAT rebinds: its next ACK, which opens the
		// congestion window for the queued data, comes from a new port.
		tc.writeFramesFrom(reboundPeerAddr, tc.ackAll())
		received := tc.bind.bytesReceivedFrom(reboundPeerAddr)
		var challenge [8]byte
		var sawChallenge bool
		// Half a second: within the validation deadline (at least 1 s), so
		// the Conn keeps the new path and waits for the answer.
		for step := 0; step < 10; step++ {
			for d := tc.readDatagram(); d != nil; d = tc.readDatagram() {
				for _, p := range d.packets {
					for _, f := range p.frames {
						if c, ok := f.(packet.PathChallengeFrame); ok && d.to == reboundPeerAddr {
							challenge, sawChallenge = c.Data, true
						}
					}
				}
			}
			if sent := tc.bind.bytesSentTo(reboundPeerAddr); sent > 3*received {
				t.Fatalf("after %v: sent %d bytes to the unvalidated address, more than 3 × %d received", 50*time.Millisecond*time.Duration(step), sent, received)
			}
			tc.advance(50 * time.Millisecond)
		}
		if !sawChallenge {
			t.Fatal("no PATH_CHALLENGE reached the new address")
		}
		limited := tc.bind.bytesSentTo(reboundPeerAddr)
		t.Logf("unvalidated: received %d bytes, sent %d in 500 ms (limit %d)", received, limited, 3*received)

		tc.writeFramesFrom(reboundPeerAddr, packet.PathResponseFrame{Data: challenge})
		tc.advance(100 * time.Millisecond)
		for tc.readDatagram() != nil {
		}
		if sent, recv := tc.bind.bytesSentTo(reboundPeerAddr), tc.bind.bytesReceivedFrom(reboundPeerAddr); sent <= 3*recv {
			t.Errorf("validated: sent %d bytes for %d received; the queued data should flow beyond the 3× limit", sent, recv)
		}
	})
}

// TestPeerReplayedOldPacketMovesNothing: packets older than the newest one
// seen — replayed by an attacker, or merely reordered — arriving from the
// old address after the path moved neither move it back nor draw anything
// to the old address (RFC 9000 §9.3).
func TestPeerReplayedOldPacketMovesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := newTestConn(t, serverSide)
		tc.ignoreFrame(packet.FrameAck)
		// Two genuine packets the server has not seen, held back by an
		// on-path attacker.
		held := [][]byte{tc.seal1RTT([]packet.Frame{packet.PingFrame{}}), tc.seal1RTT([]packet.Frame{packet.PingFrame{}})}
		tc.writeFramesFrom(reboundPeerAddr, packet.PingFrame{})
		challenge := tc.wantChallengeTo("a packet from a new address", reboundPeerAddr)
		tc.writeFramesFrom(reboundPeerAddr, packet.PathResponseFrame{Data: challenge})
		for tc.readDatagram() != nil {
		}
		sentOld := tc.bind.bytesSentTo(testPeerAddr)

		for _, d := range held {
			tc.writeDatagramFrom(testPeerAddr, d)
		}
		tc.advance(time.Second)
		for tc.readDatagram() != nil {
		}
		peer, validated, migrations := tc.pathState()
		if peer != reboundPeerAddr || !validated || migrations != 1 {
			t.Errorf("after old packets from the old address: peer %v, validated %v, %d migrations; want %v, true, 1",
				peer, validated, migrations, reboundPeerAddr)
		}
		if got := tc.bind.bytesSentTo(testPeerAddr) - sentOld; got != 0 {
			t.Errorf("sent %d bytes to the old address after the replay, want 0", got)
		}
		// They were genuine, so they count as received packets, not as
		// failures: the rule is about the path, not about the data.
		if st := tc.conn.Stats(); st.AuthFailed != 0 {
			t.Errorf("%d authentication failures, want 0", st.AuthFailed)
		}
	})
}

// TestPeerPathResponseNoAmplification: a packet with eight PATH_CHALLENGEs
// from an address the Conn never validated, carrying an old packet number
// so that the path does not move (a peer spoofing a victim's address, or a
// replayed probe), gets one datagram back to that address, with all eight
// responses, and no more than three times the bytes it came in.
func TestPeerPathResponseNoAmplification(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := newTestConn(t, serverSide)
		victim := netip.MustParseAddrPort("203.0.113.9:53")
		tc.skipPeerPacketNumbers(1) // leaves a gap for the old number
		tc.writeFrames(packet.PingFrame{})
		for tc.readDatagram() != nil {
		}
		tc.peerPN -= 2 // the number skipped: older than the largest received
		var frames []packet.Frame
		for i := range 8 {
			frames = append(frames, packet.PathChallengeFrame{Data: [8]byte{byte(i)}})
		}
		tc.writeFramesFrom(victim, frames...)
		received := tc.bind.bytesReceivedFrom(victim)
		var toVictim []*testDatagram
		for d := tc.readDatagram(); d != nil; d = tc.readDatagram() {
			if d.to == victim {
				toVictim = append(toVictim, d)
			}
		}
		if len(toVictim) != 1 {
			t.Fatalf("%d datagrams to the unvalidated address, want 1", len(toVictim))
		}
		responses := 0
		for _, p := range toVictim[0].packets {
			for _, f := range p.frames {
				if _, ok := f.(packet.PathResponseFrame); ok {
					responses++
				}
			}
		}
		if responses != 8 {
			t.Errorf("%d PATH_RESPONSEs, want 8", responses)
		}
		if sent := tc.bind.bytesSentTo(victim); sent > 3*received {
			t.Errorf("sent %d bytes to the unvalidated address for %d received", sent, 3*received)
		}
		tc.advance(time.Second)
		if sent := tc.bind.bytesSentTo(victim); sent != int64(toVictim[0].size) {
			t.Errorf("%d bytes to the unvalidated address after a second, want only the %d of the answer", sent, toVictim[0].size)
		}
	})
}
