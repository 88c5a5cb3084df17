package crypto

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
)

// StatelessResetTokenLen is the length of a stateless reset token.
const StatelessResetTokenLen = 16

// MinStatelessResetLen is the shortest stateless reset limpet sends: long
// enough to pass for a short-header packet with an 8-byte connection ID, a
// packet number, a minimal payload and a tag (docs/PROTOCOL.md section 2.4).
// A packet of this length or shorter is never answered with a reset, so that
// two endpoints cannot trade resets forever.
const MinStatelessResetLen = 43

// ErrNoStatelessReset reports that the packet that provoked a reset is too
// short to be answered with one.
var ErrNoStatelessReset = errors.New("crypto: packet too short to answer with a stateless reset")

// InstanceSecret derives the secret of one server instance among those
// sharing a secret: HMAC-SHA256(secret, "limpet instance " || instance)
// (docs/PROTOCOL.md section 4.7). A server derives its stateless reset
// tokens from it, so that one instance never answers with a valid reset
// for a connection another instance holds: otherwise anyone who sees a
// connection ID could send it to a second server of the fleet and forward
// the reset it gets back to kill the connection.
func InstanceSecret(secret [32]byte, instance string) [32]byte {
	mac := hmac.New(sha256.New, secret[:])
	mac.Write([]byte("limpet instance "))
	mac.Write([]byte(instance))
	var out [32]byte
	mac.Sum(out[:0])
	return out
}

// StatelessResetToken returns the stateless reset token for a connection ID
// this server issued: HMAC-SHA256(Expand-Label(secret, "reset", 32),
// cid)[:16] (docs/PROTOCOL.md section 4.7). Because it is derived, a server
// that lost a connection's state can still compute the token.
func (p *TokenProtector) StatelessResetToken(cid []byte) [StatelessResetTokenLen]byte {
	mac := hmac.New(sha256.New, p.resetKey)
	mac.Write(cid)
	var sum [sha256.Size]byte
	var token [StatelessResetTokenLen]byte
	copy(token[:], mac.Sum(sum[:0]))
	return token
}

// AppendStatelessReset appends to b a stateless reset carrying token, in
// answer to a packet of triggerLen bytes: a first byte 01xxxxxx with random
// low bits, random bytes, then the token, one byte shorter than the trigger.
// It fails with ErrNoStatelessReset if triggerLen is MinStatelessResetLen or
// less. rng supplies the unpredictable bytes; nil means crypto/rand.
func AppendStatelessReset(b []byte, token [StatelessResetTokenLen]byte, triggerLen int, rng io.Reader) ([]byte, error) {
	if triggerLen <= MinStatelessResetLen {
		return b, ErrNoStatelessReset
	}
	if rng == nil {
		rng = rand.Reader
	}
	n := triggerLen - 1
	start := len(b)
	b = append(b, make([]byte, n-StatelessResetTokenLen)...)
	if _, err := io.ReadFull(rng, b[start:]); err != nil {
		return b[:start], err
	}
	b[start] = 0x40 | b[start]&0x3f
	return append(b, token[:]...), nil
}

// IsStatelessReset reports, in constant time, whether a datagram that could
// not be opened ends with token, which makes it a stateless reset from the
// peer (RFC 9000 section 10.3.1).
func IsStatelessReset(datagram []byte, token [StatelessResetTokenLen]byte) bool {
	if len(datagram) < MinStatelessResetLen {
		return false
	}
	return subtle.ConstantTimeCompare(datagram[len(datagram)-StatelessResetTokenLen:], token[:]) == 1
}
