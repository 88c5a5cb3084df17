package session

import (
	"errors"
	"fmt"
	"net"

	"github.com/limpetnet/limpet/transport"
)

// RefusalCode says why a server would not carry a session on a
// connection.
type RefusalCode uint64

const (
	// RefusedUnknown: the server holds no such session for this client:
	// it restarted, evicted the session, let it expire, or the session
	// belongs to another key. The answer is the same in every case, so
	// that it tells a stranger nothing.
	RefusedUnknown RefusalCode = 1
	// RefusedProof: the client's resumption proof did not verify.
	RefusedProof RefusalCode = 2
	// RefusedProtocol: the hello was malformed or named an unknown version.
	RefusedProtocol RefusalCode = 3
	// RefusedBusy: the server is at its limit of sessions.
	RefusedBusy RefusalCode = 4
)

func (c RefusalCode) String() string {
	switch c {
	case RefusedUnknown:
		return "unknown or expired session"
	case RefusedProof:
		return "resumption proof failed"
	case RefusedProtocol:
		return "session protocol error"
	case RefusedBusy:
		return "server at its session limit"
	}
	return fmt.Sprintf("refusal %d", uint64(c))
}

// RefusedError is a server's refusal to carry a session.
type RefusedError struct {
	Code   RefusalCode
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Reason == "" {
		return "limpet/session: server refused the session: " + e.Code.String()
	}
	return fmt.Sprintf("limpet/session: server refused the session: %v (%s)", e.Code, e.Reason)
}

// StreamDelivery is how far one stream's data got when its session was
// lost, in the terms of transport.DeliveryError: byte offsets into the
// stream, Written ≥ Sent ≥ Acked ≥ Consumed.
type StreamDelivery struct {
	StreamID uint64
	Written  int64 // bytes the application wrote
	Sent     int64 // bytes handed to a connection at least once
	Acked    int64 // bytes the peer's transport acknowledged (at least Consumed)
	Consumed int64 // bytes the peer application has read
	// Received is how many bytes of the peer's data this end's
	// application read, so that both directions can be resumed.
	Received int64
}

// LostError ends a session that could not be resumed: the server
// refused it (Err is a *RefusedError), the session's lifetime passed
// without a connection (Err is ErrExpired), or the peer broke the
// session protocol. Streams says how far every stream got, so that the
// application can carry on by itself.
type LostError struct {
	Err     error
	Streams []StreamDelivery
}

func (e *LostError) Error() string {
	return fmt.Sprintf("limpet/session: session lost: %v", e.Err)
}

func (e *LostError) Unwrap() error { return e.Err }

// ClosedError ends a session that either side's application closed.
type ClosedError struct {
	Code   transport.ApplicationErrorCode
	Reason string
	Remote bool
}

func (e *ClosedError) Error() string {
	who := "locally"
	if e.Remote {
		who = "by the peer"
	}
	if e.Reason == "" {
		return fmt.Sprintf("limpet/session: session closed %s (code %d)", who, e.Code)
	}
	return fmt.Sprintf("limpet/session: session closed %s (code %d): %s", who, e.Code, e.Reason)
}

// Is makes a local close match net.ErrClosed, as the transport's errors do.
func (e *ClosedError) Is(target error) bool { return target == net.ErrClosed && !e.Remote }

var (
	// ErrExpired: the session went longer than its lifetime without a
	// connection.
	ErrExpired = errors.New("limpet/session: no connection within the session lifetime")
	// ErrEvicted: a server dropped the suspended session to stay within
	// MaxSuspended or MaxSuspendedBytes.
	ErrEvicted = errors.New("limpet/session: suspended session evicted")
	// ErrStreamClosed is returned by Read after Close or CloseRead, and
	// by Write after Close or CloseWrite; it matches net.ErrClosed.
	ErrStreamClosed = transport.ErrStreamClosed
	// errProtocol wraps a peer's breach of the session protocol.
	errProtocol = errors.New("limpet/session: protocol violation")
)

// Application error codes the session layer closes connections with
// (docs/PROTOCOL.md section 13). A refusal closes the connection with
// codeRefusedBase + the RefusalCode.
const (
	codeSessionClosed transport.ApplicationErrorCode = 0x5e55_0000 + iota
	codeSessionMoved
	codeProtocol
	codeRefusedBase transport.ApplicationErrorCode = 0x5e55_0100
)
