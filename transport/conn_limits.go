package transport

import (
	"time"

	"log/slog"

	"github.com/limpetnet/limpet/transport/qlog"
)

// limitKind is what the connection's sender was doing, or what held it
// back while it was not sending: the states of the bottleneck report
// (BottleneckReport).
type limitKind uint8

const (
	limitApplication limitKind = iota // nothing to send
	limitCwnd                         // the congestion window is full
	limitPacing                       // the pacer holds the next packet
	limitPeerStream                   // data waits for the peer's stream credit
	limitPeerConn                     // data waits for the peer's connection credit
	limitSocket                       // the socket: a send blocked or failed
	limitCPU                          // the loop busy: opening, processing, building and sealing packets
	limitKinds
)

func (k limitKind) String() string {
	return [...]string{"application", "congestion_window", "pacing", "peer_stream_window", "peer_connection_window", "socket", "cpu"}[k]
}

// limitState accounts the connection's time, from the handshake's end, to
// what limited it (from one send to the next, conn_send.go), and the time
// the peer told us it was blocked by our own flow-control credit.
type limitState struct {
	// The time since since is charged to state; total holds what was
	// charged before. Stats adds the open interval (publishStats).
	state limitKind
	since time.Time
	total [limitKinds]time.Duration
	// classified is what held the sender back after the last send: the
	// state between sends, logged when it changes.
	classified limitKind

	// Streams waiting for the peer's stream credit, and whether data
	// waits for its connection credit; pruned when they no longer do.
	creditBlocked map[*Stream]struct{}
	connBlocked   bool
	// blockedProbes counts blocked frames repeated with nothing in
	// flight since credit last came (conn_blocked_probe.go).
	blockedProbes int

	// The peer blocked on our credit: since when (zero if not), at what
	// limit, and for how long in all, per connection and for any stream.
	ownConnSince, ownStreamSince time.Time
	ownConnLimit                 int64
	ownBlockedStreams            map[*Stream]int64
	ownConn, ownStream           time.Duration
}

// charge adds the time from since to t to the current state.
func (l *limitState) charge(t time.Time) {
	if d := t.Sub(l.since); d > 0 {
		l.total[l.state] += d
	}
	l.since = t
}

// chargeSend charges a WriteBatch that ran from start to end: the time
// the socket made it wait (blocked, from the Bind) to the socket, the rest
// to the CPU.
func (l *limitState) chargeSend(start, end time.Time, blocked time.Duration) {
	d := max(end.Sub(start), 0)
	blocked = min(max(blocked, 0), d)
	l.total[limitCPU] += d - blocked
	l.total[limitSocket] += blocked
	l.since = end
}

// setLimit makes k what the time from now on is charged to, logging a
// change of what held the sender back.
func (c *Conn) setLimit(k limitKind) {
	if k != c.limit.classified {
		c.qlogEvent(qlog.Limited, slog.String("old", c.limit.classified.String()), slog.String("new", k.String()))
		c.limit.classified = k
	}
	c.limit.state = k
}

// classifyLimit says what holds the sender back once send has built all
// it could: sendFailed if the socket refused the last batch.
func (c *Conn) classifyLimit(now time.Time, sendFailed bool) limitKind {
	c.pruneCreditBlocked()
	switch {
	case sendFailed:
		return limitSocket
	case c.streams.sched.Len() > 0:
		if !c.loss.cc.CanSend(c.cwndInFlight()) {
			return limitCwnd
		}
		if c.loss.pacer.TimeUntilSend(now) > 0 {
			return limitPacing
		}
		// Data that could go waits only for the next batch.
		return limitCPU
	}
	// Nothing more may go for want of data or credit: rate samples from
	// now on understate the path (BBR).
	if a, ok := c.loss.cc.(interface{ OnAppLimited() }); ok {
		a.OnAppLimited()
	}
	switch {
	case c.limit.connBlocked:
		return limitPeerConn
	case len(c.limit.creditBlocked) > 0:
		return limitPeerStream
	}
	return limitApplication
}

// pruneCreditBlocked forgets streams that no longer wait for stream
// credit (their data went, or they were reset), and the connection's
// block once it has credit again.
func (c *Conn) pruneCreditBlocked() {
	for s := range c.limit.creditBlocked {
		s.mu.Lock()
		blocked := s.send.CreditBlocked()
		s.mu.Unlock()
		if !blocked {
			delete(c.limit.creditBlocked, s)
		}
	}
	if c.limit.connBlocked && c.streams.connSend.Available() > 0 {
		c.limit.connBlocked = false
	}
	if !c.limit.connBlocked && len(c.limit.creditBlocked) == 0 {
		c.limit.blockedProbes = 0
	}
}

// noteCreditBlocked records that s has data its stream credit or the
// connection's does not cover.
func (c *Conn) noteCreditBlocked(s *Stream) {
	if !s.send.HasUnsent() {
		return
	}
	if s.send.CreditBlocked() {
		if c.limit.creditBlocked == nil {
			c.limit.creditBlocked = make(map[*Stream]struct{})
		}
		c.limit.creditBlocked[s] = struct{}{}
	} else if c.streams.connSend.Available() == 0 {
		c.limit.connBlocked = true
	}
}

// notePeerBlocked starts timing the peer waiting for our credit when its
// DATA_BLOCKED or STREAM_DATA_BLOCKED (s nil for the connection's) says it
// has sent all that limit allows. The wait ends when data past the limit
// arrives (notePeerResumed): from our side that interval is the peer's
// wait, shifted by the one-way delay, whether or not our larger credit was
// already on its way when the frame came.
func (c *Conn) notePeerBlocked(s *Stream, limit int64, now time.Time) {
	l := &c.limit
	if s == nil {
		if limit >= c.streams.connRecv.Received() && l.ownConnSince.IsZero() {
			l.ownConnSince, l.ownConnLimit = now, limit
		}
		return
	}
	if limit < s.recv.HighestReceived() {
		return // stale: data past it came already
	}
	if _, ok := l.ownBlockedStreams[s]; ok {
		return
	}
	if l.ownBlockedStreams == nil {
		l.ownBlockedStreams = make(map[*Stream]int64)
	}
	if len(l.ownBlockedStreams) == 0 {
		l.ownStreamSince = now
	}
	l.ownBlockedStreams[s] = limit
}

// notePeerResumed ends the peer's wait on s's credit, or the connection's,
// once data past the limit it was blocked at arrives (or s is gone:
// ended is set).
func (c *Conn) notePeerResumed(s *Stream, ended bool, now time.Time) {
	l := &c.limit
	if !l.ownConnSince.IsZero() && c.streams.connRecv.Received() > l.ownConnLimit {
		l.ownConn += now.Sub(l.ownConnSince)
		l.ownConnSince = time.Time{}
	}
	limit, ok := l.ownBlockedStreams[s]
	if !ok || (!ended && s.recv.HighestReceived() <= limit) {
		return
	}
	delete(l.ownBlockedStreams, s)
	if len(l.ownBlockedStreams) == 0 {
		l.ownStream += now.Sub(l.ownStreamSince)
		l.ownStreamSince = time.Time{}
	}
}

// endPeerWaits closes the intervals of the peer waiting for our credit.
func (l *limitState) endPeerWaits(now time.Time) {
	if !l.ownConnSince.IsZero() {
		l.ownConn += now.Sub(l.ownConnSince)
		l.ownConnSince = time.Time{}
	}
	if len(l.ownBlockedStreams) > 0 {
		l.ownStream += now.Sub(l.ownStreamSince)
		clear(l.ownBlockedStreams)
	}
	l.ownStreamSince = time.Time{}
}

// forgetStream drops a finished stream from the limit bookkeeping.
func (c *Conn) forgetStreamLimits(s *Stream, now time.Time) {
	delete(c.limit.creditBlocked, s)
	c.notePeerResumed(s, true, now)
}
