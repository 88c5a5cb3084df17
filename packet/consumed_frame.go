package packet

// ConsumedFrame is limpet's delivery receipt (type 0x32, docs/PROTOCOL.md
// section 7): the peer's application has read bytes [0, Offset) of the
// stream. Offsets only grow; a lost CONSUMED is resent with the latest
// offset, not its old value.
type ConsumedFrame struct {
	StreamID StreamID
	Offset   int64
}

// Type returns FrameConsumed.
func (f ConsumedFrame) Type() FrameType { return FrameConsumed }

// Len is the number of bytes Append writes.
func (f ConsumedFrame) Len() int { return varintFrameLen(uint64(f.StreamID), uint64(f.Offset)) }

// Append appends the frame.
func (f ConsumedFrame) Append(b []byte) []byte {
	b = AppendVarint(append(b, byte(FrameConsumed)), uint64(f.StreamID))
	return AppendVarint(b, uint64(f.Offset))
}

// ParseConsumedFrame parses a CONSUMED frame.
func ParseConsumedFrame(b []byte) (ConsumedFrame, int, error) {
	id, off, n, err := parseTwoVarintFrame(b, FrameConsumed)
	return ConsumedFrame{StreamID: StreamID(id), Offset: int64(off)}, n, err
}
