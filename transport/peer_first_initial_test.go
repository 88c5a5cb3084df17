package transport

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// wantInitialClose reads the server's answer to a first Initial that cannot
// start a handshake: an Initial packet with CONNECTION_CLOSE carrying code
// and frame type (docs/PROTOCOL.md section 4.5, "Errors before a
// connection"), and nothing else.
func (tc *testConn) wantInitialClose(reason string, code packet.TransportErrorCode, ft packet.FrameType) {
	tc.t.Helper()
	f, ok := tc.wantFrameType(reason, packet.FrameConnectionClose).(packet.ConnectionCloseFrame)
	if !ok || tc.lastPkt.kind != kindInitial {
		tc.t.Fatalf("%s: got %v in a %v packet, want CONNECTION_CLOSE in an Initial", reason, formatFrame(f), tc.lastPkt.kind)
	}
	if f.Application || packet.TransportErrorCode(f.ErrorCode) != code || f.FrameType != ft {
		tc.t.Fatalf("%s: CONNECTION_CLOSE code %v frame %v (%q), want code %v frame %v", reason,
			packet.TransportErrorCode(f.ErrorCode), f.FrameType, f.Reason, code, ft)
	}
	if tc.lastPkt.dcid != tc.peerCID {
		tc.t.Fatalf("%s: the close goes to DCID %v, want the client's SCID %v", reason, tc.lastPkt.dcid, tc.peerCID)
	}
	if tc.lastDgram.size >= packet.MinInitialDatagramSize {
		tc.t.Fatalf("%s: the answer is %d bytes, not smaller than the %d-byte Initial it answers", reason, tc.lastDgram.size, packet.MinInitialDatagramSize)
	}
	tc.wantIdle(reason + ": nothing else")
	if n := tc.listenerStateNow().conns; n != 0 {
		tc.t.Fatalf("%s: the listener holds %d connections, want none", reason, n)
	}
}

// TestPeerServerFirstInitialErrors: a first Initial that opens with the
// server's keys but cannot start a handshake is answered with a
// CONNECTION_CLOSE saying why, so the client fails at once instead of
// waiting out its handshake timeout; the server keeps no state.
func TestPeerServerFirstInitialErrors(t *testing.T) {
	tests := []struct {
		desc     string
		params   func(*packet.TransportParameters)
		frames   func(tc *testConn) []packet.Frame
		wantCode packet.TransportErrorCode
		wantType packet.FrameType
	}{{
		desc:     "initial_source_connection_id missing",
		params:   func(p *packet.TransportParameters) { p.HasInitialSrcConnID = false },
		wantCode: packet.TransportParameterError, wantType: packet.FrameCrypto,
	}, {
		desc: "initial_source_connection_id not the Initial's SCID",
		params: func(p *packet.TransportParameters) {
			p.InitialSrcConnID, _ = packet.NewConnectionID([]byte{1, 2, 3, 4, 5, 6, 7, 8})
		},
		wantCode: packet.TransportParameterError, wantType: packet.FrameCrypto,
	}, {
		desc:     "a server-only parameter from the client",
		params:   func(p *packet.TransportParameters) { p.HasStatelessResetToken = true },
		wantCode: packet.TransportParameterError, wantType: packet.FrameCrypto,
	}, {
		desc: "a STREAM frame beside message 1",
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{packet.CryptoFrame{Data: tc.clientHello()}, packet.StreamFrame{StreamID: 0, Data: []byte("early")}}
		},
		wantCode: packet.ProtocolViolation, wantType: packet.FrameStream | 0x02,
	}, {
		desc: "HANDSHAKE_DONE from the client",
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{packet.HandshakeDoneFrame{}, packet.CryptoFrame{Data: tc.clientHello()}}
		},
		wantCode: packet.ProtocolViolation, wantType: packet.FrameHandshakeDone,
	}, {
		desc: "message 1 with a gap",
		frames: func(tc *testConn) []packet.Frame {
			m := tc.clientHello()
			return []packet.Frame{packet.CryptoFrame{Data: m[:20]}, packet.CryptoFrame{Offset: 30, Data: m[30:]}}
		},
		wantCode: packet.ProtocolViolation, wantType: packet.FrameCrypto,
	}, {
		desc: "message 1 not at offset 0",
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{packet.CryptoFrame{Offset: 1, Data: tc.clientHello()}}
		},
		wantCode: packet.ProtocolViolation, wantType: packet.FrameCrypto,
	}, {
		desc: "overlapping CRYPTO frames that disagree",
		frames: func(tc *testConn) []packet.Frame {
			m := tc.clientHello()
			other := append([]byte(nil), m[10:40]...)
			other[5] ^= 1
			return []packet.Frame{packet.CryptoFrame{Data: m}, packet.CryptoFrame{Offset: 10, Data: other}}
		},
		wantCode: packet.ProtocolViolation, wantType: packet.FrameCrypto,
	}}
	for _, test := range tests {
		t.Run(test.desc, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var opts []any
				if test.params != nil {
					opts = append(opts, test.params)
				}
				tc := startTestConn(t, serverSide, opts...)
				if test.frames != nil {
					tc.writeInitialFrames(test.frames(tc)...)
				} else {
					tc.writeClientHello()
				}
				tc.wantInitialClose("the server says why at once", test.wantCode, test.wantType)
			})
		})
	}
}

// TestPeerServerStaleTimestamp: a message 1 from a client whose clock is
// off by more than the replay window is refused with HANDSHAKE_FAILED, so
// the client can report it, rather than ignored.
func TestPeerServerStaleTimestamp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, serverSide)
		dcid := tc.initialDCID()
		hs, msg1, err := crypto.NewClientHandshake(crypto.ClientConfig{
			StaticKey:       tc.clientKey,
			ServerKey:       tc.serverKey.Public(),
			TransportParams: tc.peerParams.Append(nil),
		}, dcid.Bytes(), time.Now().Add(-crypto.DefaultReplayWindow-time.Second))
		if err != nil {
			t.Fatal(err)
		}
		tc.clientHS, tc.msg1 = hs, msg1
		tc.writeClientHello()
		tc.wantInitialClose("a clock outside the replay window is reported", packet.HandshakeFailed, packet.FrameCrypto)
		if got := tc.listener.Stats().HandshakesRejected; got != 1 {
			t.Fatalf("HandshakesRejected = %d, want 1", got)
		}
	})
}

// TestPeerServerSplitMessage1: message 1 may come in several CRYPTO frames
// of one Initial packet, in any order and overlapping (docs/PROTOCOL.md
// section 4.5); the handshake completes as with one frame.
func TestPeerServerSplitMessage1(t *testing.T) {
	for _, test := range []struct {
		desc  string
		split func(m []byte) []packet.Frame
	}{
		{"two frames in order", func(m []byte) []packet.Frame {
			return []packet.Frame{packet.CryptoFrame{Data: m[:50]}, packet.CryptoFrame{Offset: 50, Data: m[50:]}}
		}},
		{"three frames reversed", func(m []byte) []packet.Frame {
			return []packet.Frame{packet.CryptoFrame{Offset: 90, Data: m[90:]}, packet.CryptoFrame{Offset: 40, Data: m[40:90]}, packet.CryptoFrame{Data: m[:40]}}
		}},
		{"overlapping frames that agree", func(m []byte) []packet.Frame {
			return []packet.Frame{packet.CryptoFrame{Data: m[:60]}, packet.PingFrame{}, packet.CryptoFrame{Offset: 30, Data: m[30:]}}
		}},
	} {
		t.Run(test.desc, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tc := startTestConn(t, serverSide)
				tc.writeInitialFrames(test.split(tc.clientHello())...)
				tc.wantServerHello("the split message 1 is answered with message 2")
				tc.writeFrames(packet.PingFrame{})
				tc.ignoreFrame(packet.FrameAck)
				tc.wantFrame("the handshake completes", packet.HandshakeDoneFrame{})
			})
		})
	}
}

// TestPeerServerDuplicatedFirstInitial: a network that duplicates the
// client's first datagram must not make the server treat the copy as a
// replay (docs/PROTOCOL.md section 4.5): both copies, arriving together,
// get message 2, and one connection exists.
func TestPeerServerDuplicatedFirstInitial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, serverSide)
		d := tc.sealInitial([]packet.Frame{packet.CryptoFrame{Data: tc.clientHello()}}, packet.MinInitialDatagramSize)
		// Both copies are queued before the endpoint's reader runs, so it
		// reads them in one batch while the first is still with the
		// handshake workers.
		tc.bind.inject(tc.peerAddr, d, 0)
		tc.bind.inject(tc.peerAddr, d, 0)
		tc.wantServerHello("the first copy is answered with message 2")
		tc.wantServerHello("so is the second")
		tc.wantIdle("two answers to two copies")
		if st := tc.listener.Stats(); st.HandshakesRejected != 0 || st.BadInitials != 0 {
			t.Fatalf("Stats() = %+v: a copy was rejected", st)
		}
		if n := tc.listenerStateNow().conns; n != 1 {
			t.Fatalf("the listener holds %d connections, want 1", n)
		}
		// And a copy that arrives once the connection exists: message 2 again.
		tc.writeDatagram(d)
		tc.wantServerHello("a later copy is answered too")
	})
}
