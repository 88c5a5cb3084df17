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
	info := make([]byte, 0, 2+1+fullLen+1+len(context))
	info = append(info, byte(len(out)>>8), byte(len(out)), byte(fullLen))
	info = append(info, prefix...)
	info = append(info, label...)
	info = append(info, byte(len(context)))
	info = append(info, context...)
	if _, err := io.ReadFull(hkdf.Expand(sha256.New, secret, info), out); err != nil {
		panic("crypto: HKDF-Expand failed within its limit: " + err.Error())
	}
}

// extract is HKDF-Extract-SHA256(salt, ikm).
func extract(salt, ikm []byte) []byte {
	return hkdf.Extract(sha256.New, ikm, salt)
}
