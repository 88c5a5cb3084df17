package crypto

import (
	"crypto/sha256"
	"crypto/subtle"
)

// initialSalt is SHA-256("limpet v1 initial salt") (docs/PROTOCOL.md section
// 4.3). QUIC uses a random constant; hashing a phrase makes limpet's value
// easy to reproduce.
var initialSalt = sha256.Sum256([]byte("limpet v1 initial salt"))

// initialSecrets derives client_initial and server_initial from the server's
// static public key and the client's Initial destination connection ID.
func initialSecrets(serverStatic PublicKey, clientDCID []byte) (client, server []byte) {
	ikm := make([]byte, 0, KeyLen+len(clientDCID))
	ikm = append(ikm, serverStatic[:]...)
	ikm = append(ikm, clientDCID...)
	initialSecret := extract(initialSalt[:], ikm)
	return ExpandLabel(initialSecret, "client in", 32), ExpandLabel(initialSecret, "server in", 32)
}

// NewInitialKeys returns the keys that protect Initial packets
// (docs/PROTOCOL.md section 4.3): the client seals with client_initial and
// opens with server_initial, the server the other way round. Initial packets
// always use AES-128-GCM.
//
// Unlike QUIC's, limpet's Initial keys depend on the server's static public
// key, so only clients that know it can build Initial packets the server can
// open: the server drops everything else after one AEAD check, and a passive
// observer who lacks the key cannot read the handshake's framing. clientDCID
// is the Destination Connection ID of the client's first Initial packet (or,
// after a Retry, the Retry's Source Connection ID).
func NewInitialKeys(serverStatic PublicKey, clientDCID []byte, isClient bool) (*Sealer, *Opener) {
	clientSecret, serverSecret := initialSecrets(serverStatic, clientDCID)
	sealSecret, openSecret := clientSecret, serverSecret
	if !isClient {
		sealSecret, openSecret = serverSecret, clientSecret
	}
	sealer, err := NewSealer(AES128GCM, sealSecret)
	if err != nil {
		panic("crypto: Initial sealer: " + err.Error())
	}
	opener, err := NewOpener(AES128GCM, openSecret)
	if err != nil {
		panic("crypto: Initial opener: " + err.Error())
	}
	return sealer, opener
}

// NewInitialOpener returns only the server's Initial opener, the key a
// first Initial must open with: half the derivation of NewInitialKeys, for
// a server that has yet to learn whether a datagram is an Initial at all
// or junk sent to make it work.
func NewInitialOpener(serverStatic PublicKey, clientDCID []byte) *Opener {
	ikm := make([]byte, 0, KeyLen+len(clientDCID))
	ikm = append(ikm, serverStatic[:]...)
	ikm = append(ikm, clientDCID...)
	opener, err := NewOpener(AES128GCM, ExpandLabel(extract(initialSalt[:], ikm), "client in", 32))
	if err != nil {
		panic("crypto: Initial opener: " + err.Error())
	}
	return opener
}

// RetryTag computes the Retry Integrity Tag (docs/PROTOCOL.md section 4.4):
// AES-128-GCM sealing an empty plaintext with the client_initial key and IV
// derived from the original destination connection ID, with associated data
// ODCID Length || ODCID || the Retry packet up to the tag. A server appends it
// to the Retry packet; it proves to the client that the Retry came from
// someone who saw its Initial (and knows the server's public key).
func RetryTag(odcid, retryPacketWithoutTag []byte, serverStatic PublicKey) [TagLen]byte {
	clientSecret, _ := initialSecrets(serverStatic, odcid)
	a, err := newPacketAEAD(AES128GCM, clientSecret)
	if err != nil {
		panic("crypto: Retry AEAD: " + err.Error())
	}
	ad := make([]byte, 0, 1+len(odcid)+len(retryPacketWithoutTag))
	ad = append(ad, byte(len(odcid)))
	ad = append(ad, odcid...)
	ad = append(ad, retryPacketWithoutTag...)
	var tag [TagLen]byte
	a.aead.Seal(tag[:0], a.iv[:], nil, ad)
	return tag
}

// VerifyRetryTag reports whether retryPacket (tag included, as received)
// carries a valid Retry Integrity Tag for the original destination connection
// ID odcid. The comparison takes constant time. A client drops a Retry that
// fails the check.
func VerifyRetryTag(odcid, retryPacket []byte, serverStatic PublicKey) bool {
	if len(retryPacket) < TagLen || len(odcid) > 255 {
		return false
	}
	body := retryPacket[:len(retryPacket)-TagLen]
	want := RetryTag(odcid, body, serverStatic)
	return subtle.ConstantTimeCompare(want[:], retryPacket[len(body):]) == 1
}
