package packet

import "testing"

func TestTransportErrorCodeString(t *testing.T) {
	tests := []struct {
		code TransportErrorCode
		want string
	}{
		{NoError, "NO_ERROR"},
		{FrameEncodingError, "FRAME_ENCODING_ERROR"},
		{TransportParameterError, "TRANSPORT_PARAMETER_ERROR"},
		{ProtocolViolation, "PROTOCOL_VIOLATION"},
		{CryptoBufferExceeded, "CRYPTO_BUFFER_EXCEEDED"},
		{NoViablePath, "NO_VIABLE_PATH"},
		{0x10, "NO_VIABLE_PATH"},
		{0x0101, "HANDSHAKE_FAILED"},
		{0x0102, "UNKNOWN_CLIENT_KEY"},
		{0x11, "TRANSPORT_ERROR(0x11)"},
		{0x0100, "TRANSPORT_ERROR(0x100)"},
	}
	for _, tt := range tests {
		if got := tt.code.String(); got != tt.want {
			t.Errorf("TransportErrorCode(%#x).String() = %q, want %q", uint64(tt.code), got, tt.want)
		}
	}
	// Every RFC 9000 §20.1 code from 0x0 to 0x10 has a name.
	for c := NoError; c <= NoViablePath; c++ {
		if s := c.String(); s[:min(len(s), 16)] == "TRANSPORT_ERROR(" {
			t.Errorf("code %#x has no name", uint64(c))
		}
	}
}
