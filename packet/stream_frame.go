package packet

// StreamFrame carries stream data (types 0x08–0x0f, RFC 9000 §19.8). The
// type's low bits are chosen by the frame's fields: OFF when Offset is not
// 0, LEN unless OmitLength, FIN when Fin.
type StreamFrame struct {
	StreamID StreamID
	// Offset is the stream offset of Data's first byte.
	Offset int64
	// Data aliases the packet in a parsed frame.
	Data []byte
	// Fin marks Data's end as the end of the stream.
	Fin bool
	// OmitLength leaves out the Length field, so that Data runs to the end
	// of the packet: a packer may set it on a packet's last frame to save
	// the field's bytes. A parsed frame without the LEN bit has it set.
	OmitLength bool
}

// Type is the STREAM type with the OFF, LEN and FIN bits the fields call
// for.
func (f StreamFrame) Type() FrameType {
	t := FrameStream
	if f.Offset != 0 {
		t |= streamBitOFF
	}
	if !f.OmitLength {
		t |= streamBitLEN
	}
	if f.Fin {
		t |= streamBitFIN
	}
	return t
}

// Len is the number of bytes Append writes.
func (f StreamFrame) Len() int {
	return StreamFrameHeaderLen(f.StreamID, f.Offset, len(f.Data), !f.OmitLength) + len(f.Data)
}

// Append appends the frame. An Offset below 0, or data that would end past
// 2^62-1, is a programming error (flow control keeps senders far below)
// and panics.
func (f StreamFrame) Append(b []byte) []byte {
	if f.Offset < 0 || uint64(len(f.Data)) > MaxVarint-uint64(f.Offset) {
		panic("packet: STREAM frame offset out of range")
	}
	b = append(b, byte(f.Type()))
	b = AppendVarint(b, uint64(f.StreamID))
	if f.Offset != 0 {
		b = AppendVarint(b, uint64(f.Offset))
	}
	if !f.OmitLength {
		b = AppendVarint(b, uint64(len(f.Data)))
	}
	return append(b, f.Data...)
}

// StreamFrameHeaderLen is the length of a STREAM frame's fields before its
// data: the type byte, the stream ID, the offset unless it is 0, and with
// withLen the Length field for dataLen bytes.
func StreamFrameHeaderLen(id StreamID, offset int64, dataLen int, withLen bool) int {
	n := 1 + VarintLen(uint64(id))
	if offset != 0 {
		n += VarintLen(uint64(offset))
	}
	if withLen {
		n += VarintLen(uint64(dataLen))
	}
	return n
}

// MaxStreamDataLen is the most data a STREAM frame with a Length field, for
// stream id at offset, can carry within budget bytes, never more than
// would take the stream past 2^62-1. It returns 0 when no data fits;
// whether an empty frame (a bare FIN) fits is StreamFrameHeaderLen(id,
// offset, 0, true) <= budget. A frame without a Length field carries up to
// budget − StreamFrameHeaderLen(id, offset, 0, false).
func MaxStreamDataLen(id StreamID, offset int64, budget int) int {
	n := maxDataWithLength(budget - StreamFrameHeaderLen(id, offset, 0, false))
	return clampToOffsetLimit(n, offset)
}

// maxDataWithLength is the most data that fits in room bytes together with
// the varint Length field that counts it. Growing the data can grow the
// field, so it takes the best of each field size.
func maxDataWithLength(room int) int {
	best := 0
	for _, fieldLen := range [...]int{1, 2, 4, 8} {
		limit := 1<<(8*fieldLen-2) - 1
		best = max(best, min(room-fieldLen, limit))
	}
	return best
}

// clampToOffsetLimit caps n so that offset+n stays within 2^62-1.
func clampToOffsetLimit(n int, offset int64) int {
	if offset < 0 {
		return 0
	}
	if rest := MaxVarint - offset; int64(n) > rest {
		return int(rest)
	}
	return n
}

// ParseStreamFrame parses a STREAM frame of any of the eight types. A frame
// whose Length runs past b is truncated; one whose data would end past
// 2^62-1 returns ErrOffsetRange (RFC 9000 §19.8).
func ParseStreamFrame(b []byte) (StreamFrame, int, error) {
	if len(b) == 0 {
		return StreamFrame{}, 0, frameErr(FrameStream, ErrTruncated)
	}
	t := FrameType(b[0])
	if !t.IsStream() {
		return StreamFrame{}, 0, frameErr(FrameStream, ErrFrameTypeMismatch)
	}
	r := frameReader{b: b, off: 1}
	var f StreamFrame
	f.StreamID = StreamID(r.varint())
	if t&streamBitOFF != 0 {
		f.Offset = int64(r.varint())
	}
	if t&streamBitLEN != 0 {
		f.Data = r.bytes(r.varint())
	} else {
		f.OmitLength = true
		f.Data = r.bytes(uint64(len(b) - r.off))
	}
	if r.err != nil {
		return StreamFrame{}, 0, frameErr(t, r.err)
	}
	if uint64(f.Offset)+uint64(len(f.Data)) > MaxVarint {
		return StreamFrame{}, 0, frameErr(t, ErrOffsetRange)
	}
	f.Fin = t&streamBitFIN != 0
	return f, r.off, nil
}
