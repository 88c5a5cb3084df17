package packet

// MaxStreamCount is the largest stream count MAX_STREAMS, STREAMS_BLOCKED
// and the initial_max_streams transport parameters may carry: beyond it a
// stream ID would not fit a varint (RFC 9000 §19.11).
const MaxStreamCount = 1 << 60

// MaxStreamsFrame raises how many streams of one kind the peer may open
// in total (types 0x12 bidirectional, 0x13 unidirectional; RFC 9000
// §19.11).
type MaxStreamsFrame struct {
	Bidirectional bool
	Max           uint64
}

// Type is FrameMaxStreamsBidi or FrameMaxStreamsUni.
func (f MaxStreamsFrame) Type() FrameType {
	if f.Bidirectional {
		return FrameMaxStreamsBidi
	}
	return FrameMaxStreamsUni
}

// Len is the number of bytes Append writes.
func (f MaxStreamsFrame) Len() int { return varintFrameLen(f.Max) }

// Append appends the frame.
func (f MaxStreamsFrame) Append(b []byte) []byte {
	return AppendVarint(append(b, byte(f.Type())), f.Max)
}

// ParseMaxStreamsFrame parses a MAX_STREAMS frame of either kind. A count
// above MaxStreamCount returns ErrStreamCount.
func ParseMaxStreamsFrame(b []byte) (MaxStreamsFrame, int, error) {
	v, bidi, n, err := parseStreamCountFrame(b, FrameMaxStreamsBidi, FrameMaxStreamsUni)
	return MaxStreamsFrame{Bidirectional: bidi, Max: v}, n, err
}

// StreamsBlockedFrame reports that the sender wanted to open a stream of
// one kind but reached the peer's limit Limit (types 0x16 bidirectional,
// 0x17 unidirectional; RFC 9000 §19.14).
type StreamsBlockedFrame struct {
	Bidirectional bool
	Limit         uint64
}

// Type is FrameStreamsBlockedBidi or FrameStreamsBlockedUni.
func (f StreamsBlockedFrame) Type() FrameType {
	if f.Bidirectional {
		return FrameStreamsBlockedBidi
	}
	return FrameStreamsBlockedUni
}

// Len is the number of bytes Append writes.
func (f StreamsBlockedFrame) Len() int { return varintFrameLen(f.Limit) }

// Append appends the frame.
func (f StreamsBlockedFrame) Append(b []byte) []byte {
	return AppendVarint(append(b, byte(f.Type())), f.Limit)
}

// ParseStreamsBlockedFrame parses a STREAMS_BLOCKED frame of either kind.
// A count above MaxStreamCount returns ErrStreamCount.
func ParseStreamsBlockedFrame(b []byte) (StreamsBlockedFrame, int, error) {
	v, bidi, n, err := parseStreamCountFrame(b, FrameStreamsBlockedBidi, FrameStreamsBlockedUni)
	return StreamsBlockedFrame{Bidirectional: bidi, Limit: v}, n, err
}

// parseStreamCountFrame parses a frame of type bidi or uni holding one
// stream count.
func parseStreamCountFrame(b []byte, bidi, uni FrameType) (uint64, bool, int, error) {
	if len(b) == 0 {
		return 0, false, 0, frameErr(bidi, ErrTruncated)
	}
	t := FrameType(b[0])
	if t != bidi && t != uni {
		return 0, false, 0, frameErr(bidi, ErrFrameTypeMismatch)
	}
	v, n, err := ParseVarint(b[1:])
	if err != nil {
		return 0, false, 0, frameErr(t, err)
	}
	if v > MaxStreamCount {
		return 0, false, 0, frameErr(t, ErrStreamCount)
	}
	return v, t == bidi, 1 + n, nil
}
