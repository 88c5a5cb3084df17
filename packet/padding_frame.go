package packet

import "encoding/binary"

// PaddingFrame is a run of PADDING bytes (type 0x00, RFC 9000 §19.1). A
// sender pads Initial datagrams to MinInitialDatagramSize and short packets
// to the header-protection minimum; a receiver skips the whole run at once.
type PaddingFrame struct {
	// Size is the number of zero bytes.
	Size int
}

// Type returns FramePadding.
func (f PaddingFrame) Type() FrameType { return FramePadding }

// Len is Size, or 0 if Size is negative.
func (f PaddingFrame) Len() int { return max(f.Size, 0) }

// Append appends Size zero bytes.
func (f PaddingFrame) Append(b []byte) []byte {
	// The compiler turns this into a grow and a clear, with no temporary.
	return append(b, make([]byte, max(f.Size, 0))...)
}

// ParsePaddingFrame consumes the run of zero bytes at the start of b, up to
// the next non-zero byte or the end of b.
func ParsePaddingFrame(b []byte) (PaddingFrame, int, error) {
	if err := checkFrameType(b, FramePadding); err != nil {
		return PaddingFrame{}, 0, err
	}
	n := 1
	// Eight bytes at a time: a path MTU probe is up to 64 KiB of padding.
	for n+8 <= len(b) && binary.LittleEndian.Uint64(b[n:]) == 0 {
		n += 8
	}
	for n < len(b) && b[n] == 0 {
		n++
	}
	return PaddingFrame{Size: n}, n, nil
}

// PingFrame (type 0x01, RFC 9000 §19.2) carries nothing; it makes a packet
// ack-eliciting, for keepalives and probes.
type PingFrame struct{}

// Type returns FramePing.
func (PingFrame) Type() FrameType { return FramePing }

// Len is 1.
func (PingFrame) Len() int { return 1 }

// Append appends the type byte.
func (PingFrame) Append(b []byte) []byte { return append(b, byte(FramePing)) }

// ParsePingFrame parses a PING frame.
func ParsePingFrame(b []byte) (PingFrame, int, error) {
	if err := checkFrameType(b, FramePing); err != nil {
		return PingFrame{}, 0, err
	}
	return PingFrame{}, 1, nil
}

// HandshakeDoneFrame (type 0x1e, RFC 9000 §19.20) is the server's signal
// that it has confirmed the handshake; the client then discards its Initial
// keys (docs/PROTOCOL.md section 4.5).
type HandshakeDoneFrame struct{}

// Type returns FrameHandshakeDone.
func (HandshakeDoneFrame) Type() FrameType { return FrameHandshakeDone }

// Len is 1.
func (HandshakeDoneFrame) Len() int { return 1 }

// Append appends the type byte.
func (HandshakeDoneFrame) Append(b []byte) []byte { return append(b, byte(FrameHandshakeDone)) }

// ParseHandshakeDoneFrame parses a HANDSHAKE_DONE frame.
func ParseHandshakeDoneFrame(b []byte) (HandshakeDoneFrame, int, error) {
	if err := checkFrameType(b, FrameHandshakeDone); err != nil {
		return HandshakeDoneFrame{}, 0, err
	}
	return HandshakeDoneFrame{}, 1, nil
}
