package transport

import (
	"time"

	"github.com/limpetnet/limpet/ackframes"
)

// idleState is the idle timeout and keepalive (RFC 9000 §10.1).
type idleState struct {
	timeout       time.Duration // negotiated: the smaller of both ends' max_idle_timeout
	lastRecv      time.Time     // last authenticated packet received
	base          time.Time     // the idle timer runs from here
	lastAckElicit time.Time     // last ack-eliciting packet sent
}

func (st *idleState) init(timeout time.Duration, now time.Time) {
	st.timeout = timeout
	st.lastRecv = now
	st.base = now
}

// onTimers runs every timer that has expired by now.
func (c *Conn) onTimers(now time.Time) {
	switch c.state {
	case stateClosed:
		return
	case stateHandshake:
		if !now.Before(c.hs.deadline) {
			c.terminate(ErrHandshakeTimeout)
			return
		}
	}
	if c.isServer && !c.hs.confirmed && !now.Before(c.hs.deadline) {
		c.terminate(ErrHandshakeTimeout)
		return
	}
	if !now.Before(c.idle.base.Add(c.idleTimeoutNow())) {
		c.terminate(ErrIdleTimeout)
		return
	}
	if c.keys == nil {
		return
	}
	if dl := c.loss.Deadline(&c.loss.rtt); !dl.IsZero() && !now.Before(dl) {
		var to ackframes.Timeout
		c.loss.lostBuf, to = c.loss.OnTimeout(now, &c.loss.rtt, c.loss.lostBuf[:0])
		switch to.Kind {
		case ackframes.TimeoutLoss:
			c.onLost(c.loss.lostBuf, to.PersistentCongestion, "time_threshold", now)
		case ackframes.TimeoutPTO:
			// Two probes, each ack-eliciting, carrying new or lost data if
			// there is any (RFC 9002 §6.2.4).
			c.loss.probes = 2
			c.stats.ptoCount.Add(1)
			// No ACK came to settle held FEC packets: send them again,
			// and protect what the open group has so far.
			c.fecReleaseHeld(now)
			if c.fec.enc != nil {
				c.fec.enc.Flush()
			}
			c.requeueOldestForProbe()
		}
	}
	c.onBlockedProbeTimer(now)
	if now.Sub(c.idle.lastRecv) >= rxShrinkAfter {
		c.rx.shrink()
	}
	c.checkPathTimers(now)
	c.maybeMigrate(now, nil)
	if c.cfg.KeepAlivePeriod > 0 && !now.Before(c.keepAliveAt()) {
		c.loss.pingDue = true
	}
	c.keys.DiscardExpiredKeys(now)
}

// rxShrinkAfter is how long a connection receives nothing before its
// receive queue gives back what bursts grew it to.
const rxShrinkAfter = time.Second

// idleTimeoutNow is the negotiated idle timeout, but never less than three
// probe timeouts (RFC 9000 §10.1).
func (c *Conn) idleTimeoutNow() time.Duration {
	return max(c.idle.timeout, 3*c.loss.rtt.PTO(c.peerParams.MaxAckDelay))
}

// keepAliveAt is when a PING is due to keep NAT mappings and the peer's
// idle timer alive.
func (c *Conn) keepAliveAt() time.Time {
	last := c.idle.lastRecv
	if c.idle.lastAckElicit.After(last) {
		last = c.idle.lastAckElicit
	}
	return last.Add(c.cfg.KeepAlivePeriod)
}

// nextDeadline is when the loop must next wake up without input.
func (c *Conn) nextDeadline(now time.Time) time.Time {
	next := now.Add(time.Hour)
	earlier := func(t time.Time) {
		if !t.IsZero() && t.Before(next) {
			next = t
		}
	}
	switch c.state {
	case stateHandshake:
		earlier(c.hs.deadline)
		earlier(c.hs.resendAt)
		return next
	}
	if c.isServer && !c.hs.confirmed {
		earlier(c.hs.deadline)
	}
	earlier(c.idle.base.Add(c.idleTimeoutNow()))
	if c.keys == nil {
		return next
	}
	if c.sendBudget() < minAppPacket {
		// Nothing can be sent on this unvalidated path until the peer
		// sends more; do not spin on ACK or pacing deadlines meanwhile,
		// nor on the probe timeout (RFC 9002 §6.2.2.1): once its backoff
		// reaches maxPTOInterval its deadline stays in the past until a
		// probe goes. Losses are still declared on time.
		earlier(c.loss.History().LossTime())
		if c.path.challengePending {
			earlier(c.path.challengeDeadline) // then the validated path comes back
		}
		return next
	}
	earlier(c.loss.Deadline(&c.loss.rtt))
	earlier(c.acks.AckDeadline())
	earlier(c.streams.receiptsAt) // zero while no receipt waits
	if c.cfg.KeepAlivePeriod > 0 {
		earlier(c.keepAliveAt())
	}
	earlier(c.streams.holdUntil)
	earlier(c.blockedProbeAt())
	if c.path.challengePending {
		earlier(c.path.challengeDeadline)
	}
	if (c.streams.sched.Len() > 0 || len(c.streams.ctrl) > 0) && c.loss.cc.CanSend(c.cwndInFlight()) {
		// Pacing holds data or stream control frames back (a
		// STREAM_DATA_BLOCKED due as the last credit went): wake when
		// the pacer allows the next send. If it allows it now, send
		// stopped for another reason: a full batch, to continue at once,
		// or a send budget too small for these frames on an unvalidated
		// path, which only the peer's next datagram raises (waking now
		// would spin).
		if d := c.loss.pacer.TimeUntilSend(now); d > 0 || c.tx.full {
			earlier(now.Add(d))
		}
	}
	if pe := c.keys.PreviousKeysExpiry(); !pe.IsZero() {
		earlier(pe)
	}
	return next
}
