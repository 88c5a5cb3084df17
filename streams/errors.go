package streams

import "errors"

// Errors returned for peer misbehaviour. Each maps to one transport error
// code, which the transport sends in CONNECTION_CLOSE; the package wraps them
// with details, so test with errors.Is.
var (
	// ErrFlowControl reports data beyond an advertised stream or connection
	// limit: FLOW_CONTROL_ERROR (RFC 9000 §4.1).
	ErrFlowControl = errors.New("streams: flow control limit exceeded")

	// ErrFinalSize reports data beyond a stream's final size, or a final size
	// that changed or is below data already received: FINAL_SIZE_ERROR
	// (RFC 9000 §4.5).
	ErrFinalSize = errors.New("streams: final size violated")

	// ErrStreamLimitExceeded reports a peer-opened stream beyond the
	// MAX_STREAMS limit we advertised: STREAM_LIMIT_ERROR (RFC 9000 §4.6).
	ErrStreamLimitExceeded = errors.New("streams: peer exceeded stream limit")

	// ErrStreamState reports a frame for a stream that cannot receive it,
	// such as a locally initiated stream we have not opened yet:
	// STREAM_STATE_ERROR (RFC 9000 §19.8).
	ErrStreamState = errors.New("streams: frame not valid for stream")

	// ErrStreamsValue reports a MAX_STREAMS value above 2^60, which
	// RFC 9000 §19.11 makes a FRAME_ENCODING_ERROR.
	ErrStreamsValue = errors.New("streams: stream count above 2^60")

	// ErrConsumedBeyondSent reports a delivery receipt (CONSUMED frame,
	// docs/PROTOCOL.md "Delivery receipts") for bytes we never sent: a
	// PROTOCOL_ERROR, since the peer cannot have read them.
	ErrConsumedBeyondSent = errors.New("streams: peer consumed bytes never sent")
)

// ErrStreamLimit reports that the peer's MAX_STREAMS forbids opening another
// stream. It is not a protocol error: the transport waits for MAX_STREAMS and
// may send STREAMS_BLOCKED meanwhile (RFC 9000 §4.6).
var ErrStreamLimit = errors.New("streams: peer's stream limit reached")
