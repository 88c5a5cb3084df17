package transport

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// Retry is stateless address validation (docs/PROTOCOL.md section 2.2,
// RFC 9000 §8.1.2). A Listener that wants proof of a new client's address
// answers its Initial with a Retry carrying a token sealed to the client's
// address and original DCID, and keeps nothing. The client starts its
// handshake again, echoing the token; the Listener opens the token, and only
// then does Noise work and creates a connection, whose address counts as
// validated at once.

// maxRetryTokenLen bounds the token a client accepts from a Retry, so that
// its Initial, which carries the token, message 1 and padding, still fits
// one datagram. A limpet server's tokens are crypto.MaxRetryTokenLen bytes
// at most.
const maxRetryTokenLen = 512

// retryPacket builds the Retry answering the Initial h from addr: a fresh
// SCID of the server's choosing and a token binding addr and the client's
// original DCID. It creates no state; the token carries everything the
// server needs when the client comes back (docs/PROTOCOL.md sections 2.2
// and 4.7).
func (e *Endpoint) retryPacket(h packet.LongHeader, addr netip.AddrPort, now time.Time) []byte {
	scid := newConnID()
	for scid == h.DstConnID {
		// A client discards a Retry whose SCID is its own original DCID
		// (RFC 9000 §17.2.5.2).
		scid = newConnID()
	}
	token := e.retryKey.NewRetryToken(addr, h.DstConnID.Bytes(), now)
	b := make([]byte, 0, 64+len(token)+packet.RetryTagLen)
	b = packet.AppendRetry(b, packet.Version, h.SrcConnID, scid, token)
	tag := crypto.RetryTag(h.DstConnID.Bytes(), b, e.pub)
	return append(b, tag[:]...)
}

// checkRetryToken opens the token of an Initial from addr and returns it
// and the original DCID it carries. A token that this server did not issue, that it
// issued to another address, or that is older than
// crypto.DefaultRetryTokenLifetime fails.
//
// The Initial carrying such a token is dropped without an answer. RFC 9000
// §8.1.2 suggests closing with INVALID_TOKEN instead, but a token that fails
// here was almost always replayed from a spoofed address (the honest
// failures are a client whose NAT rebound within one round trip, or one that
// has spent the whole default handshake timeout), and any answer would go
// to the spoofed address. A fresh Retry would not help either: a client
// follows one Retry per attempt.
func (e *Endpoint) checkRetryToken(token []byte, addr netip.AddrPort, now time.Time) (crypto.RetryToken, packet.ConnectionID, bool) {
	t, err := e.retryKey.OpenRetryToken(token, addr, now, crypto.DefaultRetryTokenLifetime)
	if err != nil {
		return t, packet.ConnectionID{}, false
	}
	cid, err := packet.NewConnectionID(t.ODCID)
	if err != nil {
		return t, packet.ConnectionID{}, false
	}
	return t, cid, true
}

// handleRetry follows a Retry from the server (docs/PROTOCOL.md section 2.2;
// RFC 9000 §17.2.5.2): the client starts its handshake again, with a new
// ephemeral key, towards the Retry's SCID, and echoes the token in every
// Initial from then on. Only the first Retry of the attempt, and only before
// any Initial from the server, is followed; any other is ignored. A
// malformed or forged Retry is counted and dropped, never fatal: anyone on
// the path can send one.
func (c *Conn) handleRetry(pkt []byte, h packet.LongHeader, from netip.AddrPort, now time.Time) {
	if c.isServer || c.state != stateHandshake || c.hs.retried ||
		c.hs.largestRx != packet.InvalidPacketNumber || from != c.path.peer {
		return
	}
	if h.DstConnID != c.ids.localCID || h.SrcConnID == c.hs.origDCID || len(h.Token) > maxRetryTokenLen {
		c.drop(&c.stats.malformed, len(pkt), dropInvalid)
		return
	}
	if !crypto.VerifyRetryTag(c.hs.origDCID.Bytes(), pkt, c.cfg.ServerKey) {
		c.drop(&c.stats.authFailed, len(pkt), dropDecryptionFailure)
		return
	}
	c.hs.retried = true
	c.hs.retrySrcCID = h.SrcConnID
	c.hs.retryToken = bytes.Clone(h.Token)
	c.stats.retries.Add(1)
	if err := c.startClientHandshake(h.SrcConnID, now); err != nil {
		c.abort(err)
		return
	}
	// The new message 1 goes out at once, and its retransmission schedule
	// starts afresh (RFC 9002 §6.2.2.1). Initial packet numbers go on
	// where they were (RFC 9000 §17.2.5.3).
	c.hs.backoff = 0
	c.hs.resendAt = now
}

// checkServerConnIDs checks the connection IDs in the server's transport
// parameters, which the handshake authenticates (RFC 9000 §7.3): the SCID
// of its Initial packets and, after a Retry, the client's original DCID and
// the Retry's SCID. They prove that the server itself sent the Retry the
// client followed, and that no Retry was hidden from it. It returns why the
// parameters are wrong, or "".
func (c *Conn) checkServerConnIDs(p packet.TransportParameters) string {
	switch {
	case !p.HasInitialSrcConnID || p.InitialSrcConnID != c.ids.remoteCID:
		return "server connection ID does not match its handshake"
	case c.hs.retried && !p.HasOriginalDstConnID,
		p.HasOriginalDstConnID && p.OriginalDstConnID != c.hs.origDCID:
		return "original_destination_connection_id does not match the client's first Initial"
	case c.hs.retried && (!p.HasRetrySrcConnID || p.RetrySrcConnID != c.hs.retrySrcCID):
		return "retry_source_connection_id does not match the Retry"
	case !c.hs.retried && p.HasRetrySrcConnID:
		return "retry_source_connection_id without a Retry"
	}
	return ""
}

// initialHeader is the header of the Initial packets this end sends: a
// client that followed a Retry carries its token in every one.
func (c *Conn) initialHeader() packet.LongHeader {
	return packet.LongHeader{
		Type:      packet.LongTypeInitial,
		Version:   packet.Version,
		DstConnID: c.ids.remoteCID,
		SrcConnID: c.ids.localCID,
		Token:     c.hs.retryToken,
	}
}
