package transport

import (
	"context"
	"fmt"

	"github.com/limpetnet/limpet/crypto"
)

// ConnectionState is what the handshake settled.
type ConnectionState struct {
	// PeerKey is the peer's static public key, proven in the handshake: the
	// pinned server key on a client, the client's key on a server (a random
	// one when the client has no PrivateKey).
	PeerKey crypto.PublicKey
	// CipherSuite protects the connection's 1-RTT packets.
	CipherSuite crypto.Suite
	// ApplicationProtocol is the protocol the server chose from the
	// client's Config.ApplicationProtocols, or "" if either side listed
	// none (docs/PROTOCOL.md section 6).
	ApplicationProtocol string
}

// ConnectionState returns what the handshake settled. It waits for the
// handshake; a connection that ended before it completed has the zero
// state.
func (c *Conn) ConnectionState() ConnectionState {
	select {
	case <-c.established:
	case <-c.done:
	}
	select {
	case <-c.established:
		return ConnectionState{PeerKey: c.hs.peerKey, CipherSuite: c.hs.suite, ApplicationProtocol: c.hs.appProto}
	default:
		return ConnectionState{}
	}
}

// ExportKeyingMaterial derives length bytes that only the two ends of this
// connection can compute, for an application's own keys or proofs, as
// TLS's exporter does (RFC 5705, RFC 8446 section 7.5): each label and
// context gives an unrelated value, and no two connections share one
// (docs/PROTOCOL.md section 4.6). It waits for the handshake and fails if
// the connection ended before it completed.
func (c *Conn) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	select {
	case <-c.established:
	case <-c.done:
	}
	select {
	case <-c.established:
		return crypto.ExportKeyingMaterial(c.hs.exporter, label, context, length)
	default:
		return nil, fmt.Errorf("limpet: no keying material: the handshake did not complete: %w", c.Err())
	}
}

// RemoteKey is the peer's static public key, ConnectionState().PeerKey.
// Servers use it to tell clients apart across addresses and connections.
func (c *Conn) RemoteKey() crypto.PublicKey { return c.ConnectionState().PeerKey }

// Context is cancelled when the connection ends; context.Cause then gives
// the same error as Err.
func (c *Conn) Context() context.Context { return c.ctx }
