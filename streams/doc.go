// Package streams holds limpet's per-stream and per-connection stream state:
// send buffers with retransmission of lost ranges, out-of-order reassembly,
// flow control with receive-window auto-tuning, stream ID allocation and
// limits, and the scheduler that decides whose data fills the next packet
// (docs/PROTOCOL.md section 5, "Streams and flow control"; RFC 9000 §2–§4).
//
// The package is sans-IO. Nothing here opens sockets, starts goroutines or
// reads the clock: methods that depend on time take now and the RTT as
// arguments, and frames are exchanged with the caller as plain values.
//
// # Usage
//
// The transport owns one connection goroutine and wraps each SendStream and
// RecvStream in a small lock shared with the application's goroutines. The
// types are designed so that lock is held only briefly:
//
//   - the application's Write copies into the send buffer and returns how
//     much fitted; the connection goroutine later pulls frames with
//     NextFrame and reports their fate with OnAcked and OnLost;
//   - the connection goroutine pushes received frames with HandleFrame and
//     the application's Read copies contiguous bytes out;
//   - control frames (MAX_STREAM_DATA, STREAM_DATA_BLOCKED, RESET_STREAM,
//     STOP_SENDING, CONSUMED) are pulled with the XToSend/Blocked/Update
//     methods and re-armed with the matching OnXLost methods.
//
// Connection-level flow control is a RecvWindow and a SendWindow owned by the
// connection goroutine and passed into the stream calls that charge it.
// Stream state never points at connection objects, so a stream can be
// carried to a new connection: SendStream exposes BytesSent, BytesAcked and
// PeerConsumed, the offsets a resumption needs.
//
// # Limitations
//
// None of the types is safe for concurrent use; the caller serialises
// access. Memory is bounded: a SendStream buffers at most its configured
// MaxBuffered bytes, and a RecvStream's reassembly buffer (bytes plus one bit
// of bookkeeping per byte) never exceeds its receive window, whatever
// overlapping or fragmented frames the peer sends.
package streams
