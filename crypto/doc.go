// Package crypto holds limpet's cryptography: static keys, the Noise IK
// handshake, packet protection (AEAD and header protection), the 1-RTT key
// schedule with key update, Retry and address tokens, and stateless reset
// tokens. It follows docs/PROTOCOL.md section 4 ("Keys and packet
// protection"), which adapts RFC 9001 to a Noise handshake.
//
// The package is sans-IO: it never touches sockets, starts goroutines or reads
// the clock. Every method that depends on time takes a now argument, and
// handshake messages go in and out as byte slices, the way crypto/tls.QUICConn
// works. It does not import any other limpet package: it operates on raw packet
// bytes and offsets, and the caller (package transport) parses headers and
// reconstructs full packet numbers with package packet.
//
// # Usage
//
// A client builds message 1 with NewClientHandshake, derives Initial keys with
// NewInitialKeys from the server's pinned public key and its first destination
// connection ID, and sends message 1 in CRYPTO frames of Initial packets. A
// server keeps one long-lived Server (it owns the replay cache) and calls
// Accept for each new message 1; it answers with message 2 and obtains a
// HandshakeResult whose AppKeys protect 1-RTT packets. The client obtains its
// HandshakeResult from ReadServerHello.
//
// Protecting a packet happens in place in one buffer: the caller writes the
// header, the truncated packet number and the plaintext, leaves 16 bytes of
// spare capacity for the tag, and calls Seal. To open, the caller calls
// UnprotectHeader (which reveals the packet number length, the truncated packet
// number and the first byte), reconstructs the full packet number and calls
// Open. Neither path allocates.
//
// # Limitations
//
// Sealer, Opener and AppKeys keep scratch buffers and are not safe for
// concurrent use; each belongs to the goroutine that owns its connection.
// Server is safe for concurrent use. Initial packets always use AES-128-GCM.
package crypto
