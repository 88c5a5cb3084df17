package packet

// Flow-control frames (RFC 9000 §19.9, §19.10, §19.12, §19.13): credit
// granted to the peer, and the signal that our own credit ran out. Limits
// are byte counts, int64 like stream offsets.

// MaxDataFrame raises the connection's flow-control limit (type 0x10).
type MaxDataFrame struct {
	Max int64
}

// Type returns FrameMaxData.
func (f MaxDataFrame) Type() FrameType { return FrameMaxData }

// Len is the number of bytes Append writes.
func (f MaxDataFrame) Len() int { return varintFrameLen(uint64(f.Max)) }

// Append appends the frame.
func (f MaxDataFrame) Append(b []byte) []byte {
	return AppendVarint(append(b, byte(FrameMaxData)), uint64(f.Max))
}

// ParseMaxDataFrame parses a MAX_DATA frame.
func ParseMaxDataFrame(b []byte) (MaxDataFrame, int, error) {
	v, n, err := parseOneVarintFrame(b, FrameMaxData)
	return MaxDataFrame{Max: int64(v)}, n, err
}

// MaxStreamDataFrame raises one stream's flow-control limit (type 0x11).
type MaxStreamDataFrame struct {
	StreamID StreamID
	Max      int64
}

// Type returns FrameMaxStreamData.
func (f MaxStreamDataFrame) Type() FrameType { return FrameMaxStreamData }

// Len is the number of bytes Append writes.
func (f MaxStreamDataFrame) Len() int { return varintFrameLen(uint64(f.StreamID), uint64(f.Max)) }

// Append appends the frame.
func (f MaxStreamDataFrame) Append(b []byte) []byte {
	b = AppendVarint(append(b, byte(FrameMaxStreamData)), uint64(f.StreamID))
	return AppendVarint(b, uint64(f.Max))
}

// ParseMaxStreamDataFrame parses a MAX_STREAM_DATA frame.
func ParseMaxStreamDataFrame(b []byte) (MaxStreamDataFrame, int, error) {
	id, v, n, err := parseTwoVarintFrame(b, FrameMaxStreamData)
	return MaxStreamDataFrame{StreamID: StreamID(id), Max: int64(v)}, n, err
}

// DataBlockedFrame reports that the sender had data to send but reached
// the connection limit Limit (type 0x14).
type DataBlockedFrame struct {
	Limit int64
}

// Type returns FrameDataBlocked.
func (f DataBlockedFrame) Type() FrameType { return FrameDataBlocked }

// Len is the number of bytes Append writes.
func (f DataBlockedFrame) Len() int { return varintFrameLen(uint64(f.Limit)) }

// Append appends the frame.
func (f DataBlockedFrame) Append(b []byte) []byte {
	return AppendVarint(append(b, byte(FrameDataBlocked)), uint64(f.Limit))
}

// ParseDataBlockedFrame parses a DATA_BLOCKED frame.
func ParseDataBlockedFrame(b []byte) (DataBlockedFrame, int, error) {
	v, n, err := parseOneVarintFrame(b, FrameDataBlocked)
	return DataBlockedFrame{Limit: int64(v)}, n, err
}

// StreamDataBlockedFrame reports that the sender reached a stream's limit
// Limit (type 0x15).
type StreamDataBlockedFrame struct {
	StreamID StreamID
	Limit    int64
}

// Type returns FrameStreamDataBlocked.
func (f StreamDataBlockedFrame) Type() FrameType { return FrameStreamDataBlocked }

// Len is the number of bytes Append writes.
func (f StreamDataBlockedFrame) Len() int { return varintFrameLen(uint64(f.StreamID), uint64(f.Limit)) }

// Append appends the frame.
func (f StreamDataBlockedFrame) Append(b []byte) []byte {
	b = AppendVarint(append(b, byte(FrameStreamDataBlocked)), uint64(f.StreamID))
	return AppendVarint(b, uint64(f.Limit))
}

// ParseStreamDataBlockedFrame parses a STREAM_DATA_BLOCKED frame.
func ParseStreamDataBlockedFrame(b []byte) (StreamDataBlockedFrame, int, error) {
	id, v, n, err := parseTwoVarintFrame(b, FrameStreamDataBlocked)
	return StreamDataBlockedFrame{StreamID: StreamID(id), Limit: int64(v)}, n, err
}

// parseOneVarintFrame parses a frame of type t holding one varint.
func parseOneVarintFrame(b []byte, t FrameType) (uint64, int, error) {
	if err := checkFrameType(b, t); err != nil {
		return 0, 0, err
	}
	v, n, err := ParseVarint(b[1:])
	if err != nil {
		return 0, 0, frameErr(t, err)
	}
	return v, 1 + n, nil
}

// parseTwoVarintFrame parses a frame of type t holding two varints.
func parseTwoVarintFrame(b []byte, t FrameType) (uint64, uint64, int, error) {
	if err := checkFrameType(b, t); err != nil {
		return 0, 0, 0, err
	}
	r := frameReader{b: b, off: 1}
	v1, v2 := r.varint(), r.varint()
	if r.err != nil {
		return 0, 0, 0, frameErr(t, r.err)
	}
	return v1, v2, r.off, nil
}
