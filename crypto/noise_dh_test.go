package crypto

import (
	"bytes"
	"testing"

	"github.com/flynn/noise"
)

// TestX25519DHMatchesNoise: the handshake's DH function agrees with
// flynn/noise's DH25519 on keys from the same seed and on every DH between
// them, parsed keys or not, and the key pair follows from the random
// stream alone (a resent message 1 is rebuilt from its seed).
func TestX25519DHMatchesNoise(t *testing.T) {
	seed := bytes.Repeat([]byte{7, 1, 9}, 22)
	ours := &x25519DH{}
	ref := noise.DH25519
	a, err := ours.GenerateKeypair(bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.GenerateKeypair(bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Private, want.Private) || !bytes.Equal(a.Public, want.Public) {
		t.Fatalf("key pair from one seed: ours %x/%x, noise's %x/%x", a.Private, a.Public, want.Private, want.Public)
	}
	b, _ := ref.GenerateKeypair(bytes.NewReader(seed[32:]))
	c, _ := ref.GenerateKeypair(bytes.NewReader(bytes.Repeat([]byte{3}, 32)))
	for i, pair := range [][2]noise.DHKey{{a, b}, {b, a}, {a, c}, {c, b}, {a, b}} {
		got, err := ours.DH(pair[0].Private, pair[1].Public)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ref.DH(pair[0].Private, pair[1].Public)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("DH %d: ours %x, noise's %x", i, got, want)
		}
	}
	low := make([]byte, 32) // a low-order point: the shared secret would be zero
	if _, err := ours.DH(a.Private, low); err == nil {
		t.Fatal("DH with a low-order point succeeded")
	}
	if ours.DHName() != "25519" || ours.DHLen() != 32 {
		t.Fatalf("DHName %q DHLen %d, want 25519, 32: the name is in the protocol name", ours.DHName(), ours.DHLen())
	}
}
