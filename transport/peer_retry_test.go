package transport

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// This file tests Retry (docs/PROTOCOL.md section 2.2) with the scripted
// peer: the server's stateless answer and its token checks, and the client's
// following of a Retry and its checks of the server's transport parameters.

// requireAddressValidation is a startTestConn option.
func requireAddressValidation(c *Config) { c.RequireAddressValidation = true }

// listenerState is what a Listener holds for connections and handshakes.
type listenerState struct {
	conns, handshakes, unvalidated, routes int
}

// listenerStateNow reads the Listener's connection state.
func (tc *testConn) listenerStateNow() listenerState {
	tc.t.Helper()
	tc.wait()
	l := tc.listener
	l.mu.Lock()
	defer l.mu.Unlock()
	return listenerState{conns: len(l.live), handshakes: l.accept.handshakes, unvalidated: l.accept.unvalidated, routes: len(l.conns)}
}

// handshakingConn returns the Listener's only connection, which the test has
// not accepted yet.
func (tc *testConn) handshakingConn() *Conn {
	tc.t.Helper()
	tc.wait()
	l := tc.listener
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.live) != 1 {
		tc.t.Fatalf("the listener has %d connections, want 1", len(l.live))
	}
	for c := range l.live {
		return c
	}
	return nil
}

// amplificationLimited reports whether the 3× limit still binds the server
// connection c (docs/PROTOCOL.md section 9): whether it may not send a
// megabyte to the client now.
func amplificationLimited(t *testing.T, c *Conn) bool {
	t.Helper()
	var limited bool
	if err := c.run(context.Background(), func(now time.Time) { limited = !c.amplificationAllows(1 << 20) }); err != nil {
		t.Fatalf("the connection ended: %v", err)
	}
	return limited
}

// TestPeerServerRetry walks a Listener with RequireAddressValidation through
// a Retry: the client's first Initial gets a Retry with a valid integrity
// tag and creates no state; a late copy of it gets another Retry; the
// Initial that echoes the token gets message 2, whose transport parameters
// carry original_destination_connection_id and retry_source_connection_id
// (RFC 9000 §7.3), from a connection whose client address is validated at
// once.
func TestPeerServerRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, serverSide, requireAddressValidation)
		first := tc.sealInitial([]packet.Frame{packet.CryptoFrame{Data: tc.clientHello()}}, packet.MinInitialDatagramSize)
		tc.writeDatagram(first)
		r := tc.wantRetry("a client without a token gets a Retry")
		if r.SrcConnID.Len() != packet.DefaultConnIDLen || r.SrcConnID == tc.origDCID {
			t.Fatalf("Retry SCID %v: want %d fresh bytes, not the original DCID %v", r.SrcConnID, packet.DefaultConnIDLen, tc.origDCID)
		}
		if len(r.Token) == 0 || len(r.Token) > crypto.MaxRetryTokenLen {
			t.Fatalf("Retry token of %d bytes, want 1..%d", len(r.Token), crypto.MaxRetryTokenLen)
		}
		tc.wantIdle("a Retry is the whole answer")
		if got, want := tc.listenerStateNow(), (listenerState{}); got != want {
			t.Fatalf("after the Retry the listener holds %+v, want nothing", got)
		}
		if got, want := tc.listener.Stats(), (EndpointStats{RetriesSent: 1}); got != want {
			t.Fatalf("Stats() = %+v, want %+v", got, want)
		}

		// A copy of the first Initial that was on its way meanwhile: still
		// no state, just another Retry (which the client will ignore).
		tc.writeDatagram(first)
		r2 := tc.wantRetry("a repeated Initial without a token gets a Retry again")
		if r2.SrcConnID == r.SrcConnID {
			t.Fatalf("both Retries chose SCID %v, want a fresh one each time", r.SrcConnID)
		}
		if got, want := tc.listenerStateNow(), (listenerState{}); got != want {
			t.Fatalf("after the second Retry the listener holds %+v, want nothing", got)
		}

		firstMsg1 := tc.msg1
		tc.useRetry(r.SrcConnID, r.Token)
		tc.writeClientHello()
		if bytes.Equal(tc.msg1[:32], firstMsg1[:32]) {
			t.Fatalf("setup: the harness client reused its ephemeral key after the Retry")
		}
		d := tc.readDatagram()
		if d == nil || len(d.packets) == 0 || d.packets[0].kind != kindInitial || d.packets[0].dcid != tc.peerCID {
			t.Fatalf("answer to the Initial with the token: got %v, want an Initial to %v", d, tc.peerCID)
		}
		tc.wantServerHello("the Initial with the token gets message 2")
		p := tc.connParams
		if !p.HasOriginalDstConnID || p.OriginalDstConnID != tc.origDCID {
			t.Fatalf("original_destination_connection_id = %v (present %v), want the first Initial's DCID %v", p.OriginalDstConnID, p.HasOriginalDstConnID, tc.origDCID)
		}
		if !p.HasRetrySrcConnID || p.RetrySrcConnID != r.SrcConnID {
			t.Fatalf("retry_source_connection_id = %v (present %v), want the Retry's SCID %v", p.RetrySrcConnID, p.HasRetrySrcConnID, r.SrcConnID)
		}
		if !p.HasInitialSrcConnID || p.InitialSrcConnID != tc.connCID {
			t.Fatalf("initial_source_connection_id = %v, want the server's Initial SCID %v", p.InitialSrcConnID, tc.connCID)
		}
		tc.wantIdle("one message 2")
		if got, want := tc.listenerStateNow(), (listenerState{conns: 1, handshakes: 1, unvalidated: 0, routes: 2}); got != want {
			t.Fatalf("after the token: the listener holds %+v, want %+v (a validated handshake)", got, want)
		}
		if amplificationLimited(t, tc.handshakingConn()) {
			t.Fatalf("the token validated the client's address, but the 3× limit still binds the server")
		}

		tc.writeFrames(packet.PingFrame{})
		tc.ignoreFrame(packet.FrameAck)
		tc.wantFrame("the client's first 1-RTT packet confirms the handshake", packet.HandshakeDoneFrame{})
		ctx, cancel := contextCancelled()
		defer cancel()
		c, err := tc.listener.Accept(ctx)
		if err != nil {
			t.Fatalf("Accept after the Retry handshake: %v", err)
		}
		tc.conn = c
		if got, want := tc.listener.Stats(), (EndpointStats{RetriesSent: 2}); got != want {
			t.Fatalf("Stats() = %+v, want %+v", got, want)
		}
		if got := c.Stats().Retries; got != 0 {
			t.Fatalf("server connection Stats().Retries = %d, want 0 (only clients follow Retries)", got)
		}
	})
}

// TestPeerServerNoRetryKeepsAmplificationLimit is the control for the
// validation check above: without a Retry the handshaking server connection
// is bound by the 3× limit.
func TestPeerServerNoRetryKeepsAmplificationLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, serverSide)
		tc.writeClientHello()
		tc.wantServerHello("message 2 at once, without a Retry")
		if p := tc.connParams; p.HasOriginalDstConnID || p.HasRetrySrcConnID {
			t.Fatalf("server sent original_destination_connection_id (%v) or retry_source_connection_id (%v) without a Retry", p.HasOriginalDstConnID, p.HasRetrySrcConnID)
		}
		if got, want := tc.listenerStateNow(), (listenerState{conns: 1, handshakes: 1, unvalidated: 1, routes: 2}); got != want {
			t.Fatalf("the listener holds %+v, want %+v", got, want)
		}
		if !amplificationLimited(t, tc.handshakingConn()) {
			t.Fatalf("without a Retry the server's handshaking connection is not bound by the 3× limit")
		}
	})
}

// TestPeerServerRetryTokenChecks: an Initial whose token fails is dropped
// without an answer and counted, and creates no state (docs/PROTOCOL.md
// section 4.7: a token is valid for 10 s, from the address it was issued
// to). The genuine token still works afterwards where it should, so the
// drop was the check's doing.
func TestPeerServerRetryTokenChecks(t *testing.T) {
	otherAddr := netip.MustParseAddrPort("198.51.100.8:5000")
	tests := []struct {
		desc      string
		wait      time.Duration                           // between the Retry and the Initial
		from      netip.AddrPort                          // zero: the address the Retry went to
		token     func(t *testing.T, token []byte) []byte // nil: the genuine token
		wantOK    bool                                    // the Initial gets message 2
		thenRetry bool                                    // after a drop, the genuine token from the right address works
	}{{
		desc:   "genuine token at once",
		wantOK: true,
	}, {
		desc:   "genuine token 10 s old (the lifetime)",
		wait:   10 * time.Second,
		wantOK: true,
	}, {
		desc: "token 11 s old",
		wait: 11 * time.Second,
	}, {
		desc:      "token replayed from another address",
		from:      otherAddr,
		thenRetry: true,
	}, {
		desc:      "token replayed from another port",
		from:      netip.AddrPortFrom(testPeerAddr.Addr(), testPeerAddr.Port()+1),
		thenRetry: true,
	}, {
		desc: "tampered token",
		token: func(t *testing.T, token []byte) []byte {
			b := bytes.Clone(token)
			b[len(b)/2] ^= 0x01
			return b
		},
		thenRetry: true,
	}, {
		desc: "token sealed by another server",
		token: func(t *testing.T, token []byte) []byte {
			var secret [32]byte
			secret[0] = 1
			return crypto.NewTokenProtector(secret).NewRetryToken(testPeerAddr, []byte("8 bytes!"), time.Now())
		},
		thenRetry: true,
	}}
	for _, test := range tests {
		t.Run(test.desc, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tc := startTestConn(t, serverSide, requireAddressValidation)
				tc.writeClientHello()
				r := tc.wantRetry("a client without a token gets a Retry")
				tc.advance(test.wait)
				token := r.Token
				if test.token != nil {
					token = test.token(t, token)
				}
				tc.useRetry(r.SrcConnID, token)
				from := tc.peerAddr
				if test.from.IsValid() {
					from = test.from
				}
				tc.writeDatagramFrom(from, tc.sealInitial([]packet.Frame{packet.CryptoFrame{Data: tc.clientHello()}}, packet.MinInitialDatagramSize))
				if test.wantOK {
					tc.wantServerHello("the token is accepted: message 2")
					if got, want := tc.listener.Stats(), (EndpointStats{RetriesSent: 1}); got != want {
						t.Fatalf("Stats() = %+v, want %+v", got, want)
					}
					return
				}
				tc.wantIdle("an Initial with a bad token gets no answer")
				if got, want := tc.listenerStateNow(), (listenerState{}); got != want {
					t.Fatalf("after the bad token the listener holds %+v, want nothing", got)
				}
				if got, want := tc.listener.Stats(), (EndpointStats{RetriesSent: 1, TokensRejected: 1}); got != want {
					t.Fatalf("Stats() = %+v, want %+v", got, want)
				}
				if test.thenRetry {
					tc.useRetry(r.SrcConnID, r.Token)
					tc.writeClientHello()
					tc.wantServerHello("the genuine token from the address it was issued to is accepted")
				}
			})
		})
	}
}

// testClient is a second client the harness plays towards a server Conn's
// Listener, from its own address, with its own connection IDs.
type testClient struct {
	addr     netip.AddrPort
	origDCID packet.ConnectionID
	dcid     packet.ConnectionID // after a Retry, its SCID
	scid     packet.ConnectionID
	seal     *crypto.Sealer
	open     *crypto.Opener
	msg1     []byte
}

func newTestClient(tc *testConn, addr netip.AddrPort) *testClient {
	tc.t.Helper()
	cl := &testClient{addr: addr, origDCID: testRandomCID(tc.t), scid: testRandomCID(tc.t)}
	cl.dcid = cl.origDCID
	cl.seal, cl.open = crypto.NewInitialKeys(tc.serverKey.Public(), cl.origDCID.Bytes(), true)
	key, err := crypto.GenerateKey()
	if err != nil {
		tc.t.Fatal(err)
	}
	params := packet.DefaultTransportParameters()
	params.InitialSrcConnID, params.HasInitialSrcConnID = cl.scid, true
	_, cl.msg1, err = crypto.NewClientHandshake(crypto.ClientConfig{
		StaticKey: key, ServerKey: tc.serverKey.Public(), TransportParams: params.Append(nil),
	}, cl.origDCID.Bytes(), time.Now())
	if err != nil {
		tc.t.Fatal(err)
	}
	return cl
}

// writeInitial sends the client's message 1 in a padded Initial without a
// token.
func (cl *testClient) writeInitial(tc *testConn) {
	tc.t.Helper()
	h := packet.LongHeader{Type: packet.LongTypeInitial, Version: packet.Version, DstConnID: cl.origDCID, SrcConnID: cl.scid}
	f := packet.CryptoFrame{Data: cl.msg1}
	payloadLen := max(f.Len(), packet.MinInitialDatagramSize-packet.LongHeaderLen(h, 4, packet.MinInitialDatagramSize)-crypto.TagLen)
	b, pnOffset := packet.AppendLongHeader(nil, h, 4, payloadLen+crypto.TagLen)
	b = packet.AppendPacketNumber(b, 0, 4)
	b = f.Append(b)
	for len(b) < pnOffset+4+payloadLen {
		b = append(b, 0)
	}
	tc.writeDatagramFrom(cl.addr, cl.seal.Seal(b, pnOffset, 4, 0))
}

// wantAnswer reads the Listener's answer to the client's Initial, raw: it
// is sealed with keys the harness does not hold.
func (cl *testClient) wantAnswer(tc *testConn, reason string, want packet.LongType) {
	tc.t.Helper()
	tc.wait()
	d, ok := tc.bind.next()
	if !ok {
		tc.t.Fatalf("%s: got nothing sent, want a %v to %v", reason, want, cl.addr)
	}
	h, err := packet.ParseLongHeader(d.data)
	if err != nil || d.to != cl.addr || h.Type != want || h.DstConnID != cl.scid {
		tc.t.Fatalf("%s: got %d bytes to %v (type %v, DCID %v, error %v), want a %v to %v, DCID %v",
			reason, len(d.data), d.to, h.Type, h.DstConnID, err, want, cl.addr, cl.scid)
	}
	if want == packet.LongTypeRetry && !crypto.VerifyRetryTag(cl.origDCID.Bytes(), d.data, tc.serverKey.Public()) {
		tc.t.Fatalf("%s: the Retry's integrity tag does not verify", reason)
	}
}

// TestPeerEndpointStats: each way an Initial for a new connection is
// dropped counts once, in its own EndpointStats field, and creates no state.
func TestPeerEndpointStats(t *testing.T) {
	other := netip.MustParseAddrPort("198.51.100.30:7000")
	tests := []struct {
		desc  string
		opts  []any
		setup func(tc *testConn) // before the state the drop must leave alone
		send  func(tc *testConn)
		want  EndpointStats
	}{{
		desc: "Initial in a datagram under 1200 bytes",
		send: func(tc *testConn) {
			tc.writeDatagram(tc.sealInitial([]packet.Frame{packet.CryptoFrame{Data: tc.clientHello()}}, 0))
		},
		want: EndpointStats{BadInitials: 1},
	}, {
		desc: "Initial sealed for another server key",
		send: func(tc *testConn) {
			key, err := crypto.GenerateKey()
			if err != nil {
				tc.t.Fatal(err)
			}
			tc.initSeal, _ = crypto.NewInitialKeys(key.Public(), tc.origDCID.Bytes(), true)
			tc.writeClientHello()
		},
		want: EndpointStats{BadInitials: 1},
	}, {
		desc: "message 1 bound to another DCID",
		send: func(tc *testConn) {
			tc.clientHello()
			tc.origDCID = testRandomCID(tc.t)
			tc.initSeal, tc.initOpen = crypto.NewInitialKeys(tc.serverKey.Public(), tc.origDCID.Bytes(), true)
			tc.writeClientHello()
		},
		want: EndpointStats{HandshakesRejected: 1},
	}, {
		desc: "every handshake slot taken",
		opts: []any{func(c *Config) { c.MaxHandshakes = 1 }},
		setup: func(tc *testConn) {
			cl := newTestClient(tc, other)
			cl.writeInitial(tc)
			cl.wantAnswer(tc, "setup: the first client gets message 2", packet.LongTypeInitial)
		},
		send: func(tc *testConn) { tc.writeClientHello() },
		want: EndpointStats{Refused: 1},
	}}
	for _, test := range tests {
		t.Run(test.desc, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tc := startTestConn(t, serverSide, test.opts...)
				if test.setup != nil {
					test.setup(tc)
				}
				before := tc.listenerStateNow()
				test.send(tc)
				tc.wantIdle("a dropped Initial gets no answer")
				if got := tc.listenerStateNow(); got != before {
					t.Fatalf("the listener holds %+v after the drop, want %+v as before", got, before)
				}
				if got := tc.listener.Stats(); got != test.want {
					t.Fatalf("Stats() = %+v, want %+v", got, test.want)
				}
			})
		})
	}
}

// TestPeerServerAutomaticRetry: without RequireAddressValidation a Listener
// sends Retry while half or more of MaxHandshakes are taken by handshakes
// from unvalidated addresses, and stops once they are not.
func TestPeerServerAutomaticRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, serverSide, func(c *Config) { c.MaxHandshakes = 2 })
		tc.writeClientHello()
		tc.wantServerHello("with no handshake in progress the first client gets message 2 at once")
		if got, want := tc.listenerStateNow(), (listenerState{conns: 1, handshakes: 1, unvalidated: 1, routes: 2}); got != want {
			t.Fatalf("the listener holds %+v, want %+v", got, want)
		}

		second := newTestClient(tc, netip.MustParseAddrPort("198.51.100.20:7000"))
		second.writeInitial(tc)
		second.wantAnswer(tc, "one of two handshake slots is taken by an unvalidated address: Retry", packet.LongTypeRetry)
		tc.wantIdle("a Retry is the whole answer")
		if got, want := tc.listener.Stats(), (EndpointStats{RetriesSent: 1}); got != want {
			t.Fatalf("Stats() = %+v, want %+v", got, want)
		}

		// The first client confirms its handshake: its slot is free, and
		// the next client needs no Retry.
		tc.writeFrames(packet.PingFrame{})
		tc.ignoreFrame(packet.FrameAck)
		tc.wantFrame("the client's first 1-RTT packet confirms the handshake", packet.HandshakeDoneFrame{})
		tc.discardUnread()
		ctx, cancel := contextCancelled()
		defer cancel()
		c, err := tc.listener.Accept(ctx)
		if err != nil {
			t.Fatalf("Accept: %v", err)
		}
		tc.conn = c
		tc.wantIdle("nothing more to the first client")
		third := newTestClient(tc, netip.MustParseAddrPort("198.51.100.21:7000"))
		third.writeInitial(tc)
		third.wantAnswer(tc, "no handshake in progress: message 2 without a Retry", packet.LongTypeInitial)
		if got, want := tc.listener.Stats(), (EndpointStats{RetriesSent: 1}); got != want {
			t.Fatalf("Stats() = %+v, want %+v", got, want)
		}
	})
}

// retryServerParams makes the harness server announce the connection IDs a
// server that sent a Retry with SCID scid must (RFC 9000 §7.3).
func (tc *testConn) retryServerParams(scid packet.ConnectionID) {
	tc.peerParams.OriginalDstConnID, tc.peerParams.HasOriginalDstConnID = tc.origDCID, true
	tc.peerParams.RetrySrcConnID, tc.peerParams.HasRetrySrcConnID = scid, true
}

// TestPeerClientRetry walks a client through a Retry (docs/PROTOCOL.md
// section 2.2): at once a new Initial to the Retry's SCID, carrying the
// token and a new message 1 (new ephemeral key), with the next packet
// number; retransmissions start afresh from the Retry and keep the token;
// and the handshake completes when the server's transport parameters name
// the original DCID and the Retry's SCID.
func TestPeerClientRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, clientSide)
		msg1 := tc.wantClientHello("the client starts with message 1")
		tc.wantIdle("one Initial")
		tc.advance(100 * time.Millisecond)

		scid := testRandomCID(t)
		token := []byte("a token from the harness server")
		tc.writeDatagram(tc.retryPacket(scid, token))
		tc.useRetry(scid, token)
		retryAt := time.Now()
		for i, wantPN := range []packet.PacketNumber{1, 2} {
			d := tc.readDatagram()
			if d == nil {
				t.Fatalf("Initial #%d after the Retry: nothing sent", i)
			}
			p := d.packets[0]
			if d.size < packet.MinInitialDatagramSize || p.kind != kindInitial || p.dcid != scid || !bytes.Equal(p.token, token) || p.pn != wantPN || p.scid != tc.connCID {
				t.Fatalf("Initial #%d after the Retry: %d bytes, %v to DCID %v from %v with token %q; want ≥ %d bytes, Initial pn %d to %v from %v with token %q",
					i, d.size, p, p.dcid, p.scid, p.token, packet.MinInitialDatagramSize, wantPN, scid, tc.connCID, token)
			}
			got := tc.wantClientHello("the Initial carries message 1")
			if bytes.Equal(got[:32], msg1[:32]) {
				t.Fatalf("message 1 after the Retry reuses the ephemeral key; want a new handshake")
			}
			tc.wantIdle("one Initial at a time")
			if i == 0 {
				if elapsed := time.Since(retryAt); elapsed != 0 {
					t.Fatalf("the new Initial went out %v after the Retry, want at once", elapsed)
				}
				// The old schedule would resend at 300 ms after the first
				// Initial; the new one runs from the Retry.
				tc.advanceTo(retryAt.Add(300*time.Millisecond - time.Nanosecond))
				tc.wantIdle("the retransmission schedule restarts at the Retry")
				tc.advance(time.Nanosecond)
			}
		}
		tc.retryServerParams(scid)
		tc.writeServerHello(tc.msg1)
		tc.waitDial()
		if tc.dialErr != nil {
			t.Fatalf("Dial after a Retry: %v", tc.dialErr)
		}
		p := tc.readPacket()
		if p == nil || p.kind != kind1RTT || !p.ackEliciting() {
			t.Fatalf("after message 2: got %v, want an ack-eliciting 1-RTT packet", p)
		}
		st := tc.conn.Stats()
		if st.Retries != 1 || st.AuthFailed != 0 || st.Malformed != 0 {
			t.Fatalf("Stats(): Retries %d, AuthFailed %d, Malformed %d; want 1, 0, 0", st.Retries, st.AuthFailed, st.Malformed)
		}
	})
}

// TestPeerClientIgnoresRetry: a client follows only a genuine Retry for its
// current attempt, at most one, and only before the server has sent anything
// else (RFC 9000 §17.2.5.2). Every other Retry leaves the handshake as it
// was: no new Initial, retransmissions to the same DCID with the same
// token, and a handshake that completes. Malformed and forged ones are
// counted.
func TestPeerClientIgnoresRetry(t *testing.T) {
	type expect struct {
		dcid  packet.ConnectionID // of the client's retransmission
		token []byte
	}
	tests := []struct {
		desc string
		// inject sends what the client must ignore and says where its next
		// Initial goes.
		inject                        func(tc *testConn) expect
		wantRetries                   uint64
		wantAuthFailed, wantMalformed uint64
		// wantUnroutable counts datagrams the client's endpoint could not
		// route to the connection: it routes by connection ID.
		wantUnroutable uint64
	}{{
		desc: "bad integrity tag",
		inject: func(tc *testConn) expect {
			b := tc.retryPacket(testRandomCID(tc.t), []byte("token"))
			b[len(b)-1] ^= 0x80
			tc.writeDatagram(b)
			return expect{dcid: tc.origDCID}
		},
		wantAuthFailed: 1,
	}, {
		desc: "tag over another original DCID",
		inject: func(tc *testConn) expect {
			b := packet.AppendRetry(nil, packet.Version, tc.connCID, testRandomCID(tc.t), []byte("token"))
			other := testRandomCID(tc.t)
			tag := crypto.RetryTag(other.Bytes(), b, tc.serverKey.Public())
			tc.writeDatagram(append(b, tag[:]...))
			return expect{dcid: tc.origDCID}
		},
		wantAuthFailed: 1,
	}, {
		desc: "tag under another server key",
		inject: func(tc *testConn) expect {
			other, err := crypto.GenerateKey()
			if err != nil {
				tc.t.Fatal(err)
			}
			b := packet.AppendRetry(nil, packet.Version, tc.connCID, testRandomCID(tc.t), []byte("token"))
			tag := crypto.RetryTag(tc.origDCID.Bytes(), b, other.Public())
			tc.writeDatagram(append(b, tag[:]...))
			return expect{dcid: tc.origDCID}
		},
		wantAuthFailed: 1,
	}, {
		desc: "Retry to another connection ID",
		inject: func(tc *testConn) expect {
			b := packet.AppendRetry(nil, packet.Version, testRandomCID(tc.t), testRandomCID(tc.t), []byte("token"))
			tag := crypto.RetryTag(tc.origDCID.Bytes(), b, tc.serverKey.Public())
			tc.writeDatagram(append(b, tag[:]...))
			return expect{dcid: tc.origDCID}
		},
		wantUnroutable: 1,
	}, {
		desc: "Retry SCID equal to the original DCID",
		inject: func(tc *testConn) expect {
			tc.writeDatagram(tc.retryPacket(tc.origDCID, []byte("token")))
			return expect{dcid: tc.origDCID}
		},
		wantMalformed: 1,
	}, {
		desc: "token too long for an Initial",
		inject: func(tc *testConn) expect {
			tc.writeDatagram(tc.retryPacket(testRandomCID(tc.t), make([]byte, maxRetryTokenLen+1)))
			return expect{dcid: tc.origDCID}
		},
		wantMalformed: 1,
	}, {
		desc: "Retry without a token",
		inject: func(tc *testConn) expect {
			tc.writeDatagram(tc.retryPacket(testRandomCID(tc.t), nil))
			return expect{dcid: tc.origDCID}
		},
		wantMalformed: 1,
	}, {
		desc: "truncated Retry",
		inject: func(tc *testConn) expect {
			b := tc.retryPacket(testRandomCID(tc.t), []byte("token"))
			tc.writeDatagram(b[:1+4+1+tc.connCID.Len()+1+3])
			return expect{dcid: tc.origDCID}
		},
		wantMalformed: 1,
	}, {
		desc: "genuine Retry from another address",
		inject: func(tc *testConn) expect {
			tc.writeDatagramFrom(netip.MustParseAddrPort("203.0.113.5:4433"), tc.retryPacket(testRandomCID(tc.t), []byte("token")))
			return expect{dcid: tc.origDCID}
		},
	}, {
		desc: "second Retry",
		inject: func(tc *testConn) expect {
			first, token := testRandomCID(tc.t), []byte("first token")
			tc.writeDatagram(tc.retryPacket(first, token))
			tc.useRetry(first, token)
			tc.wantClientHello("the first Retry is followed")
			tc.wantIdle("one Initial")
			tc.writeDatagram(tc.retryPacket(testRandomCID(tc.t), []byte("second token")))
			return expect{dcid: first, token: token}
		},
		wantRetries: 1,
	}, {
		desc: "Retry after an Initial from the server",
		inject: func(tc *testConn) expect {
			tc.writeInitialFrames(packet.PingFrame{})
			tc.writeDatagram(tc.retryPacket(testRandomCID(tc.t), []byte("token")))
			return expect{dcid: tc.peerCID} // the server's Initial gave its CID
		},
	}}
	for _, test := range tests {
		t.Run(test.desc, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tc := startTestConn(t, clientSide)
				tc.wantClientHello("the client starts with message 1")
				want := test.inject(tc)
				tc.wantIdle("the client sends nothing in answer")
				if !tc.advanceUntilSent(3 * time.Second) {
					t.Fatalf("no retransmission of message 1")
				}
				msg1 := tc.wantClientHello("the retransmission carries message 1")
				if p := tc.lastPkt; p.dcid != want.dcid || !bytes.Equal(p.token, want.token) {
					t.Fatalf("retransmission to DCID %v with token %q, want DCID %v with token %q", p.dcid, p.token, want.dcid, want.token)
				}
				if test.wantRetries > 0 {
					tc.retryServerParams(tc.retrySCID)
				}
				tc.writeServerHello(msg1)
				tc.waitDial()
				if tc.dialErr != nil {
					t.Fatalf("Dial: %v", tc.dialErr)
				}
				st := tc.conn.Stats()
				if st.Retries != test.wantRetries || st.AuthFailed != test.wantAuthFailed || st.Malformed != test.wantMalformed {
					t.Fatalf("Stats(): Retries %d, AuthFailed %d, Malformed %d; want %d, %d, %d",
						st.Retries, st.AuthFailed, st.Malformed, test.wantRetries, test.wantAuthFailed, test.wantMalformed)
				}
				if got := tc.conn.ep.Stats().Unroutable; got != test.wantUnroutable {
					t.Fatalf("endpoint Stats().Unroutable = %d, want %d", got, test.wantUnroutable)
				}
			})
		})
	}
}

// TestPeerClientDropsServerInitialWithToken: only clients send tokens, so
// a client drops a server Initial that carries one and counts it (RFC 9000
// §17.2.2), even one holding a genuine message 2; the same message without a
// token completes the handshake.
func TestPeerClientDropsServerInitialWithToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, clientSide)
		msg1 := tc.wantClientHello("the client starts with message 1")
		tc.token = []byte("servers send no tokens")
		tc.writeServerHello(msg1)
		if tc.dialReturned() {
			t.Fatalf("Dial returned after a server Initial with a token: %v", tc.dialErr)
		}
		tc.wantIdle("the Initial is dropped unanswered")
		tc.token = nil
		tc.writeInitialFrames(packet.CryptoFrame{Data: tc.msg2})
		tc.waitDial()
		if tc.dialErr != nil {
			t.Fatalf("Dial: %v", tc.dialErr)
		}
		if got := tc.conn.Stats().Malformed; got != 1 {
			t.Fatalf("Stats().Malformed = %d, want 1 (the Initial with a token)", got)
		}
	})
}

// TestPeerClientRetryTransportParams: the client checks the connection IDs
// in the server's transport parameters against the Retry it followed, or
// did not (RFC 9000 §7.3); a mismatch closes the handshake with
// TRANSPORT_PARAMETER_ERROR, sent in an Initial that still carries the
// token, and Dial fails with that error.
func TestPeerClientRetryTransportParams(t *testing.T) {
	tests := []struct {
		desc    string
		retry   bool
		params  func(tc *testConn, p *packet.TransportParameters)
		wantErr bool
	}{{
		desc: "no Retry, original_destination_connection_id matching",
		params: func(tc *testConn, p *packet.TransportParameters) {
			p.OriginalDstConnID, p.HasOriginalDstConnID = tc.origDCID, true
		},
	}, {
		desc: "no Retry, original_destination_connection_id mismatched",
		params: func(tc *testConn, p *packet.TransportParameters) {
			p.OriginalDstConnID, p.HasOriginalDstConnID = testRandomCID(tc.t), true
		},
		wantErr: true,
	}, {
		desc: "no Retry, retry_source_connection_id present",
		params: func(tc *testConn, p *packet.TransportParameters) {
			p.RetrySrcConnID, p.HasRetrySrcConnID = testRandomCID(tc.t), true
		},
		wantErr: true,
	}, {
		desc:   "Retry, both present and matching",
		retry:  true,
		params: func(tc *testConn, p *packet.TransportParameters) {},
	}, {
		desc:    "Retry, retry_source_connection_id missing",
		retry:   true,
		params:  func(tc *testConn, p *packet.TransportParameters) { p.HasRetrySrcConnID = false },
		wantErr: true,
	}, {
		desc:    "Retry, retry_source_connection_id mismatched",
		retry:   true,
		params:  func(tc *testConn, p *packet.TransportParameters) { p.RetrySrcConnID = testRandomCID(tc.t) },
		wantErr: true,
	}, {
		desc:    "Retry, original_destination_connection_id missing",
		retry:   true,
		params:  func(tc *testConn, p *packet.TransportParameters) { p.HasOriginalDstConnID = false },
		wantErr: true,
	}, {
		desc:    "Retry, original_destination_connection_id mismatched",
		retry:   true,
		params:  func(tc *testConn, p *packet.TransportParameters) { p.OriginalDstConnID = testRandomCID(tc.t) },
		wantErr: true,
	}}
	for _, test := range tests {
		t.Run(test.desc, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tc := startTestConn(t, clientSide)
				msg1 := tc.wantClientHello("the client starts with message 1")
				var token []byte
				if test.retry {
					scid := testRandomCID(t)
					token = []byte("token")
					tc.writeDatagram(tc.retryPacket(scid, token))
					tc.useRetry(scid, token)
					msg1 = tc.wantClientHello("the Retry is followed")
					tc.retryServerParams(scid)
				}
				test.params(tc, &tc.peerParams)
				tc.writeServerHello(msg1)
				if !test.wantErr {
					tc.waitDial()
					if tc.dialErr != nil {
						t.Fatalf("Dial: %v", tc.dialErr)
					}
					return
				}
				f := tc.wantFrameType("a wrong connection ID closes the handshake", packet.FrameConnectionClose).(packet.ConnectionCloseFrame)
				if p := tc.lastPkt; p.kind != kindInitial || !bytes.Equal(p.token, token) {
					t.Fatalf("CONNECTION_CLOSE in %v with token %q, want an Initial with token %q", p, p.token, token)
				}
				if packet.TransportErrorCode(f.ErrorCode) != packet.TransportParameterError || f.FrameType != packet.FrameCrypto {
					t.Fatalf("got %s, want TRANSPORT_PARAMETER_ERROR in a CRYPTO frame", formatFrame(f))
				}
				for i := 0; i < 10 && !tc.dialReturned(); i++ {
					tc.advance(time.Second) // the closing period
				}
				var ce *TransportError
				if !errors.As(tc.dialErr, &ce) || ce.Remote || ce.Code != packet.TransportParameterError {
					t.Fatalf("Dial error = %v, want a local *TransportError with TRANSPORT_PARAMETER_ERROR", tc.dialErr)
				}
				if tc.conn != nil {
					t.Fatalf("Dial returned a connection with its error")
				}
			})
		})
	}
}
