package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"

	"golang.org/x/crypto/chacha20"
)

// Header protection (docs/PROTOCOL.md section 4.2, RFC 9001 section 5.4)
// masks the first byte's low bits and the packet number with 5 bytes derived
// from a 16-byte sample of the ciphertext.
const (
	// SampleOffset is how far after the start of the Packet Number field the
	// header-protection sample begins: the sample is taken as if the packet
	// number were 4 bytes long.
	SampleOffset = 4
	// SampleLen is the length of the header-protection sample.
	SampleLen = 16
	// TagLen is the length of the AEAD authentication tag every protected
	// packet ends with.
	TagLen = 16
	// MaxPacketNumberLen is the longest truncated packet number on the wire.
	MaxPacketNumberLen = 4
)

// Masks of the first-byte bits that header protection hides: the reserved
// bits and packet-number length, plus the key phase in short headers.
const (
	longHeaderFormBit      = 0x80
	longHeaderProtected    = 0x0f
	shortHeaderProtected   = 0x1f
	packetNumberLenMask    = 0x03
	shortHeaderKeyPhaseBit = 0x04
)

// ErrPacketTooShort reports a packet too short to hold the header-protection
// sample (pnOffset+4+16 bytes) or an AEAD tag. Such a packet is dropped.
var ErrPacketTooShort = errors.New("crypto: packet too short for header protection sample")

// MinProtectedLen returns the shortest a protected packet whose Packet Number
// field starts at pnOffset may be. A sender pads the payload until the packet
// reaches it, so that the receiver can always take the sample.
func MinProtectedLen(pnOffset int) int { return pnOffset + SampleOffset + SampleLen }

// headerProtector computes header-protection masks with one suite's hp key.
// It keeps the mask in a scratch field so that computing it does not
// allocate; that makes it unsafe for concurrent use.
type headerProtector struct {
	block     cipher.Block // AES suites
	chachaKey [32]byte     // ChaCha20 suite, when block is nil
	mask      [aes.BlockSize]byte
}

func newHeaderProtector(suite Suite, hpKey []byte) headerProtector {
	if suite == AES128GCM {
		block, err := aes.NewCipher(hpKey)
		if err != nil {
			panic("crypto: AES with a derived key: " + err.Error())
		}
		return headerProtector{block: block}
	}
	var hp headerProtector
	copy(hp.chachaKey[:], hpKey)
	return hp
}

// computeMask fills h.mask[:5] from a 16-byte sample.
func (h *headerProtector) computeMask(sample []byte) {
	if h.block != nil {
		h.block.Encrypt(h.mask[:], sample)
		return
	}
	// RFC 9001 section 5.4.4: counter = LE32(sample[0:4]), nonce =
	// sample[4:16], and the mask is the keystream over five zero bytes.
	c, err := chacha20.NewUnauthenticatedCipher(h.chachaKey[:], sample[4:16])
	if err != nil {
		panic("crypto: ChaCha20 with a 32-byte key and 12-byte nonce: " + err.Error())
	}
	c.SetCounter(binary.LittleEndian.Uint32(sample[:4]))
	clear(h.mask[:5])
	c.XORKeyStream(h.mask[:5], h.mask[:5])
}

// protect applies header protection to a packet whose payload is already
// sealed. pnLen is the packet number length the sender wrote.
func (h *headerProtector) protect(packet []byte, pnOffset, pnLen int) {
	h.computeMask(packet[pnOffset+SampleOffset : pnOffset+SampleOffset+SampleLen])
	if packet[0]&longHeaderFormBit != 0 {
		packet[0] ^= h.mask[0] & longHeaderProtected
	} else {
		packet[0] ^= h.mask[0] & shortHeaderProtected
	}
	for i := range pnLen {
		packet[pnOffset+i] ^= h.mask[1+i]
	}
}

// unprotect removes header protection in place and returns the packet number
// length, the truncated packet number and the clear first byte.
func (h *headerProtector) unprotect(packet []byte, pnOffset int) (pnLen int, truncatedPN uint64, byte0 byte, err error) {
	// Written so that a huge pnOffset cannot overflow.
	if pnOffset < 1 || pnOffset > len(packet)-SampleOffset-SampleLen {
		return 0, 0, 0, ErrPacketTooShort
	}
	h.computeMask(packet[pnOffset+SampleOffset : pnOffset+SampleOffset+SampleLen])
	if packet[0]&longHeaderFormBit != 0 {
		packet[0] ^= h.mask[0] & longHeaderProtected
	} else {
		packet[0] ^= h.mask[0] & shortHeaderProtected
	}
	pnLen = int(packet[0]&packetNumberLenMask) + 1
	for i := range pnLen {
		packet[pnOffset+i] ^= h.mask[1+i]
		truncatedPN = truncatedPN<<8 | uint64(packet[pnOffset+i])
	}
	return pnLen, truncatedPN, packet[0], nil
}
