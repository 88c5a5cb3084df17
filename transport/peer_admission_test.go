package transport

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// This file tests admission control on a Listener (admission.go,
// docs/SECURITY.md) with scripted clients: per-source limits, the explicit
// refusal of a full server, single-use Retry tokens, Retry under load and
// the half-open handshake timeout.

// regenerate gives the client a new message 1, bound to dcid and stamped
// at, as a client starting an attempt does.
func (cl *testClient) regenerate(tc *testConn, dcid packet.ConnectionID, at time.Time) {
	tc.t.Helper()
	cl.seal, cl.open = crypto.NewInitialKeys(tc.serverKey.Public(), dcid.Bytes(), true)
	cl.dcid = dcid
	key, err := crypto.GenerateKey()
	if err != nil {
		tc.t.Fatal(err)
	}
	params := packet.DefaultTransportParameters()
	params.InitialSrcConnID, params.HasInitialSrcConnID = cl.scid, true
	_, cl.msg1, err = crypto.NewClientHandshake(crypto.ClientConfig{
		StaticKey: key, ServerKey: tc.serverKey.Public(), TransportParams: params.Append(nil),
	}, dcid.Bytes(), at)
	if err != nil {
		tc.t.Fatal(err)
	}
}

// readRetry reads the Listener's Retry to the client and returns its SCID
// and token.
func (cl *testClient) readRetry(tc *testConn, reason string) (packet.ConnectionID, []byte) {
	tc.t.Helper()
	tc.wait()
	d, ok := tc.bind.next()
	if !ok {
		tc.t.Fatalf("%s: got nothing sent, want a Retry to %v", reason, cl.addr)
	}
	r, err := packet.ParseRetry(d.data)
	if err != nil || d.to != cl.addr || r.DstConnID != cl.scid {
		tc.t.Fatalf("%s: got %d bytes to %v (error %v), want a Retry to %v", reason, len(d.data), d.to, err, cl.addr)
	}
	return r.SrcConnID, r.Token
}

// wantClose reads the Listener's Initial to the client and fails unless
// it carries a CONNECTION_CLOSE with code.
func (cl *testClient) wantClose(tc *testConn, reason string, code packet.TransportErrorCode) {
	tc.t.Helper()
	tc.wait()
	d, ok := tc.bind.next()
	if !ok {
		tc.t.Fatalf("%s: got nothing sent, want CONNECTION_CLOSE to %v", reason, cl.addr)
	}
	h, err := packet.ParseLongHeader(d.data)
	if err != nil || d.to != cl.addr || h.Type != packet.LongTypeInitial {
		tc.t.Fatalf("%s: got %d bytes to %v (error %v), want an Initial to %v", reason, len(d.data), d.to, err, cl.addr)
	}
	pnLen, trunc, _, err := cl.open.UnprotectHeader(d.data[:h.PacketLen], h.PNOffset)
	if err != nil {
		tc.t.Fatalf("%s: header protection: %v", reason, err)
	}
	payload, err := cl.open.Open(d.data[:h.PacketLen], h.PNOffset, pnLen, uint64(packet.DecodePacketNumber(packet.InvalidPacketNumber, trunc, pnLen)))
	if err != nil {
		tc.t.Fatalf("%s: the Initial does not open with the client's keys: %v", reason, err)
	}
	for len(payload) > 0 {
		f, n, err := packet.ParseFrame(payload)
		if err != nil {
			tc.t.Fatalf("%s: %v", reason, err)
		}
		payload = payload[n:]
		if cc, ok := f.(packet.ConnectionCloseFrame); ok {
			if cc.ErrorCode != uint64(code) {
				tc.t.Fatalf("%s: CONNECTION_CLOSE code %#x (%q), want %v", reason, cc.ErrorCode, cc.Reason, code)
			}
			return
		}
	}
	tc.t.Fatalf("%s: the Initial carries no CONNECTION_CLOSE", reason)
}

// writeInitialWithToken sends message 1 to cl.dcid, echoing token.
func (cl *testClient) writeInitialWithToken(tc *testConn, token []byte) {
	tc.t.Helper()
	cl.sealInitialWithToken(tc, token, func(b []byte) { tc.writeDatagramFrom(cl.addr, b) })
}

// sealInitialWithToken builds the Initial writeInitialWithToken sends and
// hands it to send.
func (cl *testClient) sealInitialWithToken(tc *testConn, token []byte, send func([]byte)) {
	tc.t.Helper()
	h := packet.LongHeader{Type: packet.LongTypeInitial, Version: packet.Version, DstConnID: cl.dcid, SrcConnID: cl.scid, Token: token}
	f := packet.CryptoFrame{Data: cl.msg1}
	payloadLen := max(f.Len(), packet.MinInitialDatagramSize-packet.LongHeaderLen(h, 4, packet.MinInitialDatagramSize)-crypto.TagLen)
	b, pnOffset := packet.AppendLongHeader(nil, h, 4, payloadLen+crypto.TagLen)
	b = packet.AppendPacketNumber(b, 0, 4)
	b = f.Append(b)
	for len(b) < pnOffset+4+payloadLen {
		b = append(b, 0)
	}
	send(cl.seal.Seal(b, pnOffset, 4, 0))
}

// retried makes a client at addr that has followed the Listener's Retry:
// it holds a token, a new message 1 stamped at, and the Retry's DCID.
func retried(tc *testConn, addr netip.AddrPort, at time.Time) (*testClient, []byte) {
	tc.t.Helper()
	cl := newTestClient(tc, addr)
	cl.writeInitial(tc)
	scid, token := cl.readRetry(tc, "setup: a Retry")
	cl.regenerate(tc, scid, at)
	return cl, token
}

func TestPeerServerPerSourceHandshakeLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, serverSide, func(c *Config) { c.MaxHandshakes = 8; c.MaxHandshakesPerSource = 2 })
		for port := range uint16(2) {
			cl := newTestClient(tc, netip.AddrPortFrom(netip.MustParseAddr("198.51.100.7"), 7000+port))
			cl.writeInitial(tc)
			cl.wantAnswer(tc, "a handshake within the source's share", packet.LongTypeInitial)
		}
		over := newTestClient(tc, netip.MustParseAddrPort("198.51.100.7:7002"))
		over.writeInitial(tc)
		tc.wantIdle("a third handshake from one address is not answered")
		if got := tc.listener.Stats().Refused; got != 1 {
			t.Errorf("Refused = %d, want 1", got)
		}
		other := newTestClient(tc, netip.MustParseAddrPort("198.51.100.8:7000"))
		other.writeInitial(tc)
		other.wantAnswer(tc, "another address still gets in", packet.LongTypeInitial)
		if got, want := tc.listenerStateNow(), (listenerState{conns: 3, handshakes: 3, unvalidated: 3, routes: 6}); got != want {
			t.Errorf("the listener holds %+v, want %+v", got, want)
		}
	})
}

// TestPeerServerFullRefusal: a client over a connection limit gets a
// Retry and then, from its validated address, CONNECTION_REFUSED.
func TestPeerServerFullRefusal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, serverSide, func(c *Config) { c.MaxConnsPerSource = 1 })
		first := newTestClient(tc, netip.MustParseAddrPort("198.51.100.7:7000"))
		first.writeInitial(tc)
		first.wantAnswer(tc, "the source's first connection", packet.LongTypeInitial)

		cl, token := retried(tc, netip.MustParseAddrPort("198.51.100.7:7001"), time.Now())
		cl.writeInitialWithToken(tc, token)
		cl.wantClose(tc, "the source holds its share of connections", packet.ConnectionRefused)
		tc.wantIdle("the refusal is the whole answer")

		other := newTestClient(tc, netip.MustParseAddrPort("198.51.100.8:7000"))
		other.writeInitial(tc)
		other.wantAnswer(tc, "another address still gets in", packet.LongTypeInitial)
		if got, want := tc.listenerStateNow(), (listenerState{conns: 2, handshakes: 2, unvalidated: 2, routes: 4}); got != want {
			t.Errorf("the listener holds %+v, want %+v", got, want)
		}
	})
}

// TestDialServerFull: Dial to a full server fails at once with
// CONNECTION_REFUSED, not a handshake timeout.
func TestDialServerFull(t *testing.T) {
	ln, _, _ := testPair(t, &Config{MaxConns: 1}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, ln.Addr().String(), &Config{ServerKey: ln.pub})
	var te *TransportError
	if !errors.As(err, &te) || te.Code != packet.ConnectionRefused || !te.Remote {
		if c != nil {
			c.Close()
		}
		t.Fatalf("Dial to a full server: %v, want a remote *TransportError CONNECTION_REFUSED", err)
	}
}

func TestPeerServerTokenSingleUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, serverSide, requireAddressValidation)
		addr := netip.MustParseAddrPort("198.51.100.7:7000")
		cl, token := retried(tc, addr, time.Now())
		cl.writeInitialWithToken(tc, token)
		cl.wantAnswer(tc, "the token's first use", packet.LongTypeInitial)

		// Another handshake from the same address and the same token.
		again := newTestClient(tc, addr)
		again.regenerate(tc, testRandomCID(t), time.Now())
		again.writeInitialWithToken(tc, token)
		tc.wantIdle("a spent token starts nothing")
		if got := tc.listener.Stats(); got.TokensRejected != 1 || got.HandshakesRejected != 0 {
			t.Errorf("Stats() = %+v, want one token rejected before any handshake work", got)
		}
	})
}

// TestPeerServerRetryUnderLoad: handshakes that fail after the
// Diffie-Hellman work (stale timestamps, as a replayed message 1 has) put
// the Listener under load: every new client must then come through a
// Retry, and each validated source gets a bounded share of handshakes.
// The load ends loadHold after the last sign of it.
func TestPeerServerRetryUnderLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, serverSide)
		stale := time.Now().Add(-3 * time.Minute)
		for i := range failureBurst + 1 {
			cl := newTestClient(tc, netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), 7000))
			cl.regenerate(tc, cl.origDCID, stale)
			cl.writeInitial(tc)
			cl.wantClose(tc, "a stale timestamp is refused", packet.HandshakeFailed)
		}
		honest := newTestClient(tc, netip.MustParseAddrPort("198.18.0.1:7000"))
		honest.writeInitial(tc)
		honest.wantAnswer(tc, "under load an honest client gets a Retry", packet.LongTypeRetry)

		// A validated source gets sourceWorkBurst handshakes, then none.
		attacker := netip.MustParseAddr("198.18.0.2")
		for i := range sourceWorkBurst + 1 {
			cl, token := retried(tc, netip.AddrPortFrom(attacker, uint16(8000+i)), stale)
			cl.writeInitialWithToken(tc, token)
			if i < sourceWorkBurst {
				cl.wantClose(tc, "a validated source's stale handshake is refused", packet.HandshakeFailed)
			} else {
				tc.wantIdle("a validated source over its share is not answered")
			}
		}
		if got := tc.listener.Stats().HandshakesShed; got != 1 {
			t.Errorf("HandshakesShed = %d, want 1", got)
		}

		tc.advance(loadHold)
		later := newTestClient(tc, netip.MustParseAddrPort("198.18.0.3:7000"))
		later.writeInitial(tc)
		later.wantAnswer(tc, "once the load is gone, no Retry", packet.LongTypeInitial)
	})
}

// TestPeerServerHalfOpenTimeout: a handshake the client abandons after
// message 2 frees its slot after halfOpenIdle, and each copy of message 1
// pushes that back.
func TestPeerServerHalfOpenTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, serverSide)
		tc.writeClientHello()
		tc.wantServerHello("message 2")
		tc.advance(halfOpenIdle - time.Second)
		tc.writeClientHello() // as if message 2 were lost
		tc.discardUnread()
		tc.advance(halfOpenIdle - time.Millisecond)
		if got := tc.listenerStateNow(); got.handshakes != 1 {
			t.Fatalf("a copy of message 1 did not keep the handshake: the listener holds %+v", got)
		}
		tc.advance(time.Millisecond)
		if got, want := tc.listenerStateNow(), (listenerState{}); got != want {
			t.Fatalf("after %v of silence the listener holds %+v, want nothing", halfOpenIdle, got)
		}
	})
}

// TestPeerServerSlotFreedWhenClosedAsConfirmed: a client whose first 1-RTT
// packet confirms the handshake and closes the connection (a Dial followed
// at once by Close) gives its handshake slot back. The slot used to be
// kept, and 64 such clients locked their address out, 256 the listener.
func TestPeerServerSlotFreedWhenClosedAsConfirmed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, serverSide)
		tc.writeClientHello()
		tc.wantServerHello("message 2")
		tc.writeFrames(packet.PingFrame{}, packet.ConnectionCloseFrame{ErrorCode: uint64(packet.NoError)})
		tc.advance(10 * time.Second) // past the draining period
		if got, want := tc.listenerStateNow(), (listenerState{}); got != want {
			t.Fatalf("after the client confirmed and closed, the listener holds %+v, want nothing", got)
		}
		tc.listener.mu.Lock()
		n := len(tc.listener.accept.bySource)
		tc.listener.mu.Unlock()
		if n != 0 {
			t.Fatalf("%d sources still counted, want none", n)
		}
	})
}

// TestPeerServerTokenKeptWhenNoSlot: an Initial whose valid token reaches
// a handshake worker when every slot has been taken since it was queued is
// dropped without spending the token, so the client's retransmission,
// which carries the same token, gets in once a slot is free.
func TestPeerServerTokenKeptWhenNoSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, serverSide, requireAddressValidation, func(c *Config) { c.MaxHandshakes = 1 })
		cl, token := retried(tc, netip.MustParseAddrPort("198.51.100.8:7000"), time.Now())
		var datagram []byte
		cl.sealInitialWithToken(tc, token, func(b []byte) { datagram = b })
		l := tc.listener
		deliver := func() {
			job := handshakeJob{rx: newRxDatagram(datagram, cl.addr, rxMeta{}, time.Now())}
			l.handshakeInitial(job) // as a worker does, the queue behind
			job.rx.release()
		}
		l.mu.Lock()
		l.accept.handshakes = 1 // taken while the Initial waited in the queue
		l.mu.Unlock()
		deliver()
		tc.wantIdle("no slot: the Initial is dropped")
		l.mu.Lock()
		l.accept.handshakes = 0 // the slot is free again
		l.mu.Unlock()
		deliver() // the client's retransmission
		cl.wantAnswer(tc, "the retransmission with the same token gets in", packet.LongTypeInitial)
		if got := l.Stats().TokensRejected; got != 0 {
			t.Errorf("TokensRejected = %d, want 0", got)
		}
	})
}

// TestPeerServerReplaysDoNotSignalLoad: replays the replay cache catches
// cost no Diffie-Hellman work, so a flood of them does not put the
// listener under load (which would make every honest client take a
// Retry).
func TestPeerServerReplaysDoNotSignalLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, serverSide)
		orig := newTestClient(tc, netip.MustParseAddrPort("198.51.100.7:7000"))
		orig.writeInitial(tc)
		orig.wantAnswer(tc, "the original message 1", packet.LongTypeInitial)
		for i := range failureBurst + 10 {
			// The same message 1 to a fresh DCID: a new Initial for the
			// listener, a replay for its cache.
			replay := newTestClient(tc, netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(100 + i)}), 7000))
			replay.msg1 = orig.msg1
			replay.writeInitial(tc)
		}
		tc.wantIdle("replays get no answer")
		if got := tc.listener.Stats().HandshakesRejected; got != failureBurst+10 {
			t.Fatalf("HandshakesRejected = %d, want %d", got, failureBurst+10)
		}
		honest := newTestClient(tc, netip.MustParseAddrPort("198.18.0.1:7000"))
		honest.writeInitial(tc)
		honest.wantAnswer(tc, "no load: message 2 without a Retry", packet.LongTypeInitial)
	})
}
