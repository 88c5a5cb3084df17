package transport

import (
	"context"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport/netsim"
)

// recordingConn keeps copies of the 1-RTT datagrams written through it, so a
// test can replay them later as an on-path attacker would.
type recordingConn struct {
	net.PacketConn
	mu   sync.Mutex
	sent [][]byte
}

func (r *recordingConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if len(b) > 0 && b[0]&0x80 == 0 { // short header
		r.mu.Lock()
		r.sent = append(r.sent, append([]byte(nil), b...))
		r.mu.Unlock()
	}
	return r.PacketConn.WriteTo(b, addr)
}

func (r *recordingConn) recorded() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent
}

// TestReplayedOldPacketMovesNothing: after a NAT rebinding has moved the
// path, an attacker replays the client's genuine, authenticated packets from
// the old address over real connections. They are older than the newest
// packet seen, so the path must stay where it is (RFC 9000 section 9.3), with
// no second migration. TestPeerReplayedOldPacketMovesNothing covers packets
// the server never saw, on a scripted peer.
func TestReplayedOldPacketMovesNothing(t *testing.T) {
	key, _ := crypto.GenerateKey()
	n, cli, srv, rec := recordedSimPair(t, key)
	oldAddr := netip.MustParseAddrPort("198.18.0.2:5000")
	newAddr := netip.MustParseAddrPort("198.18.0.2:6001")
	transferDuring(t, cli, srv, 1<<20, func() {
		if err := n.Rebind(oldAddr, newAddr); err != nil {
			t.Fatal(err)
		}
	})
	if got := srv.RemoteAddr().String(); got != newAddr.String() {
		t.Fatalf("after the rebinding the server's peer is %s, want %s", got, newAddr)
	}
	before := srv.Stats()
	if before.Migrations != 1 {
		t.Fatalf("server counted %d migrations after one rebinding, want 1", before.Migrations)
	}
	// Replay the oldest and the newest datagrams: the newest decrypt and
	// are duplicates; the oldest are so far behind that their truncated
	// packet numbers decode to numbers never sent, and fail authentication.
	all := rec.recorded()
	if len(all) < 256 {
		t.Fatalf("recorded %d 1-RTT datagrams, want at least 256", len(all))
	}
	// Not the MTU probes the network refused as too big to send.
	all = slices.DeleteFunc(all, func(d []byte) bool { return len(d) > 65507 })
	old := append(all[:64:64], all[len(all)-64:]...)

	// The old address is free again after the rebinding: the attacker
	// takes it and replays everything it saw.
	attacker, err := n.Listen(oldAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	for _, d := range old {
		if _, err := attacker.WriteTo(d, netUDPAddr("198.18.0.1:4433")); err != nil {
			t.Fatal(err)
		}
	}
	// A round trip on the real path after the replay proves the replayed
	// datagrams were processed before we look.
	roundTrip(t, cli, srv)

	if got := srv.RemoteAddr().String(); got != newAddr.String() {
		t.Errorf("replayed old packets moved the path to %s, want it to stay at %s", got, newAddr)
	}
	after := srv.Stats()
	if after.Migrations != 1 {
		t.Errorf("server counted %d migrations after the replay, want still 1", after.Migrations)
	}
	// Every replayed datagram is dropped, as a duplicate or as failing
	// authentication; none is processed.
	dups, authFailed := after.Duplicates-before.Duplicates, after.AuthFailed-before.AuthFailed
	if dups+authFailed != uint64(len(old)) || dups == 0 {
		t.Errorf("of %d replayed datagrams %d were duplicates and %d failed authentication; want all dropped, some as duplicates",
			len(old), dups, authFailed)
	}
	// Nothing went back to the old address: no PATH_CHALLENGE, no ACK, no
	// PATH_RESPONSE. Netsim delivers in memory, so whatever the server sent
	// before the round trip completed is already queued on the socket.
	attacker.SetReadDeadline(time.Now())
	if n, from, err := attacker.ReadFrom(make([]byte, 2048)); err == nil {
		t.Errorf("server sent a %d-byte datagram from %v to the old address after the replay", n, from)
	}
}

// recordedSimPair is simPair with the client's datagrams recorded.
func recordedSimPair(t *testing.T, key crypto.PrivateKey) (*netsim.Network, *Conn, *Conn, *recordingConn) {
	t.Helper()
	n := netsim.NewNetwork()
	spc, err := n.Listen(netip.MustParseAddrPort("198.18.0.1:4433"))
	if err != nil {
		t.Fatal(err)
	}
	cpc, err := n.Listen(netip.MustParseAddrPort("198.18.0.2:5000"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := ListenBind(NewPacketConnBind(spc), &Config{PrivateKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	rec := &recordingConn{PacketConn: cpc}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := DialBind(ctx, NewPacketConnBind(rec), netip.MustParseAddrPort("198.18.0.1:4433"), &Config{ServerKey: key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	srv, err := ln.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n, cli, srv, rec
}

// roundTrip sends one byte on a new stream and waits for the receipt that
// the server application read it.
func roundTrip(t *testing.T, cli, srv *Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := cli.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("x"))
	s.Close()
	go func() {
		if rs, err := srv.AcceptStream(ctx); err == nil {
			io.ReadAll(rs)
		}
	}()
	if err := s.WaitConsumed(ctx, 1); err != nil {
		t.Fatalf("round trip: %v", err)
	}
}
