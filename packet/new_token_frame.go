package packet

// NewTokenFrame gives the client an address-validation token for a future
// connection (type 0x07, RFC 9000 §19.7). The token must not be empty.
type NewTokenFrame struct {
	// Token aliases the packet in a parsed frame.
	Token []byte
}

// Type returns FrameNewToken.
func (f NewTokenFrame) Type() FrameType { return FrameNewToken }

// Len is the number of bytes Append writes.
func (f NewTokenFrame) Len() int { return 1 + VarintLen(uint64(len(f.Token))) + len(f.Token) }

// Append appends the frame.
func (f NewTokenFrame) Append(b []byte) []byte {
	b = append(b, byte(FrameNewToken))
	b = AppendVarint(b, uint64(len(f.Token)))
	return append(b, f.Token...)
}

// ParseNewTokenFrame parses a NEW_TOKEN frame. An empty token returns
// ErrEmptyToken.
func ParseNewTokenFrame(b []byte) (NewTokenFrame, int, error) {
	if err := checkFrameType(b, FrameNewToken); err != nil {
		return NewTokenFrame{}, 0, err
	}
	r := frameReader{b: b, off: 1}
	f := NewTokenFrame{Token: r.bytes(r.varint())}
	if r.err == nil && len(f.Token) == 0 {
		r.fail(ErrEmptyToken)
	}
	if r.err != nil {
		return NewTokenFrame{}, 0, frameErr(FrameNewToken, r.err)
	}
	return f, r.off, nil
}
