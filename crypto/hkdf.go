package crypto

import (
	"crypto/sha256"
	"fmt"
	"io"

	"golang.org/x/crypto/hkdf"
)

// labelPrefix is prepended to every Expand-Label label so that limpet's keys
// can never collide with TLS 1.3's ("tls13 ") or QUIC's.
const labelPrefix = "limpet "

// ExpandLabel derives length bytes from secret as docs/PROTOCOL.md section
// 4.1 specifies: HKDF-Expand-SHA256(secret, HkdfLabel, length) with
//
//	HkdfLabel = uint16(length) || uint8(len("limpet "+label)) || "limpet "+label || 0x00
//
// which is TLS 1.3's HKDF-Expand-Label (RFC 8446 section 7.1) with the prefix
// "limpet " and an empty context. It panics if length exceeds HKDF's limit of
// 255*32 bytes or the label is longer than 255 bytes; every caller in limpet
// passes constants far below both.
func ExpandLabel(secret []byte, label string, length int) []byte {
	out := make([]byte, length)
	expandLabelInto(out, secret, label)
	return out
}

func expandLabelInto(out, secret []byte, label string) {
	hkdfExpandLabel(out, secret, labelPrefix, label)
}

// hkdfExpandLabel is HKDF-Expand-Label with a configurable prefix, so that
// tests can check the construction against TLS 1.3 and QUIC test vectors.
func hkdfExpandLabel(out, secret []byte, prefix, label string) {
	hkdfExpandLabelContext(out, secret, prefix, label, nil)
}

// hkdfExpandLabelContext is HKDF-Expand-Label with a context of up to 255
// bytes.
func hkdfExpandLabelContext(out, secret []byte, prefix, label string, context []byte) {
	fullLen := len(prefix) + len(label)
	if fullLen > 255 || len(context) > 255 || len(out) > 255*sha256.Size || len(out) > 0xffff {
		panic(fmt.Sprintf("crypto: ExpandLabel(%q, %d) out of range", label, len(out)))
	}
	var infoBuf [2 + 1 + 255 + 1 + 255 + 1]byte
	info := append(infoBuf[:0], byte(len(out)>>8), byte(len(out)), byte(fullLen))
	info = append(info, prefix...)
	info = append(info, label...)
	info = append(info, byte(len(context)))
	info = append(info, context...)
	if len(out) <= sha256.Size && len(secret) <= sha256.BlockSize {
		// One block of output: T(1) = HMAC(secret, info || 0x01), computed
		// without allocating, since servers derive Initial keys for every
		// first Initial, junk included.
		t := hmacSHA256(secret, append(info, 1))
		copy(out, t[:])
		return
	}
	if _, err := io.ReadFull(hkdf.Expand(sha256.New, secret, info), out); err != nil {
		panic("crypto: HKDF-Expand failed within its limit: " + err.Error())
	}
}

// extract is HKDF-Extract-SHA256(salt, ikm).
func extract(salt, ikm []byte) []byte {
	if len(salt) <= sha256.BlockSize && len(ikm) <= maxHMACMessage {
		prk := hmacSHA256(salt, ikm)
		return prk[:]
	}
	return hkdf.Extract(sha256.New, ikm, salt)
}

// maxHMACMessage bounds the messages hmacSHA256 takes.
const maxHMACMessage = 2 + 1 + 255 + 1 + 255 + 1

// hmacSHA256 is HMAC-SHA256 (RFC 2104) for a key of at most one block and a
// message of at most maxHMACMessage bytes, on the stack.
func hmacSHA256(key, msg []byte) [sha256.Size]byte {
	var inner [sha256.BlockSize + maxHMACMessage]byte
	copy(inner[:], key)
	for i := range sha256.BlockSize {
		inner[i] ^= 0x36
	}
	n := sha256.BlockSize + copy(inner[sha256.BlockSize:], msg)
	var outer [sha256.BlockSize + sha256.Size]byte
	copy(outer[:], key)
	for i := range sha256.BlockSize {
		outer[i] ^= 0x5c
	}
	h := sha256.Sum256(inner[:n])
	copy(outer[sha256.BlockSize:], h[:])
	return sha256.Sum256(outer[:])
}
