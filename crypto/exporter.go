package crypto

import (
	"crypto/sha256"
	"fmt"
)

// exporterLabel prefixes every exporter label, so that exported values can
// never equal a key the packet protection derives.
const exporterLabel = "limpet exporter "

// newExporterSecret derives a connection's exporter secret from the Noise
// Split keys and handshake hash (docs/PROTOCOL.md section 4.6). Both keys
// go in, so that it is secret to the two ends exactly as the traffic keys
// are, yet no traffic key can be computed from it.
func newExporterSecret(h []byte, c1Key, c2Key [32]byte) [32]byte {
	ikm := make([]byte, 0, 64)
	ikm = append(ikm, c1Key[:]...)
	ikm = append(ikm, c2Key[:]...)
	var s [32]byte
	expandLabelInto(s[:], extract(h, ikm), "exp")
	return s
}

// ExportKeyingMaterial derives length bytes from a connection's exporter
// secret for an application's own use, in the manner of RFC 5705 and TLS
// 1.3's exporter (RFC 8446 section 7.5): a different label or context
// gives an unrelated value, and every connection's values differ. The
// derivation is docs/PROTOCOL.md section 4.6's
//
//	HKDF-Expand-Label with prefix "limpet exporter ", label, context SHA-256(context)
//
// length is at most 255×32 bytes and label at most 239 bytes.
func ExportKeyingMaterial(secret [32]byte, label string, context []byte, length int) ([]byte, error) {
	if length < 0 || length > 255*sha256.Size || len(exporterLabel)+len(label) > 255 {
		return nil, fmt.Errorf("crypto: exporter label %q or length %d out of range", label, length)
	}
	ch := sha256.Sum256(context)
	out := make([]byte, length)
	hkdfExpandLabelContext(out, secret[:], exporterLabel, label, ch[:])
	return out, nil
}
