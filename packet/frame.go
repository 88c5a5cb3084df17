package packet

import "errors"

// Frame is any frame this package encodes. The hot path uses the concrete
// types and their ParseXFrame functions, which do not allocate; Frame and
// ParseFrame serve tests, logging and fuzzing.
type Frame interface {
	// Type is the frame type the frame is written with.
	Type() FrameType
	// Len is the number of bytes Append writes.
	Len() int
	// Append appends the encoded frame to b without allocating beyond
	// growing b. Values a peer could not have sent (a negative offset, a
	// field above 2^62-1) are programming errors and panic.
	Append(b []byte) []byte
}

// Frame parse errors. The parsers return them wrapped in a *FrameError that
// names the frame type; every one of them means FRAME_ENCODING_ERROR
// (docs/PROTOCOL.md section 5).
var (
	ErrUnknownFrame        = errors.New("packet: unknown frame type")
	ErrUnsupportedFrame    = errors.New("packet: frame type reserved for a later version")
	ErrNonMinimalFrameType = errors.New("packet: frame type not minimally encoded")
	ErrFrameTypeMismatch   = errors.New("packet: parser called on another frame type")
	ErrInvalidAckRange     = errors.New("packet: ACK range below packet number 0 or range count too large")
	ErrOffsetRange         = errors.New("packet: offset plus length exceeds 2^62-1")
	ErrStreamCount         = errors.New("packet: stream count exceeds 2^60")
	ErrInvalidConnIDLen    = errors.New("packet: connection ID length not in 1..20")
	ErrRetirePriorTo       = errors.New("packet: Retire Prior To exceeds Sequence Number")
	ErrEmptyToken          = errors.New("packet: empty NEW_TOKEN token")
)

// FrameError is a malformed frame. Type is the frame type to report in the
// CONNECTION_CLOSE that answers it (0 when even the type could not be
// read); Err is one of this package's sentinel errors, such as ErrTruncated
// or ErrInvalidAckRange, for errors.Is. The connection closes with
// FRAME_ENCODING_ERROR (docs/PROTOCOL.md section 5). A FrameError is
// allocated only when a frame is malformed; valid frames parse without
// allocating.
type FrameError struct {
	Type FrameType
	Err  error
}

// Error names the frame type and the problem.
func (e *FrameError) Error() string { return "packet: " + e.Type.String() + " frame: " + e.Err.Error() }

// Unwrap returns Err.
func (e *FrameError) Unwrap() error { return e.Err }

// Code is the transport error code that answers e: always
// FRAME_ENCODING_ERROR.
func (e *FrameError) Code() TransportErrorCode { return FrameEncodingError }

func frameErr(t FrameType, err error) error { return &FrameError{Type: t, Err: err} }

// PeekFrameType reads the type of the frame at the start of b and the
// number of bytes it takes. A type in a non-minimal encoding is rejected
// (docs/PROTOCOL.md section 5), as is an empty b. It does not check that the
// type is known: the caller's switch does that, as ParseFrame's does.
func PeekFrameType(b []byte) (FrameType, int, error) {
	v, n, err := ParseVarint(b)
	if err != nil {
		return 0, 0, frameErr(0, err)
	}
	if n != VarintLen(v) {
		return FrameType(v), 0, frameErr(FrameType(v), ErrNonMinimalFrameType)
	}
	return FrameType(v), n, nil
}

// ParseFrame parses the frame at the start of b and reports the bytes it
// consumed. It allocates (the Frame interface value, and an ACK frame's
// ranges), so the transport's receive path switches on PeekFrameType and
// calls the typed parsers instead.
func ParseFrame(b []byte) (Frame, int, error) {
	t, _, err := PeekFrameType(b)
	if err != nil {
		return nil, 0, err
	}
	if t.IsStream() {
		return wrapFrame(ParseStreamFrame(b))
	}
	switch t {
	case FramePadding:
		return wrapFrame(ParsePaddingFrame(b))
	case FramePing:
		return wrapFrame(ParsePingFrame(b))
	case FrameAck, FrameAckECN:
		return wrapFrame(ParseAckFrame(b, nil))
	case FrameResetStream:
		return wrapFrame(ParseResetStreamFrame(b))
	case FrameStopSending:
		return wrapFrame(ParseStopSendingFrame(b))
	case FrameCrypto:
		return wrapFrame(ParseCryptoFrame(b))
	case FrameNewToken:
		return wrapFrame(ParseNewTokenFrame(b))
	case FrameMaxData:
		return wrapFrame(ParseMaxDataFrame(b))
	case FrameMaxStreamData:
		return wrapFrame(ParseMaxStreamDataFrame(b))
	case FrameMaxStreamsBidi, FrameMaxStreamsUni:
		return wrapFrame(ParseMaxStreamsFrame(b))
	case FrameDataBlocked:
		return wrapFrame(ParseDataBlockedFrame(b))
	case FrameStreamDataBlocked:
		return wrapFrame(ParseStreamDataBlockedFrame(b))
	case FrameStreamsBlockedBidi, FrameStreamsBlockedUni:
		return wrapFrame(ParseStreamsBlockedFrame(b))
	case FrameNewConnectionID:
		return wrapFrame(ParseNewConnectionIDFrame(b))
	case FrameRetireConnectionID:
		return wrapFrame(ParseRetireConnectionIDFrame(b))
	case FramePathChallenge:
		return wrapFrame(ParsePathChallengeFrame(b))
	case FramePathResponse:
		return wrapFrame(ParsePathResponseFrame(b))
	case FrameConnectionClose, FrameConnectionCloseApp:
		return wrapFrame(ParseConnectionCloseFrame(b))
	case FrameHandshakeDone:
		return wrapFrame(ParseHandshakeDoneFrame(b))
	case FrameConsumed:
		return wrapFrame(ParseConsumedFrame(b))
	case FrameAckFrequency:
		return wrapFrame(ParseAckFrequencyFrame(b))
	case FrameImmediateAck:
		return wrapFrame(ParseImmediateAckFrame(b))
	case FrameFECRepair:
		return wrapFrame(ParseFECRepairFrame(b, nil))
	case FrameFECSourceInfo:
		return nil, 0, frameErr(t, ErrUnsupportedFrame)
	}
	return nil, 0, frameErr(t, ErrUnknownFrame)
}

func wrapFrame[F Frame](f F, n int, err error) (Frame, int, error) {
	if err != nil {
		return nil, 0, err
	}
	return f, n, nil
}

// checkFrameType checks that b starts with the one-byte type t. Every type
// limpet defines is below 64, so its minimal encoding is one byte and any
// other first byte is either another frame or a non-minimal encoding.
func checkFrameType(b []byte, t FrameType) error {
	if len(b) == 0 {
		return frameErr(t, ErrTruncated)
	}
	if FrameType(b[0]) != t {
		return frameErr(t, ErrFrameTypeMismatch)
	}
	return nil
}

// frameReader reads a frame's fields after its type byte. The first error
// sticks, so a parser reads every field and checks err once; the reader
// lives on the parser's stack and does not allocate.
type frameReader struct {
	b   []byte
	off int
	err error
}

func (r *frameReader) varint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n, err := ParseVarint(r.b[r.off:])
	if err != nil {
		r.err = err
		return 0
	}
	r.off += n
	return v
}

// bytes returns the next n bytes, aliasing the input.
func (r *frameReader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.off) {
		r.err = ErrTruncated
		return nil
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s
}

// fail records err unless an earlier error is already recorded.
func (r *frameReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// varintFrameLen is the length of a frame of one type byte and the given
// varint fields.
func varintFrameLen(vs ...uint64) int {
	n := 1
	for _, v := range vs {
		n += VarintLen(v)
	}
	return n
}
