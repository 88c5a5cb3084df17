package transport

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// rawFrame is a frame given as its encoded bytes, for the malformed and
// unknown frames the packet package refuses to build.
type rawFrame []byte

func (f rawFrame) Append(b []byte) []byte { return append(b, f...) }
func (f rawFrame) Len() int               { return len(f) }
func (f rawFrame) Type() packet.FrameType {
	t, _, _ := packet.ParseVarint(f)
	return packet.FrameType(t)
}

// TestPeerProtocolErrors: frames a peer must not send close the connection
// with CONNECTION_CLOSE (type 0x1c) carrying the transport error code and
// the offending frame's type (RFC 9000 §§12.4, 19, 20; docs/PROTOCOL.md
// section 5).
func TestPeerProtocolErrors(t *testing.T) {
	tests := []struct {
		desc      string
		rule      string    // the requirement, for the failure message
		only      *connSide // nil: both sides
		config    func(c *Config)
		setup     func(tc *testConn)
		frames    func(tc *testConn) []packet.Frame
		wantCode  packet.TransportErrorCode
		wantFrame packet.FrameType // matched with frameTypeMatches
	}{{
		desc:      "CRYPTO in a 1-RTT packet",
		rule:      "docs/PROTOCOL.md section 5: CRYPTO only in Initial packets",
		frames:    func(tc *testConn) []packet.Frame { return []packet.Frame{packet.CryptoFrame{Data: []byte("hi")}} },
		wantCode:  packet.ProtocolViolation,
		wantFrame: packet.FrameCrypto,
	}, {
		desc:      "HANDSHAKE_DONE from the client",
		rule:      "RFC 9000 §19.20: a server MUST treat HANDSHAKE_DONE as PROTOCOL_VIOLATION",
		only:      ptr(serverSide),
		frames:    func(tc *testConn) []packet.Frame { return []packet.Frame{packet.HandshakeDoneFrame{}} },
		wantCode:  packet.ProtocolViolation,
		wantFrame: packet.FrameHandshakeDone,
	}, {
		desc:      "NEW_TOKEN from the client",
		rule:      "RFC 9000 §19.7: a server MUST treat NEW_TOKEN as PROTOCOL_VIOLATION",
		only:      ptr(serverSide),
		frames:    func(tc *testConn) []packet.Frame { return []packet.Frame{packet.NewTokenFrame{Token: []byte("t")}} },
		wantCode:  packet.ProtocolViolation,
		wantFrame: packet.FrameNewToken,
	}, {
		desc: "STREAM on a stream the Conn has not opened",
		rule: "RFC 9000 §19.8: STREAM for a locally initiated stream not yet created is STREAM_STATE_ERROR",
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{packet.StreamFrame{StreamID: tc.connStreamID(3, true), Data: []byte("x")}}
		},
		wantCode:  packet.StreamStateError,
		wantFrame: packet.FrameStream,
	}, {
		desc: "STREAM beyond the stream limit",
		rule: "RFC 9000 §4.6: a stream beyond the limit is STREAM_LIMIT_ERROR",
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{packet.StreamFrame{StreamID: tc.peerStreamID(100, true), Data: []byte("x")}}
		},
		wantCode:  packet.StreamLimitError,
		wantFrame: packet.FrameStream,
	}, {
		desc:  "STREAM on the Conn's send-only stream",
		rule:  "RFC 9000 §19.8: STREAM for a send-only stream is STREAM_STATE_ERROR",
		setup: func(tc *testConn) { tc.openStream(false) },
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{packet.StreamFrame{StreamID: tc.connStreamID(0, false), Data: []byte("x")}}
		},
		wantCode:  packet.StreamStateError,
		wantFrame: packet.FrameStream,
	}, {
		desc:  "RESET_STREAM on the Conn's send-only stream",
		rule:  "RFC 9000 §19.4: RESET_STREAM for a send-only stream is STREAM_STATE_ERROR",
		setup: func(tc *testConn) { tc.openStream(false) },
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{packet.ResetStreamFrame{StreamID: tc.connStreamID(0, false), ErrorCode: 1}}
		},
		wantCode:  packet.StreamStateError,
		wantFrame: packet.FrameResetStream,
	}, {
		desc: "MAX_STREAM_DATA for the Conn's receive-only stream",
		rule: "RFC 9000 §19.10: MAX_STREAM_DATA for a receive-only stream is STREAM_STATE_ERROR",
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{packet.MaxStreamDataFrame{StreamID: tc.peerStreamID(0, false), Max: 1 << 20}}
		},
		wantCode:  packet.StreamStateError,
		wantFrame: packet.FrameMaxStreamData,
	}, {
		desc: "STOP_SENDING for the Conn's receive-only stream",
		rule: "RFC 9000 §19.5: STOP_SENDING for a receive-only stream is STREAM_STATE_ERROR",
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{packet.StopSendingFrame{StreamID: tc.peerStreamID(0, false), ErrorCode: 1}}
		},
		wantCode:  packet.StreamStateError,
		wantFrame: packet.FrameStopSending,
	}, {
		desc: "RESET_STREAM changing the final size",
		rule: "RFC 9000 §4.5: a changed final size is FINAL_SIZE_ERROR",
		frames: func(tc *testConn) []packet.Frame {
			id := tc.peerStreamID(0, true)
			return []packet.Frame{
				packet.StreamFrame{StreamID: id, Data: []byte("0123456789"), Fin: true},
				packet.ResetStreamFrame{StreamID: id, ErrorCode: 1, FinalSize: 5},
			}
		},
		wantCode:  packet.FinalSizeError,
		wantFrame: packet.FrameResetStream,
	}, {
		desc:  "CONSUMED beyond the bytes sent",
		rule:  "docs/PROTOCOL.md section 7: CONSUMED beyond the bytes sent is PROTOCOL_VIOLATION",
		setup: func(tc *testConn) { tc.openStream(true) },
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{packet.ConsumedFrame{StreamID: tc.connStreamID(0, true), Offset: 1}}
		},
		wantCode:  packet.ProtocolViolation,
		wantFrame: packet.FrameConsumed,
	}, {
		desc:      "unknown frame type",
		rule:      "docs/PROTOCOL.md section 5: an unknown type is FRAME_ENCODING_ERROR",
		frames:    func(tc *testConn) []packet.Frame { return []packet.Frame{rawFrame{0x21}} },
		wantCode:  packet.FrameEncodingError,
		wantFrame: 0x21,
	}, {
		desc:      "frame type not minimally encoded",
		rule:      "docs/PROTOCOL.md section 5: a type must use its minimal encoding",
		frames:    func(tc *testConn) []packet.Frame { return []packet.Frame{rawFrame{0x40, 0x01}} },
		wantCode:  packet.FrameEncodingError,
		wantFrame: packet.FramePing,
	}, {
		desc:      "reserved FEC_SOURCE_INFO frame",
		rule:      "docs/PROTOCOL.md section 5: reserved types are FRAME_ENCODING_ERROR",
		frames:    func(tc *testConn) []packet.Frame { return []packet.Frame{rawFrame{0x31, 0, 0, 0}} },
		wantCode:  packet.FrameEncodingError,
		wantFrame: packet.FrameFECSourceInfo,
	}, {
		desc:   "FEC_REPAIR without the fec transport parameter",
		rule:   "docs/PROTOCOL.md section 10: FEC_REPAIR to an endpoint that did not announce fec is PROTOCOL_VIOLATION",
		config: func(c *Config) { c.FEC.Disable = true },
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{packet.FECRepairFrame{Sources: []packet.PacketNumber{0}, Symbol: []byte{0, 1, 1}}}
		},
		wantCode:  packet.ProtocolViolation,
		wantFrame: packet.FrameFECRepair,
	}, {
		desc:      "malformed FEC_REPAIR frame",
		rule:      "docs/PROTOCOL.md section 10: an FEC_REPAIR without sources is FRAME_ENCODING_ERROR",
		frames:    func(tc *testConn) []packet.Frame { return []packet.Frame{rawFrame{0x30, 0, 0, 0}} },
		wantCode:  packet.FrameEncodingError,
		wantFrame: packet.FrameFECRepair,
	}, {
		desc:      "truncated ACK",
		rule:      "docs/PROTOCOL.md section 5: a truncated frame is FRAME_ENCODING_ERROR",
		frames:    func(tc *testConn) []packet.Frame { return []packet.Frame{rawFrame{0x02, 0x05}} },
		wantCode:  packet.FrameEncodingError,
		wantFrame: packet.FrameAck,
	}, {
		desc: "MAX_STREAMS above 2^60",
		rule: "RFC 9000 §19.11: a count above 2^60 is FRAME_ENCODING_ERROR",
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{rawFrame(packet.AppendVarint([]byte{0x12}, 1<<60+1))}
		},
		wantCode:  packet.FrameEncodingError,
		wantFrame: packet.FrameMaxStreamsBidi,
	}, {
		desc: "ACK_FREQUENCY asking for less than min_ack_delay",
		rule: "docs/PROTOCOL.md section 5, \"ACK frequency\": a Requested Max Ack Delay below min_ack_delay is PROTOCOL_VIOLATION",
		frames: func(tc *testConn) []packet.Frame {
			return []packet.Frame{packet.AckFrequencyFrame{AckElicitingThreshold: 9, RequestedMaxAckDelay: minAckDelay - time.Microsecond, ReorderingThreshold: 1}}
		},
		wantCode:  packet.ProtocolViolation,
		wantFrame: packet.FrameAckFrequency,
	}, {
		desc:      "truncated ACK_FREQUENCY",
		rule:      "docs/PROTOCOL.md section 5: a truncated frame is FRAME_ENCODING_ERROR",
		frames:    func(tc *testConn) []packet.Frame { return []packet.Frame{rawFrame{0x33, 0x00, 0x09, 0x44}} },
		wantCode:  packet.FrameEncodingError,
		wantFrame: packet.FrameAckFrequency,
	}, {
		desc:      "a packet without frames",
		rule:      "RFC 9000 §12.4: a packet without frames is PROTOCOL_VIOLATION",
		frames:    func(tc *testConn) []packet.Frame { return nil },
		wantCode:  packet.ProtocolViolation,
		wantFrame: 0,
	}}
	for _, test := range tests {
		t.Run(test.desc, func(t *testing.T) {
			for _, side := range []connSide{clientSide, serverSide} {
				if test.only != nil && *test.only != side {
					continue
				}
				t.Run(side.String(), func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						opts := []any{}
						if test.config != nil {
							opts = append(opts, test.config)
						}
						tc := newTestConn(t, side, opts...)
						if test.setup != nil {
							test.setup(tc)
						}
						tc.ignoreFrame(packet.FrameAck)
						tc.writeFrames(test.frames(tc)...)
						f := tc.wantFrameType(test.rule, packet.FrameConnectionClose).(packet.ConnectionCloseFrame)
						if packet.TransportErrorCode(f.ErrorCode) != test.wantCode || !frameTypeMatches(f.FrameType, test.wantFrame) {
							t.Fatalf("%s:\ngot  %s\nwant CONNECTION_CLOSE(0x1c) %v in frame type %#x", test.rule, formatFrame(f), test.wantCode, uint64(test.wantFrame))
						}
						tc.wantIdle("one CONNECTION_CLOSE")
					})
				})
			}
		})
	}
}

// TestPeerReservedHeaderBits: a 1-RTT packet that authenticates but has the
// reserved header bits set is a PROTOCOL_VIOLATION (RFC 9000 §17.3.1).
func TestPeerReservedHeaderBits(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side)
		tc.ignoreFrame(packet.FrameAck)
		tc.reservedBits = 0x18
		tc.writeFrames(packet.PingFrame{})
		f := tc.wantFrameType("reserved bits close the connection", packet.FrameConnectionClose).(packet.ConnectionCloseFrame)
		if packet.TransportErrorCode(f.ErrorCode) != packet.ProtocolViolation {
			t.Fatalf("got %s, want PROTOCOL_VIOLATION", formatFrame(f))
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestPeerKeyUpdateTooSoon: a peer that updates its keys a second time
// before we sent a packet in the phase its first update started (so
// before it could have had our acknowledgement) is closed with
// KEY_UPDATE_ERROR (RFC 9001 §6.2, docs/PROTOCOL.md section 4.6).
func TestPeerKeyUpdateTooSoon(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side)
		tc.ignoreFrame(packet.FrameAck)
		// The peer's harness keys enforce the rule on the peer's side
		// too: pretend each update's packet was acknowledged.
		for range 2 {
			tc.keys.OnAcked(uint64(tc.peerPN - 1))
			if err := tc.keys.InitiateKeyUpdate(); err != nil {
				t.Fatal(err)
			}
			tc.writeFrames(packet.PingFrame{})
		}
		f := tc.wantFrameType("the second update closes the connection", packet.FrameConnectionClose).(packet.ConnectionCloseFrame)
		if packet.TransportErrorCode(f.ErrorCode) != packet.KeyUpdateError {
			t.Fatalf("got %s, want KEY_UPDATE_ERROR", formatFrame(f))
		}
	})
}

// TestPeerTrailingZeroPadding: zero bytes after the last long-header
// packet of a datagram are padding (their Fixed Bit is clear), not a
// packet (docs/PROTOCOL.md section 2): the Initial before them counts and
// nothing is dropped. (A 1-RTT packet has no length: it runs to the end of
// its datagram, so nothing can follow it.)
func TestPeerTrailingZeroPadding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := startTestConn(t, clientSide)
		tc.initialZeros = true
		msg1 := tc.wantClientHello("the client starts the handshake")
		tc.writeServerHello(msg1)
		tc.waitDial()
		if !tc.dialReturned() || tc.dialErr != nil {
			t.Fatalf("Dial: returned %v, error %v", tc.dialReturned(), tc.dialErr)
		}
		if st := tc.conn.Stats(); st.Malformed != 0 || st.AuthFailed != 0 {
			t.Fatalf("message 2 with trailing zeros: %d malformed, %d failed authentication; want none", st.Malformed, st.AuthFailed)
		}
	})
}
