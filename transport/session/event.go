package session

import (
	"fmt"
	"time"
)

// EventKind names a session event.
type EventKind uint8

const (
	// EventConnectionLost: the connection carrying the session ended
	// without the session ending.
	EventConnectionLost EventKind = iota + 1
	// EventReconnecting: the client starts an attempt to reconnect.
	EventReconnecting
	// EventResumed: a new connection carries the session.
	EventResumed
	// EventLost: the session ended without being closed: it could not be
	// resumed, or (on a server) it expired or was evicted while suspended.
	EventLost
)

func (k EventKind) String() string {
	switch k {
	case EventConnectionLost:
		return "connection lost"
	case EventReconnecting:
		return "reconnecting"
	case EventResumed:
		return "resumed"
	case EventLost:
		return "session lost"
	}
	return fmt.Sprintf("event %d", uint8(k))
}

// Event is one thing that happened to a session.
type Event struct {
	Kind    EventKind
	Session *Session
	Time    time.Time
	// Err is why the connection or the session was lost, or why the
	// last attempt to reconnect failed.
	Err error
	// Attempt counts the attempts to reconnect since the connection was
	// lost (EventReconnecting, EventResumed).
	Attempt int
	// Resent is the bytes the resumption will send again: data the old
	// connection had sent but the peer application had not read
	// (EventResumed).
	Resent int64
	// Outage is how long the session went without a connection
	// (EventResumed).
	Outage time.Duration
}
