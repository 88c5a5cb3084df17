package transport

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/limpetnet/limpet/packet"
)

// The error model. Every error a Conn, Stream, Endpoint or Dial returns
// matches one row (errors.Is and errors.As):
//
//	what happened                                    how to match it
//	the peer or we closed with a transport code      *TransportError (Remote says who)
//	the peer or we closed with an application code   *ApplicationError (Remote says who)
//	we closed the connection (Close, CloseWithError) errors.Is(err, net.ErrClosed), besides the above
//	we closed the stream (Close, CloseWrite, CloseRead)  errors.Is(err, net.ErrClosed)
//	the Endpoint or Listener was closed              errors.Is(err, net.ErrClosed)
//	nothing received for the idle timeout            *IdleTimeoutError, a net.Error with Timeout()
//	the handshake did not finish in time             *HandshakeTimeoutError, a net.Error with Timeout()
//	the server does not listen (ICMP unreachable)    errors.Is(err, syscall.ECONNREFUSED) (or EHOSTUNREACH, ENETUNREACH)
//	the peer forgot the connection                   errors.Is(err, ErrStatelessReset)
//	a stream was reset or told to stop               *StreamError (Remote says who)
//	a Read or Write deadline passed                  errors.Is(err, os.ErrDeadlineExceeded), a net.Error with Timeout()
//	the resolver failed                              *net.DNSError (wrapped)
//	Dial's context ended                             context.Canceled or context.DeadlineExceeded
//	a Config out of range, or missing a key           errors.Is(err, ErrInvalidConfig)
//
// A stream's Write, Close and WaitConsumed wrap the cause in a
// *DeliveryError once data may be lost, saying how far it got.

// ApplicationErrorCode is an error code chosen by the application, carried in
// RESET_STREAM, STOP_SENDING and application CONNECTION_CLOSE frames.
type ApplicationErrorCode uint64

// TransportErrorCode is a transport error code (docs/PROTOCOL.md section 8).
type TransportErrorCode = packet.TransportErrorCode

// FrameType is a frame type on the wire (docs/PROTOCOL.md section 5).
type FrameType = packet.FrameType

// StreamID identifies a stream within a connection (docs/PROTOCOL.md
// section 5, "Stream IDs").
type StreamID = packet.StreamID

// The transport error codes of docs/PROTOCOL.md section 8.
const (
	NoError                 = packet.NoError
	InternalError           = packet.InternalError
	ConnectionRefused       = packet.ConnectionRefused
	FlowControlError        = packet.FlowControlError
	StreamLimitError        = packet.StreamLimitError
	StreamStateError        = packet.StreamStateError
	FinalSizeError          = packet.FinalSizeError
	FrameEncodingError      = packet.FrameEncodingError
	TransportParameterError = packet.TransportParameterError
	ConnectionIDLimitError  = packet.ConnectionIDLimitError
	ProtocolViolation       = packet.ProtocolViolation
	InvalidToken            = packet.InvalidToken
	CryptoBufferExceeded    = packet.CryptoBufferExceeded
	KeyUpdateError          = packet.KeyUpdateError
	AEADLimitReached        = packet.AEADLimitReached
	NoViablePath            = packet.NoViablePath
	HandshakeFailed         = packet.HandshakeFailed
	UnknownClientKey        = packet.UnknownClientKey
	NoApplicationProtocol   = packet.NoApplicationProtocol
)

// TransportError says a connection was closed with a transport error code:
// by the peer (Remote) or by us, because of a protocol error we detected or
// a local Close (code NO_ERROR).
type TransportError struct {
	Code      TransportErrorCode
	FrameType FrameType // the frame that caused it, if any
	Reason    string
	Remote    bool
}

func (e *TransportError) Error() string {
	s := "limpet: connection closed by " + side(e.Remote) + ": " + e.Code.String()
	if e.FrameType != 0 {
		s += fmt.Sprintf(" in %v frame", e.FrameType)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Is makes a local close match net.ErrClosed.
func (e *TransportError) Is(target error) bool { return target == net.ErrClosed && !e.Remote }

// ApplicationError says a connection was closed by an application with
// CloseWithError: the peer's (Remote) or ours.
type ApplicationError struct {
	Code   ApplicationErrorCode
	Reason string
	Remote bool
}

func (e *ApplicationError) Error() string {
	s := fmt.Sprintf("limpet: connection closed by %s application: code %d", side(e.Remote), e.Code)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Is makes a local close match net.ErrClosed.
func (e *ApplicationError) Is(target error) bool { return target == net.ErrClosed && !e.Remote }

func side(remote bool) string {
	if remote {
		return "peer"
	}
	return "us"
}

// IdleTimeoutError says nothing was received for the idle timeout
// (docs/PROTOCOL.md section 9). It is a net.Error with Timeout true.
type IdleTimeoutError struct{}

func (*IdleTimeoutError) Error() string {
	return "limpet: idle timeout: nothing received from the peer"
}
func (*IdleTimeoutError) Timeout() bool   { return true }
func (*IdleTimeoutError) Temporary() bool { return false }

// HandshakeTimeoutError says the handshake did not complete within
// Config.HandshakeTimeout: the server is unreachable, or it does not hold
// the pinned key. It is a net.Error with Timeout true.
type HandshakeTimeoutError struct{}

func (*HandshakeTimeoutError) Error() string {
	return "limpet: handshake timeout (server unreachable, or it does not hold the pinned key)"
}
func (*HandshakeTimeoutError) Timeout() bool   { return true }
func (*HandshakeTimeoutError) Temporary() bool { return false }

// StreamError reports that a stream was reset (RESET_STREAM) or asked to stop
// (STOP_SENDING) by either side.
type StreamError struct {
	StreamID StreamID
	Code     ApplicationErrorCode
	Remote   bool
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("limpet: stream %d canceled by %s with code %d", e.StreamID, side(e.Remote), e.Code)
}

// DeliveryError is returned by a stream's Write, Close and WaitConsumed once
// the stream or its connection has failed. It says exactly how far the data
// got, so a program knows what to send again after reconnecting:
// Sent ≥ Acked ≥ Consumed, all as byte offsets into the stream.
type DeliveryError struct {
	Err      error // the cause: *TransportError, *StreamError, *IdleTimeoutError, …
	Sent     int64 // bytes handed to the network at least once
	Acked    int64 // contiguous bytes the peer's transport acknowledged
	Consumed int64 // bytes the peer application has read (delivery receipts)
}

func (e *DeliveryError) Error() string {
	return fmt.Sprintf("%v (sent %d, acked %d, consumed by peer %d bytes)", e.Err, e.Sent, e.Acked, e.Consumed)
}

func (e *DeliveryError) Unwrap() error { return e.Err }

var (
	// ErrIdleTimeout is the *IdleTimeoutError connections end with.
	ErrIdleTimeout error = &IdleTimeoutError{}
	// ErrHandshakeTimeout is the *HandshakeTimeoutError Dial fails with.
	ErrHandshakeTimeout error = &HandshakeTimeoutError{}
	// ErrStatelessReset: the peer no longer knows the connection (it
	// restarted or dropped state) and said so with a stateless reset.
	ErrStatelessReset = errors.New("limpet: connection reset by peer (stateless reset)")
	// ErrListenerClosed is returned by Accept and Dial after the Endpoint
	// or Listener was closed; it matches net.ErrClosed.
	ErrListenerClosed = fmt.Errorf("limpet: endpoint closed: %w", net.ErrClosed)
	// ErrInvalidConfig is what every error about a Config, or a call the
	// endpoint was not configured for, wraps.
	ErrInvalidConfig = errors.New("limpet: invalid configuration")
	// ErrStreamClosed is returned by Read after Close or CloseRead, and by
	// Write after Close or CloseWrite; it matches net.ErrClosed.
	ErrStreamClosed = fmt.Errorf("limpet: stream closed: %w", net.ErrClosed)
	// ErrMigrationDisabled is returned by Migrate when the server sent
	// the disable_active_migration transport parameter (RFC 9000 §18.2):
	// the client may not move to another socket. A NAT rebinding, which
	// the client does not choose, is still followed.
	ErrMigrationDisabled = errors.New("limpet: migrate: the server disabled active migration")
)

// deadlineError wraps os.ErrDeadlineExceeded and is a net.Error with Timeout.
type deadlineError struct{}

func (deadlineError) Error() string   { return "limpet: i/o deadline exceeded" }
func (deadlineError) Timeout() bool   { return true }
func (deadlineError) Temporary() bool { return true }
func (deadlineError) Unwrap() error   { return os.ErrDeadlineExceeded }

var errDeadline error = deadlineError{}
