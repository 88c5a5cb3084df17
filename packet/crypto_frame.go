package packet

// CryptoFrame carries handshake bytes (type 0x06, RFC 9000 §19.6): the
// Noise messages, in the Initial packet-number space only (docs/PROTOCOL.md
// section 4.5).
type CryptoFrame struct {
	Offset int64
	// Data aliases the packet in a parsed frame.
	Data []byte
}

// Type returns FrameCrypto.
func (f CryptoFrame) Type() FrameType { return FrameCrypto }

// Len is the number of bytes Append writes.
func (f CryptoFrame) Len() int { return CryptoFrameHeaderLen(f.Offset, len(f.Data)) + len(f.Data) }

// Append appends the frame. An Offset below 0, or data ending past
// 2^62-1, panics.
func (f CryptoFrame) Append(b []byte) []byte {
	if f.Offset < 0 || uint64(len(f.Data)) > MaxVarint-uint64(f.Offset) {
		panic("packet: CRYPTO frame offset out of range")
	}
	b = append(b, byte(FrameCrypto))
	b = AppendVarint(b, uint64(f.Offset))
	b = AppendVarint(b, uint64(len(f.Data)))
	return append(b, f.Data...)
}

// CryptoFrameHeaderLen is the length of a CRYPTO frame's fields before
// dataLen bytes of data at offset.
func CryptoFrameHeaderLen(offset int64, dataLen int) int {
	return 1 + VarintLen(uint64(offset)) + VarintLen(uint64(dataLen))
}

// MaxCryptoDataLen is the most data a CRYPTO frame at offset can carry
// within budget bytes; 0 when none fits.
func MaxCryptoDataLen(offset int64, budget int) int {
	n := maxDataWithLength(budget - 1 - VarintLen(uint64(offset)))
	return clampToOffsetLimit(n, offset)
}

// ParseCryptoFrame parses a CRYPTO frame. Data ending past 2^62-1 returns
// ErrOffsetRange.
func ParseCryptoFrame(b []byte) (CryptoFrame, int, error) {
	if err := checkFrameType(b, FrameCrypto); err != nil {
		return CryptoFrame{}, 0, err
	}
	r := frameReader{b: b, off: 1}
	var f CryptoFrame
	f.Offset = int64(r.varint())
	f.Data = r.bytes(r.varint())
	if r.err != nil {
		return CryptoFrame{}, 0, frameErr(FrameCrypto, r.err)
	}
	if uint64(f.Offset)+uint64(len(f.Data)) > MaxVarint {
		return CryptoFrame{}, 0, frameErr(FrameCrypto, ErrOffsetRange)
	}
	return f, r.off, nil
}
