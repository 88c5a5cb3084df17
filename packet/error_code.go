package packet

import "strconv"

// TransportErrorCode is the error code of a CONNECTION_CLOSE frame of type
// 0x1c (docs/PROTOCOL.md section 8). Values up to 0x10 are RFC 9000 §20.1's;
// limpet's handshake failures use 0x0100 and up, in place of QUIC's
// CRYPTO_ERROR range, since there is no TLS alert to carry.
type TransportErrorCode uint64

// Transport error codes (RFC 9000 §20.1; docs/PROTOCOL.md section 8).
const (
	NoError                 TransportErrorCode = 0x00
	InternalError           TransportErrorCode = 0x01
	ConnectionRefused       TransportErrorCode = 0x02
	FlowControlError        TransportErrorCode = 0x03
	StreamLimitError        TransportErrorCode = 0x04
	StreamStateError        TransportErrorCode = 0x05
	FinalSizeError          TransportErrorCode = 0x06
	FrameEncodingError      TransportErrorCode = 0x07
	TransportParameterError TransportErrorCode = 0x08
	ConnectionIDLimitError  TransportErrorCode = 0x09
	ProtocolViolation       TransportErrorCode = 0x0a
	InvalidToken            TransportErrorCode = 0x0b
	ApplicationError        TransportErrorCode = 0x0c
	CryptoBufferExceeded    TransportErrorCode = 0x0d
	KeyUpdateError          TransportErrorCode = 0x0e
	AEADLimitReached        TransportErrorCode = 0x0f
	NoViablePath            TransportErrorCode = 0x10

	// HandshakeFailed reports a Noise handshake that could not complete:
	// a message failed to decrypt or authenticate, or the peers share no
	// cipher suite.
	HandshakeFailed TransportErrorCode = 0x0101
	// UnknownClientKey reports a client whose static key the server's
	// allow-list does not contain.
	UnknownClientKey TransportErrorCode = 0x0102
	// NoApplicationProtocol reports a client that offered no application
	// protocol the server serves (the transport parameter
	// application_protocols, docs/PROTOCOL.md section 6).
	NoApplicationProtocol TransportErrorCode = 0x0103
)

// String is the code's name as the RFC spells it, or TRANSPORT_ERROR(0x…)
// for a code limpet does not define.
func (c TransportErrorCode) String() string {
	switch c {
	case NoError:
		return "NO_ERROR"
	case InternalError:
		return "INTERNAL_ERROR"
	case ConnectionRefused:
		return "CONNECTION_REFUSED"
	case FlowControlError:
		return "FLOW_CONTROL_ERROR"
	case StreamLimitError:
		return "STREAM_LIMIT_ERROR"
	case StreamStateError:
		return "STREAM_STATE_ERROR"
	case FinalSizeError:
		return "FINAL_SIZE_ERROR"
	case FrameEncodingError:
		return "FRAME_ENCODING_ERROR"
	case TransportParameterError:
		return "TRANSPORT_PARAMETER_ERROR"
	case ConnectionIDLimitError:
		return "CONNECTION_ID_LIMIT_ERROR"
	case ProtocolViolation:
		return "PROTOCOL_VIOLATION"
	case InvalidToken:
		return "INVALID_TOKEN"
	case ApplicationError:
		return "APPLICATION_ERROR"
	case CryptoBufferExceeded:
		return "CRYPTO_BUFFER_EXCEEDED"
	case KeyUpdateError:
		return "KEY_UPDATE_ERROR"
	case AEADLimitReached:
		return "AEAD_LIMIT_REACHED"
	case NoViablePath:
		return "NO_VIABLE_PATH"
	case HandshakeFailed:
		return "HANDSHAKE_FAILED"
	case UnknownClientKey:
		return "UNKNOWN_CLIENT_KEY"
	case NoApplicationProtocol:
		return "NO_APPLICATION_PROTOCOL"
	}
	return "TRANSPORT_ERROR(0x" + strconv.FormatUint(uint64(c), 16) + ")"
}
