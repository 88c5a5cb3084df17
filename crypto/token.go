package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// DefaultRetryTokenLifetime is how long a Retry token stays valid
// (docs/PROTOCOL.md section 4.7): long enough for one round trip and a
// retransmission, short enough that a token copied off the network is soon
// useless.
const DefaultRetryTokenLifetime = 10 * time.Second

const (
	tokenNonceLen = 12
	// tokenPlainFixedLen is IssueTimeMillis (8) || ODCID Length (1).
	tokenPlainFixedLen = 8 + 1
	// MaxRetryTokenLen is the longest token NewRetryToken produces.
	MaxRetryTokenLen = tokenNonceLen + tokenPlainFixedLen + maxConnIDLen + TagLen
)

var (
	// ErrInvalidToken reports a token that this server did not issue, that
	// was altered, or that was issued to a different client address.
	ErrInvalidToken = errors.New("crypto: invalid address token")
	// ErrTokenExpired reports a genuine token older than its lifetime.
	ErrTokenExpired = errors.New("crypto: address token expired")
)

// TokenProtector issues and validates the address-validation tokens a server
// puts in Retry packets, and derives stateless reset tokens, all from one
// 32-byte server secret (docs/PROTOCOL.md section 4.7). Tokens are
// AES-256-GCM sealed, so the server keeps no per-token state, and bound to
// the client's address through the associated data. It is safe for
// concurrent use.
type TokenProtector struct {
	aead     cipher.AEAD
	resetKey []byte
}

// NewTokenProtector derives the token and reset keys from a server secret of
// 32 random bytes. A server that keeps its secret across restarts can still
// validate its tokens and reset connections it has forgotten.
func NewTokenProtector(secret [32]byte) *TokenProtector {
	block, err := aes.NewCipher(ExpandLabel(secret[:], "token", 32))
	if err != nil {
		panic("crypto: AES-256 with a 32-byte key: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("crypto: GCM: " + err.Error())
	}
	return &TokenProtector{aead: aead, resetKey: ExpandLabel(secret[:], "reset", 32)}
}

// tokenAD is the client's address as 16 bytes (IPv4 addresses in their
// IPv4-mapped form, so a dual-stack socket's two spellings agree) and port.
func tokenAD(addr netip.AddrPort) [18]byte {
	var ad [18]byte
	ip := addr.Addr().As16()
	copy(ad[:16], ip[:])
	binary.BigEndian.PutUint16(ad[16:], addr.Port())
	return ad
}

// NewRetryToken returns a token for a Retry sent to addr in answer to an
// Initial whose destination connection ID was odcid (at most 20 bytes; it
// panics on longer, which the packet parser never produces). The nonce comes
// from crypto/rand.
func (p *TokenProtector) NewRetryToken(addr netip.AddrPort, odcid []byte, now time.Time) []byte {
	if len(odcid) > maxConnIDLen {
		panic(fmt.Sprintf("crypto: NewRetryToken: ODCID of %d bytes", len(odcid)))
	}
	token := make([]byte, tokenNonceLen, tokenNonceLen+tokenPlainFixedLen+len(odcid)+TagLen)
	rand.Read(token) // never fails since Go 1.24
	plain := token[tokenNonceLen:]
	plain = binary.BigEndian.AppendUint64(plain, uint64(now.UnixMilli()))
	plain = append(plain, byte(len(odcid)))
	plain = append(plain, odcid...)
	ad := tokenAD(addr)
	return p.aead.Seal(token, token[:tokenNonceLen], plain, ad[:])
}

// RetryToken is what an opened Retry token says.
type RetryToken struct {
	ODCID  []byte    // the client's original destination connection ID
	Issued time.Time // when the Retry was sent, to the millisecond
	ID     [tokenNonceLen]byte
}

// ValidateRetryToken checks a token from a client's Initial sent from addr
// and returns the original destination connection ID it carries, which the
// server echoes in its transport parameters. It returns ErrInvalidToken for
// a token it did not issue to addr (authentication is constant-time) and
// ErrTokenExpired for one issued more than lifetime before now.
func (p *TokenProtector) ValidateRetryToken(token []byte, addr netip.AddrPort, now time.Time, lifetime time.Duration) ([]byte, error) {
	t, err := p.OpenRetryToken(token, addr, now, lifetime)
	return t.ODCID, err
}

// OpenRetryToken is ValidateRetryToken returning everything the token
// says: also when it was issued (the server's Retry round trip measures
// the path) and its unique ID (for SpentTokens).
func (p *TokenProtector) OpenRetryToken(token []byte, addr netip.AddrPort, now time.Time, lifetime time.Duration) (RetryToken, error) {
	if len(token) < tokenNonceLen+tokenPlainFixedLen+TagLen || len(token) > MaxRetryTokenLen {
		return RetryToken{}, fmt.Errorf("%w: %d bytes", ErrInvalidToken, len(token))
	}
	ad := tokenAD(addr)
	plain, err := p.aead.Open(nil, token[:tokenNonceLen], token[tokenNonceLen:], ad[:])
	if err != nil {
		return RetryToken{}, ErrInvalidToken
	}
	if len(plain) < tokenPlainFixedLen || int(plain[8]) != len(plain)-tokenPlainFixedLen {
		// Only a server with our secret could have sealed this.
		return RetryToken{}, fmt.Errorf("%w: bad plaintext layout", ErrInvalidToken)
	}
	issued := time.UnixMilli(int64(binary.BigEndian.Uint64(plain)))
	if age := now.Sub(issued); age > lifetime {
		return RetryToken{}, fmt.Errorf("%w: issued %v ago, lifetime %v", ErrTokenExpired, age, lifetime)
	}
	t := RetryToken{ODCID: plain[tokenPlainFixedLen:], Issued: issued}
	copy(t.ID[:], token)
	return t, nil
}
