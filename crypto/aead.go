package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// ErrDecrypt reports a packet whose AEAD authentication failed: it was
// corrupted, forged, or protected with keys this endpoint does not have. The
// packet must be dropped (and counted; see AppKeys for the integrity limit).
var ErrDecrypt = errors.New("crypto: packet authentication failed")

// ErrUnknownSuite reports a Suite value this implementation does not support.
var ErrUnknownSuite = errors.New("crypto: unknown cipher suite")

const ivLen = 12

// packetAEAD is one generation of payload protection: an AEAD key and the IV
// that packet numbers are XORed into. nonce is scratch space so that building
// a nonce does not allocate.
type packetAEAD struct {
	aead  cipher.AEAD
	iv    [ivLen]byte
	nonce [ivLen]byte
}

// newPacketAEAD derives the key and IV from a traffic secret
// (docs/PROTOCOL.md section 4.1).
func newPacketAEAD(suite Suite, secret []byte) (*packetAEAD, error) {
	if !suite.Known() {
		return nil, fmt.Errorf("%w: %v", ErrUnknownSuite, suite)
	}
	return newPacketAEADFromKey(suite, ExpandLabel(secret, "key", suite.keyLen()), ExpandLabel(secret, "iv", ivLen))
}

// newPacketAEADFromKey builds a packetAEAD from a derived key and IV.
func newPacketAEADFromKey(suite Suite, key, iv []byte) (*packetAEAD, error) {
	p := &packetAEAD{}
	copy(p.iv[:], iv)
	switch suite {
	case AES128GCM:
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		if p.aead, err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	case ChaCha20Poly1305:
		var err error
		if p.aead, err = chacha20poly1305.New(key); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: %v", ErrUnknownSuite, suite)
	}
	return p, nil
}

// makeNonce XORs the packet number, left-padded to 12 bytes big-endian, into
// the IV (RFC 9001 section 5.3).
func (p *packetAEAD) makeNonce(pn uint64) []byte {
	p.nonce = p.iv
	binary.BigEndian.PutUint64(p.nonce[ivLen-8:], binary.BigEndian.Uint64(p.iv[ivLen-8:])^pn)
	return p.nonce[:]
}

// seal encrypts packet[pnOffset+pnLen:] in place and appends the tag. The
// caller has checked the capacity.
func (p *packetAEAD) seal(packet []byte, pnOffset, pnLen int, pn uint64) []byte {
	hdrLen := pnOffset + pnLen
	payload := packet[hdrLen:]
	sealed := p.aead.Seal(payload[:0], p.makeNonce(pn), payload, packet[:hdrLen])
	return packet[:hdrLen+len(sealed)]
}

// open decrypts packet[pnOffset+pnLen:] in place and returns the plaintext.
// On failure the ciphertext may have been overwritten.
func (p *packetAEAD) open(packet []byte, pnOffset, pnLen int, pn uint64) ([]byte, error) {
	if pnOffset < 1 || pnLen < 1 || pnLen > MaxPacketNumberLen || pnOffset > len(packet)-pnLen-TagLen {
		return nil, ErrPacketTooShort
	}
	hdrLen := pnOffset + pnLen
	ciphertext := packet[hdrLen:]
	payload, err := p.aead.Open(ciphertext[:0], p.makeNonce(pn), ciphertext, packet[:hdrLen])
	if err != nil {
		return nil, ErrDecrypt
	}
	return payload, nil
}

// checkSealArgs panics when the caller broke Seal's contract. The transport
// builds every packet it seals, so these are bugs in limpet, not bad input.
func checkSealArgs(packet []byte, pnOffset, pnLen int) {
	if pnLen < 1 || pnLen > MaxPacketNumberLen || pnOffset < 1 || pnOffset+pnLen > len(packet) {
		panic(fmt.Sprintf("crypto: Seal: bad packet number field (offset %d, length %d, packet %d bytes)", pnOffset, pnLen, len(packet)))
	}
	if cap(packet)-len(packet) < TagLen {
		panic(fmt.Sprintf("crypto: Seal: packet buffer needs %d bytes of spare capacity for the tag, has %d", TagLen, cap(packet)-len(packet)))
	}
	if len(packet)+TagLen < MinProtectedLen(pnOffset) {
		panic(fmt.Sprintf("crypto: Seal: packet of %d bytes (tag included) is shorter than the %d bytes header protection needs; pad it", len(packet)+TagLen, MinProtectedLen(pnOffset)))
	}
}

// Sealer protects outgoing packets with one traffic secret: AEAD and header
// protection (docs/PROTOCOL.md section 4.2). Initial packets use a Sealer;
// 1-RTT packets use AppKeys, which adds key update.
//
// A Sealer is not safe for concurrent use.
type Sealer struct {
	aead *packetAEAD
	hp   headerProtector
}

// NewSealer derives the key, IV and header-protection key from a traffic
// secret for suite.
func NewSealer(suite Suite, secret []byte) (*Sealer, error) {
	a, err := newPacketAEAD(suite, secret)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: a, hp: newHeaderProtector(suite, ExpandLabel(secret, "hp", suite.keyLen()))}, nil
}

// Seal protects a packet in place and returns it, 16 bytes longer.
//
// packet holds the header, the truncated packet number (pnLen bytes at
// pnOffset, written by the caller, matching the length bits of packet[0]) and
// the plaintext payload; pn is the full packet number. packet must have at
// least 16 bytes of spare capacity for the tag, and the sealed packet must be
// at least MinProtectedLen(pnOffset) bytes long. Seal encrypts the payload
// with the header as associated data, appends the tag, then applies header
// protection. It does not allocate. It panics if the caller broke this
// contract, since the caller built the packet.
func (s *Sealer) Seal(packet []byte, pnOffset, pnLen int, pn uint64) []byte {
	checkSealArgs(packet, pnOffset, pnLen)
	packet = s.aead.seal(packet, pnOffset, pnLen, pn)
	s.hp.protect(packet, pnOffset, pnLen)
	return packet
}

// Opener removes protection from incoming packets protected with one
// traffic secret. It is not safe for concurrent use.
type Opener struct {
	aead *packetAEAD
	hp   headerProtector
}

// NewOpener derives the key, IV and header-protection key from a traffic
// secret for suite.
func NewOpener(suite Suite, secret []byte) (*Opener, error) {
	a, err := newPacketAEAD(suite, secret)
	if err != nil {
		return nil, err
	}
	return &Opener{aead: a, hp: newHeaderProtector(suite, ExpandLabel(secret, "hp", suite.keyLen()))}, nil
}

// UnprotectHeader removes header protection in place from a packet whose
// Packet Number field starts at pnOffset. It returns the packet number length
// and truncated packet number, and the now-clear first byte, from which the
// caller reads the reserved bits and (in a short header) the key phase.
// Whether packet[0] is a long or short header decides how many of its bits
// are unmasked. A packet shorter than MinProtectedLen(pnOffset) returns
// ErrPacketTooShort and is left unchanged.
//
// Header protection is not authenticated by itself: the values returned may
// be garbage until Open succeeds, so the caller must not act on them (beyond
// reconstructing the packet number) before that. A caller that finds the
// reserved bits non-zero after Open succeeds must close the connection with
// PROTOCOL_VIOLATION (RFC 9000 section 17.2).
func (o *Opener) UnprotectHeader(packet []byte, pnOffset int) (pnLen int, truncatedPN uint64, byte0 byte, err error) {
	return o.hp.unprotect(packet, pnOffset)
}

// Open authenticates and decrypts, in place, a packet whose header
// protection UnprotectHeader removed. pn is the full packet number the caller
// reconstructed from the truncated one. It returns the plaintext payload, a
// sub-slice of packet, or ErrDecrypt, in which case the payload bytes may
// have been overwritten (the packet is to be dropped anyway). A packet too
// short for its header and a tag is ErrPacketTooShort. It does not allocate.
func (o *Opener) Open(packet []byte, pnOffset, pnLen int, pn uint64) ([]byte, error) {
	return o.aead.open(packet, pnOffset, pnLen, pn)
}
