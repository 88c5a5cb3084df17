package transport

import (
	"errors"
	"fmt"
	"os"

	"github.com/limpetnet/limpet/packet"
)

// ApplicationErrorCode is an error code chosen by the application, carried in
// RESET_STREAM, STOP_SENDING and application CONNECTION_CLOSE frames.
type ApplicationErrorCode uint64

// ConnError is why a connection ended. Local says which side closed it.
// Application errors (CloseWithError) have App set and the application's
// code in AppCode; transport errors carry a TransportErrorCode and, where
// relevant, the frame type that caused them.
type ConnError struct {
	Local     bool
	App       bool
	Code      packet.TransportErrorCode
	AppCode   ApplicationErrorCode
	FrameType packet.FrameType
	Reason    string
}

func (e *ConnError) Error() string {
	side := "remote"
	if e.Local {
		side = "local"
	}
	if e.App {
		if e.Reason == "" {
			return fmt.Sprintf("limpet: connection closed by %s application: code %d", side, e.AppCode)
		}
		return fmt.Sprintf("limpet: connection closed by %s application: code %d: %s", side, e.AppCode, e.Reason)
	}
	s := fmt.Sprintf("limpet: connection closed (%s): %v", side, e.Code)
	if e.FrameType != 0 {
		s += fmt.Sprintf(" in %v frame", e.FrameType)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Is makes errors.Is(err, ErrConnClosed) true for every ConnError that ends
// a connection without fault (NO_ERROR or application close).
func (e *ConnError) Is(target error) bool {
	return target == ErrConnClosed && (e.App || e.Code == packet.NoError)
}

// StreamError reports that a stream was reset (RESET_STREAM) or asked to stop
// (STOP_SENDING) by either side.
type StreamError struct {
	StreamID packet.StreamID
	Code     ApplicationErrorCode
	Remote   bool
}

func (e *StreamError) Error() string {
	side := "locally"
	if e.Remote {
		side = "by peer"
	}
	return fmt.Sprintf("limpet: stream %d canceled %s with code %d", e.StreamID, side, e.Code)
}

// DeliveryError is returned by a stream's Write, Close and WaitConsumed once
// the stream or its connection has failed. It says exactly how far the data
// got, so a program knows what to send again after reconnecting:
// Sent ≥ Acked ≥ Consumed, all as byte offsets into the stream.
type DeliveryError struct {
	Err      error // the cause: *ConnError, *StreamError, ErrIdleTimeout, …
	Sent     int64 // bytes handed to the network at least once
	Acked    int64 // contiguous bytes the peer's transport acknowledged
	Consumed int64 // bytes the peer application has read (delivery receipts)
}

func (e *DeliveryError) Error() string {
	return fmt.Sprintf("%v (sent %d, acked %d, consumed by peer %d bytes)", e.Err, e.Sent, e.Acked, e.Consumed)
}

func (e *DeliveryError) Unwrap() error { return e.Err }

var (
	// ErrConnClosed matches (errors.Is) a connection closed without fault.
	ErrConnClosed = errors.New("limpet: connection closed")
	// ErrIdleTimeout: nothing was received for the idle timeout.
	ErrIdleTimeout = errors.New("limpet: idle timeout")
	// ErrHandshakeTimeout: the handshake did not complete in time; the
	// server is unreachable, or it did not prove the pinned key.
	ErrHandshakeTimeout = errors.New("limpet: handshake timeout (server unreachable, or it does not hold the pinned key)")
	// ErrStatelessReset: the peer no longer knows the connection (it
	// restarted or dropped state) and said so with a stateless reset.
	ErrStatelessReset = errors.New("limpet: connection reset by peer (stateless reset)")
	// ErrListenerClosed is returned by Accept after Close.
	ErrListenerClosed = errors.New("limpet: listener closed")
	// ErrStreamClosed is returned by Write after Close or CancelWrite.
	ErrStreamClosed = errors.New("limpet: write on closed stream")
)

// errDeadline wraps os.ErrDeadlineExceeded and is a net.Error with Timeout.
type deadlineError struct{}

func (deadlineError) Error() string   { return "limpet: i/o deadline exceeded" }
func (deadlineError) Timeout() bool   { return true }
func (deadlineError) Temporary() bool { return true }
func (deadlineError) Unwrap() error   { return os.ErrDeadlineExceeded }

var errDeadline error = deadlineError{}
