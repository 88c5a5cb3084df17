package packet

import "strconv"

// FrameType is a frame's type number on the wire (docs/PROTOCOL.md, "Frames").
// Types 0x00–0x1e mean what they mean in RFC 9000 §19; 0x30 and above are
// limpet's own.
type FrameType uint64

// The frame types of limpet v1 (docs/PROTOCOL.md section 5).
const (
	FramePadding            FrameType = 0x00
	FramePing               FrameType = 0x01
	FrameAck                FrameType = 0x02
	FrameAckECN             FrameType = 0x03
	FrameResetStream        FrameType = 0x04
	FrameStopSending        FrameType = 0x05
	FrameCrypto             FrameType = 0x06
	FrameNewToken           FrameType = 0x07
	FrameStream             FrameType = 0x08 // 0x08–0x0f: low bits are OFF, LEN, FIN
	FrameMaxData            FrameType = 0x10
	FrameMaxStreamData      FrameType = 0x11
	FrameMaxStreamsBidi     FrameType = 0x12
	FrameMaxStreamsUni      FrameType = 0x13
	FrameDataBlocked        FrameType = 0x14
	FrameStreamDataBlocked  FrameType = 0x15
	FrameStreamsBlockedBidi FrameType = 0x16
	FrameStreamsBlockedUni  FrameType = 0x17
	FrameNewConnectionID    FrameType = 0x18
	FrameRetireConnectionID FrameType = 0x19
	FramePathChallenge      FrameType = 0x1a
	FramePathResponse       FrameType = 0x1b
	FrameConnectionClose    FrameType = 0x1c // transport error
	FrameConnectionCloseApp FrameType = 0x1d // application error
	FrameHandshakeDone      FrameType = 0x1e

	// Limpet extensions.
	FrameFECRepair     FrameType = 0x30 // Reed-Solomon repair symbol, once FEC is negotiated
	FrameFECSourceInfo FrameType = 0x31 // reserved, unused: FEC_REPAIR lists its sources itself
	FrameConsumed      FrameType = 0x32 // delivery receipt: bytes the application read
	FrameAckFrequency  FrameType = 0x33 // how often the peer should acknowledge, once min_ack_delay is announced
	FrameImmediateAck  FrameType = 0x34 // acknowledge this packet at once
)

// Stream frame type bits (RFC 9000 §19.8).
const (
	streamBitFIN = 0x01
	streamBitLEN = 0x02
	streamBitOFF = 0x04
)

// IsStream reports whether t is one of the eight STREAM frame types.
func (t FrameType) IsStream() bool { return t >= 0x08 && t <= 0x0f }

// Known reports whether t is a frame type of limpet v1. The reserved 0x31
// is not: like any unknown type it is a FRAME_ENCODING_ERROR
// (docs/PROTOCOL.md section 5).
func (t FrameType) Known() bool {
	return t <= FrameHandshakeDone || t == FrameFECRepair || (t >= FrameConsumed && t <= FrameImmediateAck)
}

// AckEliciting reports whether a packet carrying a frame of type t must be
// acknowledged: every frame except ACK, PADDING and CONNECTION_CLOSE is
// (docs/PROTOCOL.md section 5, RFC 9002 §2).
func (t FrameType) AckEliciting() bool {
	switch t {
	case FramePadding, FrameAck, FrameAckECN, FrameConnectionClose, FrameConnectionCloseApp:
		return false
	}
	return true
}

// AllowedInInitial reports whether a frame of type t may appear in an
// Initial packet: CRYPTO, ACK, PADDING, PING and the transport
// CONNECTION_CLOSE. Anything else there is a PROTOCOL_VIOLATION
// (docs/PROTOCOL.md section 2.1).
func (t FrameType) AllowedInInitial() bool {
	switch t {
	case FrameCrypto, FrameAck, FrameAckECN, FramePadding, FramePing, FrameConnectionClose:
		return true
	}
	return false
}

// String is the frame's name as RFC 9000 and docs/PROTOCOL.md spell it;
// both STREAM variants and both kinds of ACK, MAX_STREAMS, STREAMS_BLOCKED
// and CONNECTION_CLOSE share a name.
func (t FrameType) String() string {
	if t.IsStream() {
		return "STREAM"
	}
	switch t {
	case FramePadding:
		return "PADDING"
	case FramePing:
		return "PING"
	case FrameAck, FrameAckECN:
		return "ACK"
	case FrameResetStream:
		return "RESET_STREAM"
	case FrameStopSending:
		return "STOP_SENDING"
	case FrameCrypto:
		return "CRYPTO"
	case FrameNewToken:
		return "NEW_TOKEN"
	case FrameMaxData:
		return "MAX_DATA"
	case FrameMaxStreamData:
		return "MAX_STREAM_DATA"
	case FrameMaxStreamsBidi, FrameMaxStreamsUni:
		return "MAX_STREAMS"
	case FrameDataBlocked:
		return "DATA_BLOCKED"
	case FrameStreamDataBlocked:
		return "STREAM_DATA_BLOCKED"
	case FrameStreamsBlockedBidi, FrameStreamsBlockedUni:
		return "STREAMS_BLOCKED"
	case FrameNewConnectionID:
		return "NEW_CONNECTION_ID"
	case FrameRetireConnectionID:
		return "RETIRE_CONNECTION_ID"
	case FramePathChallenge:
		return "PATH_CHALLENGE"
	case FramePathResponse:
		return "PATH_RESPONSE"
	case FrameConnectionClose, FrameConnectionCloseApp:
		return "CONNECTION_CLOSE"
	case FrameHandshakeDone:
		return "HANDSHAKE_DONE"
	case FrameFECRepair:
		return "FEC_REPAIR"
	case FrameFECSourceInfo:
		return "FEC_SOURCE_INFO"
	case FrameConsumed:
		return "CONSUMED"
	case FrameAckFrequency:
		return "ACK_FREQUENCY"
	case FrameImmediateAck:
		return "IMMEDIATE_ACK"
	}
	return "FRAME(0x" + strconv.FormatUint(uint64(t), 16) + ")"
}
