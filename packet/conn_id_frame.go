package packet

// StatelessResetTokenLen is the length of a stateless reset token
// (docs/PROTOCOL.md sections 2.4 and 4.7).
const StatelessResetTokenLen = 16

// NewConnectionIDFrame gives the peer another connection ID to address this
// endpoint with, and the stateless reset token that goes with it (type
// 0x18, RFC 9000 §19.15).
type NewConnectionIDFrame struct {
	SequenceNumber uint64
	// RetirePriorTo asks the peer to retire every connection ID with a
	// smaller sequence number. It never exceeds SequenceNumber.
	RetirePriorTo uint64
	// ConnID is 1 to 20 bytes long.
	ConnID     ConnectionID
	ResetToken [StatelessResetTokenLen]byte
}

// Type returns FrameNewConnectionID.
func (f NewConnectionIDFrame) Type() FrameType { return FrameNewConnectionID }

// Len is the number of bytes Append writes.
func (f NewConnectionIDFrame) Len() int {
	return varintFrameLen(f.SequenceNumber, f.RetirePriorTo) + 1 + f.ConnID.Len() + StatelessResetTokenLen
}

// Append appends the frame.
func (f NewConnectionIDFrame) Append(b []byte) []byte {
	b = append(b, byte(FrameNewConnectionID))
	b = AppendVarint(b, f.SequenceNumber)
	b = AppendVarint(b, f.RetirePriorTo)
	b = appendConnID(b, f.ConnID)
	return append(b, f.ResetToken[:]...)
}

// ParseNewConnectionIDFrame parses a NEW_CONNECTION_ID frame. A connection
// ID length outside 1..20 returns ErrInvalidConnIDLen; Retire Prior To
// above Sequence Number returns ErrRetirePriorTo.
func ParseNewConnectionIDFrame(b []byte) (NewConnectionIDFrame, int, error) {
	if err := checkFrameType(b, FrameNewConnectionID); err != nil {
		return NewConnectionIDFrame{}, 0, err
	}
	r := frameReader{b: b, off: 1}
	var f NewConnectionIDFrame
	f.SequenceNumber = r.varint()
	f.RetirePriorTo = r.varint()
	if r.err == nil && f.RetirePriorTo > f.SequenceNumber {
		r.fail(ErrRetirePriorTo)
	}
	cidLen := r.bytes(1)
	if r.err == nil && (cidLen[0] == 0 || cidLen[0] > MaxConnIDLen) {
		r.fail(ErrInvalidConnIDLen)
	}
	var cid []byte
	if r.err == nil {
		cid = r.bytes(uint64(cidLen[0]))
	}
	token := r.bytes(StatelessResetTokenLen)
	if r.err != nil {
		return NewConnectionIDFrame{}, 0, frameErr(FrameNewConnectionID, r.err)
	}
	f.ConnID = connIDFrom(cid)
	copy(f.ResetToken[:], token)
	return f, r.off, nil
}

// RetireConnectionIDFrame tells the peer this endpoint will no longer use
// the connection ID with the given sequence number (type 0x19, RFC 9000
// §19.16).
type RetireConnectionIDFrame struct {
	SequenceNumber uint64
}

// Type returns FrameRetireConnectionID.
func (f RetireConnectionIDFrame) Type() FrameType { return FrameRetireConnectionID }

// Len is the number of bytes Append writes.
func (f RetireConnectionIDFrame) Len() int { return varintFrameLen(f.SequenceNumber) }

// Append appends the frame.
func (f RetireConnectionIDFrame) Append(b []byte) []byte {
	return AppendVarint(append(b, byte(FrameRetireConnectionID)), f.SequenceNumber)
}

// ParseRetireConnectionIDFrame parses a RETIRE_CONNECTION_ID frame.
func ParseRetireConnectionIDFrame(b []byte) (RetireConnectionIDFrame, int, error) {
	v, n, err := parseOneVarintFrame(b, FrameRetireConnectionID)
	return RetireConnectionIDFrame{SequenceNumber: v}, n, err
}
