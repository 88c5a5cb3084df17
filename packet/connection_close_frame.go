package packet

// ConnectionCloseFrame closes the connection (types 0x1c and 0x1d, RFC
// 9000 §19.19; docs/PROTOCOL.md section 8). A transport close (0x1c)
// carries a TransportErrorCode and the type of the frame that caused it;
// an application close (0x1d) carries the application's own code and no
// frame type.
type ConnectionCloseFrame struct {
	// Application selects type 0x1d.
	Application bool
	// ErrorCode is a TransportErrorCode for a transport close, the
	// application's code otherwise.
	ErrorCode uint64
	// FrameType is the frame that triggered a transport close (0 if none).
	// An application close does not carry it; it must be 0 then.
	FrameType FrameType
	// Reason is a human-readable explanation, possibly empty. It aliases the
	// packet in a parsed frame.
	Reason []byte
}

// Type is FrameConnectionCloseApp for an application close, else
// FrameConnectionClose.
func (f ConnectionCloseFrame) Type() FrameType {
	if f.Application {
		return FrameConnectionCloseApp
	}
	return FrameConnectionClose
}

// Len is the number of bytes Append writes.
func (f ConnectionCloseFrame) Len() int {
	n := 1 + VarintLen(f.ErrorCode) + VarintLen(uint64(len(f.Reason))) + len(f.Reason)
	if !f.Application {
		n += VarintLen(uint64(f.FrameType))
	}
	return n
}

// Append appends the frame. A caller that must fit a close into a small
// packet shortens Reason first.
func (f ConnectionCloseFrame) Append(b []byte) []byte {
	b = append(b, byte(f.Type()))
	b = AppendVarint(b, f.ErrorCode)
	if !f.Application {
		b = AppendVarint(b, uint64(f.FrameType))
	}
	b = AppendVarint(b, uint64(len(f.Reason)))
	return append(b, f.Reason...)
}

// ParseConnectionCloseFrame parses a CONNECTION_CLOSE frame of either
// type. A reason longer than the rest of the packet is truncated input.
func ParseConnectionCloseFrame(b []byte) (ConnectionCloseFrame, int, error) {
	if len(b) == 0 {
		return ConnectionCloseFrame{}, 0, frameErr(FrameConnectionClose, ErrTruncated)
	}
	t := FrameType(b[0])
	if t != FrameConnectionClose && t != FrameConnectionCloseApp {
		return ConnectionCloseFrame{}, 0, frameErr(FrameConnectionClose, ErrFrameTypeMismatch)
	}
	r := frameReader{b: b, off: 1}
	f := ConnectionCloseFrame{Application: t == FrameConnectionCloseApp}
	f.ErrorCode = r.varint()
	if !f.Application {
		f.FrameType = FrameType(r.varint())
	}
	f.Reason = r.bytes(r.varint())
	if r.err != nil {
		return ConnectionCloseFrame{}, 0, frameErr(t, r.err)
	}
	return f, r.off, nil
}
