package crypto

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/subtle"
	"io"

	"github.com/flynn/noise"
)

// x25519DH is Noise's "25519" DH function for one handshake, keeping the
// parsed form of the private keys it has seen. flynn/noise's own DH25519
// goes through x/crypto's X25519, which parses the private key (a scalar
// multiplication, to find its public half) on every DH: 22 scalar
// multiplications per handshake where 11 do, and nearly all of a
// handshake's CPU is those. A handshake uses two private keys (static and
// ephemeral), so two slots suffice.
type x25519DH struct {
	keys [2]*ecdh.PrivateKey
	next int
}

// newNoiseSuite returns Noise_IK_25519_ChaChaPoly_BLAKE2s's primitives for
// one handshake, with static (if not nil) already parsed.
func newNoiseSuite(static *ecdh.PrivateKey) noise.CipherSuite {
	dh := &x25519DH{}
	if static != nil {
		dh.remember(static)
	}
	return noise.NewCipherSuite(dh, noise.CipherChaChaPoly, noise.HashBLAKE2s)
}

func (dh *x25519DH) remember(k *ecdh.PrivateKey) {
	dh.keys[dh.next] = k
	dh.next = (dh.next + 1) % len(dh.keys)
}

// privateKey returns b parsed, from the slots if it was seen before.
func (dh *x25519DH) privateKey(b []byte) (*ecdh.PrivateKey, error) {
	for _, k := range dh.keys {
		if k != nil && subtle.ConstantTimeCompare(k.Bytes(), b) == 1 {
			return k, nil
		}
	}
	k, err := ecdh.X25519().NewPrivateKey(b)
	if err != nil {
		return nil, err
	}
	dh.remember(k)
	return k, nil
}

func (dh *x25519DH) GenerateKeypair(rng io.Reader) (noise.DHKey, error) {
	if rng == nil {
		rng = rand.Reader
	}
	// Read the scalar directly rather than through ecdh's GenerateKey, so
	// that a deterministic rng (a resent message 1 rebuilt from its seed)
	// gives the same key.
	b := make([]byte, 32)
	if _, err := io.ReadFull(rng, b); err != nil {
		return noise.DHKey{}, err
	}
	k, err := ecdh.X25519().NewPrivateKey(b)
	if err != nil {
		return noise.DHKey{}, err
	}
	dh.remember(k)
	return noise.DHKey{Private: b, Public: k.PublicKey().Bytes()}, nil
}

func (dh *x25519DH) DH(privkey, pubkey []byte) ([]byte, error) {
	k, err := dh.privateKey(privkey)
	if err != nil {
		return nil, err
	}
	p, err := ecdh.X25519().NewPublicKey(pubkey)
	if err != nil {
		return nil, err
	}
	return k.ECDH(p)
}

func (dh *x25519DH) DHLen() int     { return 32 }
func (dh *x25519DH) DHName() string { return "25519" }
