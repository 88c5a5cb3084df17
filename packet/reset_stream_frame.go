package packet

// ResetStreamFrame abandons the sending part of a stream (type 0x04, RFC
// 9000 §19.4). FinalSize is how many bytes the sender had sent, so that the
// receiver can settle flow control.
type ResetStreamFrame struct {
	StreamID  StreamID
	ErrorCode uint64 // application error code
	FinalSize int64
}

// Type returns FrameResetStream.
func (f ResetStreamFrame) Type() FrameType { return FrameResetStream }

// Len is the number of bytes Append writes.
func (f ResetStreamFrame) Len() int {
	return varintFrameLen(uint64(f.StreamID), f.ErrorCode, uint64(f.FinalSize))
}

// Append appends the frame.
func (f ResetStreamFrame) Append(b []byte) []byte {
	b = append(b, byte(FrameResetStream))
	b = AppendVarint(b, uint64(f.StreamID))
	b = AppendVarint(b, f.ErrorCode)
	return AppendVarint(b, uint64(f.FinalSize))
}

// ParseResetStreamFrame parses a RESET_STREAM frame.
func ParseResetStreamFrame(b []byte) (ResetStreamFrame, int, error) {
	if err := checkFrameType(b, FrameResetStream); err != nil {
		return ResetStreamFrame{}, 0, err
	}
	r := frameReader{b: b, off: 1}
	f := ResetStreamFrame{StreamID: StreamID(r.varint()), ErrorCode: r.varint(), FinalSize: int64(r.varint())}
	if r.err != nil {
		return ResetStreamFrame{}, 0, frameErr(FrameResetStream, r.err)
	}
	return f, r.off, nil
}

// StopSendingFrame asks the peer to stop sending on a stream (type 0x05,
// RFC 9000 §19.5); the peer answers with RESET_STREAM.
type StopSendingFrame struct {
	StreamID  StreamID
	ErrorCode uint64 // application error code
}

// Type returns FrameStopSending.
func (f StopSendingFrame) Type() FrameType { return FrameStopSending }

// Len is the number of bytes Append writes.
func (f StopSendingFrame) Len() int { return varintFrameLen(uint64(f.StreamID), f.ErrorCode) }

// Append appends the frame.
func (f StopSendingFrame) Append(b []byte) []byte {
	b = append(b, byte(FrameStopSending))
	b = AppendVarint(b, uint64(f.StreamID))
	return AppendVarint(b, f.ErrorCode)
}

// ParseStopSendingFrame parses a STOP_SENDING frame.
func ParseStopSendingFrame(b []byte) (StopSendingFrame, int, error) {
	if err := checkFrameType(b, FrameStopSending); err != nil {
		return StopSendingFrame{}, 0, err
	}
	r := frameReader{b: b, off: 1}
	f := StopSendingFrame{StreamID: StreamID(r.varint()), ErrorCode: r.varint()}
	if r.err != nil {
		return StopSendingFrame{}, 0, frameErr(FrameStopSending, r.err)
	}
	return f, r.off, nil
}
