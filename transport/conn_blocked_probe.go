package transport

import "time"

// A sender waiting for the peer's credit with nothing in flight has no
// probe timeout running, and the peer may think its credit arrived. If the
// MAX_DATA went to an address this end no longer has (its address changed
// just after its last packet was acknowledged), neither end would send
// again: the peer probes the old address and this end waits. So a blocked
// sender repeats its DATA_BLOCKED or STREAM_DATA_BLOCKED on the probe
// timeout's schedule (RFC 9000 §4.1: periodically, when nothing
// ack-eliciting is in flight); from a new address that is also what tells
// the peer where this end went.

// blockedProbeAt is when a blocked sender with nothing in flight repeats
// its blocked frames, or zero when none is due.
func (c *Conn) blockedProbeAt() time.Time {
	if !c.limit.connBlocked && len(c.limit.creditBlocked) == 0 {
		return time.Time{}
	}
	if c.loss.History().HasAckElicitingInFlight() {
		return time.Time{} // the probe timeout covers it
	}
	pto := c.loss.rtt.PTO(c.peerParams.MaxAckDelay)
	d := pto << min(c.limit.blockedProbes, 16)
	d = min(d, max(pto, maxPTOInterval))
	return c.idle.lastAckElicit.Add(d)
}

// onBlockedProbeTimer re-arms the blocked frames if their time has come,
// or a PING if none is (a packet must go, or the timer would stay due).
func (c *Conn) onBlockedProbeTimer(now time.Time) {
	at := c.blockedProbeAt()
	if at.IsZero() || now.Before(at) {
		return
	}
	armed := c.limit.connBlocked && c.streams.connSend.RepeatBlocked()
	for s := range c.limit.creditBlocked {
		s.mu.Lock()
		ok := s.send.RepeatBlocked()
		s.mu.Unlock()
		if ok {
			c.queueCtrl(s)
			armed = true
		}
	}
	if !armed {
		c.loss.pingDue = true
	}
	c.limit.blockedProbes++
}

// onPeerBlocked answers a DATA_BLOCKED (s nil) or STREAM_DATA_BLOCKED at a
// limit below what this end has granted: the grant was lost or went to an
// address the peer no longer has, so it goes again now rather than at our
// next probe timeout.
func (c *Conn) onPeerBlocked(s *Stream, limit int64) {
	if s == nil {
		if limit < c.streams.connRecv.Limit() {
			c.streams.connRecv.OnUpdateLost(c.streams.connRecv.Limit())
		}
		return
	}
	s.mu.Lock()
	stale := s.recv != nil && limit < s.recv.Limit()
	if stale {
		s.recv.OnWindowUpdateLost(s.recv.Limit())
	}
	s.mu.Unlock()
	if stale {
		c.queueCtrl(s)
	}
}
