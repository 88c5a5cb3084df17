package transport

import (
	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// activeConnIDLimit is how many of the peer's connection IDs we hold, and
// announce in active_connection_id_limit (docs/PROTOCOL.md section 6).
const activeConnIDLimit = 4

// maxPendingRetirements bounds the peer's connection IDs we have retired
// and not yet sent RETIRE_CONNECTION_ID for: a peer that keeps issuing IDs
// and retiring them with Retire Prior To, while it acknowledges nothing
// (so our frames wait for the congestion window), would otherwise grow the
// list without end. RFC 9000 §5.1.2 asks for room for at least twice
// active_connection_id_limit and allows CONNECTION_ID_LIMIT_ERROR past it.
const maxPendingRetirements = 4 * activeConnIDLimit

// localConnID is a connection ID we issued: the peer may send to it.
type localConnID struct {
	seq   uint64
	cid   packet.ConnectionID
	token [packet.StatelessResetTokenLen]byte
	sent  bool // NEW_CONNECTION_ID sent (or not needed: sequence 0)
}

// remoteConnID is a connection ID the peer issued: we may send to it.
type remoteConnID struct {
	seq     uint64
	cid     packet.ConnectionID
	token   [packet.StatelessResetTokenLen]byte
	hasTok  bool
	retired bool // RETIRE_CONNECTION_ID due
}

// connIDs is a connection's connection-ID state (RFC 9000 §5.1), owned by
// the loop.
type connIDs struct {
	localCID  packet.ConnectionID // the peer puts it in DCID: the one it uses now
	remoteCID packet.ConnectionID // we put it in DCID
	// clientDCID is, on a server, the DCID of the client's Initial
	// packets, which routes to the connection until it ends.
	clientDCID packet.ConnectionID

	local         []localConnID
	nextLocalSeq  uint64
	remote        []remoteConnID
	activeRemote  int    // index in remote of the ID we send to
	retirePriorTo uint64 // the peer's largest Retire Prior To
	resetKey      *crypto.TokenProtector
}

// resetToken is the stateless reset token of one of our connection IDs:
// derived from the endpoint's reset key, so a server that restarts with the
// same key can still reset connections it has forgotten.
func (c *Conn) resetToken(cid packet.ConnectionID) [packet.StatelessResetTokenLen]byte {
	return c.ids.resetKey.StatelessResetToken(cid.Bytes())
}

// initConnIDs records the handshake connection IDs (sequence 0 both ways).
func (c *Conn) initConnIDs(peerToken *[packet.StatelessResetTokenLen]byte) {
	c.ids.local = append(c.ids.local[:0], localConnID{seq: 0, cid: c.ids.localCID, token: c.resetToken(c.ids.localCID), sent: true})
	c.ids.nextLocalSeq = 1
	r := remoteConnID{seq: 0, cid: c.ids.remoteCID}
	if peerToken != nil {
		r.token, r.hasTok = *peerToken, true
		c.ep.addResetToken(r.token, c)
	}
	c.ids.remote = append(c.ids.remote[:0], r)
	c.ids.activeRemote = 0
}

// issueConnIDs tops our issued IDs up to what the peer will hold.
func (c *Conn) issueConnIDs() {
	limit := min(int(c.peerParams.ActiveConnIDLimit), activeConnIDLimit)
	for len(c.ids.local) < limit {
		cid := newConnID()
		c.ids.local = append(c.ids.local, localConnID{seq: c.ids.nextLocalSeq, cid: cid, token: c.resetToken(cid)})
		c.ids.nextLocalSeq++
		c.ep.register(cid, c)
	}
}

// onNewConnectionID handles the peer's NEW_CONNECTION_ID.
func (c *Conn) onNewConnectionID(f packet.NewConnectionIDFrame) error {
	for i := range c.ids.remote {
		r := &c.ids.remote[i]
		if r.seq == f.SequenceNumber {
			if r.cid != f.ConnID || r.token != f.ResetToken {
				return protoErr(packet.ProtocolViolation, packet.FrameNewConnectionID, "connection ID sequence number reused")
			}
			return nil // a retransmission
		}
	}
	if f.SequenceNumber >= c.ids.retirePriorTo {
		c.ids.remote = append(c.ids.remote, remoteConnID{seq: f.SequenceNumber, cid: f.ConnID, token: f.ResetToken, hasTok: true})
		c.ep.addResetToken(f.ResetToken, c)
	} else {
		// Already retired by an earlier Retire Prior To: retire it at once.
		c.ids.remote = append(c.ids.remote, remoteConnID{seq: f.SequenceNumber, cid: f.ConnID, retired: true})
	}
	if f.RetirePriorTo > c.ids.retirePriorTo {
		c.ids.retirePriorTo = f.RetirePriorTo
		for i := range c.ids.remote {
			if c.ids.remote[i].seq < f.RetirePriorTo {
				c.retireRemote(i)
			}
		}
		if c.ids.remote[c.ids.activeRemote].retired {
			if !c.switchRemoteConnID() {
				return protoErr(packet.ProtocolViolation, packet.FrameNewConnectionID, "all connection IDs retired")
			}
		}
	}
	active := 0
	for _, r := range c.ids.remote {
		if !r.retired {
			active++
		}
	}
	if active > activeConnIDLimit {
		return protoErr(packet.ConnectionIDLimitError, packet.FrameNewConnectionID, "peer issued more connection IDs than active_connection_id_limit")
	}
	if len(c.ids.remote)-active > maxPendingRetirements {
		return protoErr(packet.ConnectionIDLimitError, packet.FrameNewConnectionID, "too many connection IDs waiting to be retired")
	}
	return nil
}

// retireRemote retires the peer's connection ID i: a RETIRE_CONNECTION_ID
// is due, and its reset token is no longer honoured (RFC 9000 §10.3.1)
// from now on, not only once that frame has gone.
func (c *Conn) retireRemote(i int) {
	r := &c.ids.remote[i]
	r.retired = true
	if r.hasTok {
		c.ep.removeResetToken(r.token, c)
		r.hasTok = false
	}
}

// switchRemoteConnID moves to an unused connection ID of the peer's and
// retires the current one, so packets on a new path cannot be linked to the
// old path by their connection ID. It reports false if none is spare.
func (c *Conn) switchRemoteConnID() bool {
	for i := range c.ids.remote {
		r := &c.ids.remote[i]
		if i != c.ids.activeRemote && !r.retired {
			c.retireRemote(c.ids.activeRemote)
			c.ids.activeRemote = i
			c.ids.remoteCID = r.cid
			return true
		}
	}
	return false
}

// onRetireConnectionID handles the peer's RETIRE_CONNECTION_ID: stop routing
// that ID and issue a fresh one.
func (c *Conn) onRetireConnectionID(f packet.RetireConnectionIDFrame) error {
	if f.SequenceNumber >= c.ids.nextLocalSeq {
		return protoErr(packet.ProtocolViolation, packet.FrameRetireConnectionID, "retiring a connection ID never issued")
	}
	for i, l := range c.ids.local {
		if l.seq == f.SequenceNumber {
			c.ep.unregisterID(l.cid, c)
			c.ids.local = append(c.ids.local[:i], c.ids.local[i+1:]...)
			if l.cid == c.ids.localCID && len(c.ids.local) > 0 {
				c.ids.localCID = c.ids.local[0].cid
			}
			c.issueConnIDs()
			return nil
		}
	}
	return nil // retired before
}

// appendConnIDFrames adds due NEW_CONNECTION_ID and RETIRE_CONNECTION_ID
// frames.
func (c *Conn) appendConnIDFrames(b []byte, limit int, rec *sentFrames) []byte {
	for i := range c.ids.local {
		l := &c.ids.local[i]
		if l.sent {
			continue
		}
		f := packet.NewConnectionIDFrame{SequenceNumber: l.seq, ConnID: l.cid, ResetToken: l.token}
		if len(b)+f.Len() > limit {
			return b
		}
		b = f.Append(b)
		l.sent = true
		rec.add(sentFrame{kind: sentNewConnID, offset: int64(l.seq)})
	}
	// Send due retirements and forget those IDs: we no longer use them and
	// need not honour resets for them (RFC 9000 §10.3.1). A lost
	// RETIRE_CONNECTION_ID comes back through onRetireLost.
	activeSeq := c.ids.remote[c.ids.activeRemote].seq
	keep := c.ids.remote[:0]
	for _, r := range c.ids.remote {
		if r.retired && r.seq != activeSeq {
			f := packet.RetireConnectionIDFrame{SequenceNumber: r.seq}
			if len(b)+f.Len() <= limit {
				if r.hasTok {
					c.ep.removeResetToken(r.token, c)
				}
				b = f.Append(b)
				rec.add(sentFrame{kind: sentRetireConnID, offset: int64(r.seq)})
				continue
			}
		}
		keep = append(keep, r)
	}
	c.ids.remote = keep
	for i, r := range c.ids.remote {
		if r.seq == activeSeq {
			c.ids.activeRemote = i
		}
	}
	return b
}

// onNewConnIDLost re-arms a NEW_CONNECTION_ID whose packet was lost.
func (c *Conn) onNewConnIDLost(seq uint64) {
	for i := range c.ids.local {
		if c.ids.local[i].seq == seq {
			c.ids.local[i].sent = false
		}
	}
}

// onRetireLost re-sends a lost RETIRE_CONNECTION_ID.
func (c *Conn) onRetireLost(seq uint64) {
	c.ids.remote = append(c.ids.remote, remoteConnID{seq: seq, retired: true})
}

// isStatelessReset reports whether an undecryptable datagram is a stateless
// reset from the peer (docs/PROTOCOL.md section 2.4).
func (c *Conn) isStatelessReset(b []byte) bool {
	if len(b) < 21 {
		return false
	}
	for _, r := range c.ids.remote {
		if r.hasTok && crypto.IsStatelessReset(b, r.token) {
			return true
		}
	}
	return false
}
