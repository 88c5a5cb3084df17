package crypto

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestExpandLabelMatchesRFC9001 checks the HkdfLabel construction against
// RFC 9001 appendix A: with TLS's "tls13 " prefix it must reproduce QUIC's
// Initial and ChaCha20 keys.
func TestExpandLabelMatchesRFC9001(t *testing.T) {
	initialSecret := extract(mustHex(t, "38762cf7f55934b34d179ae6a4c80cadccbb7f0a"), mustHex(t, "8394c8f03e515708"))
	if got, want := hex.EncodeToString(initialSecret), "7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44"; got != want {
		t.Fatalf("initial_secret = %s, want %s", got, want)
	}
	clientSecret := make([]byte, 32)
	hkdfExpandLabel(clientSecret, initialSecret, "tls13 ", "client in")
	chachaSecret := mustHex(t, "9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b")
	tests := []struct {
		desc   string
		secret []byte
		label  string
		length int
		want   string
	}{
		{"client_initial_secret", initialSecret, "client in", 32, "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea"},
		{"AES key", clientSecret, "quic key", 16, "1f369613dd76d5467730efcbe3b1a22d"},
		{"AES iv", clientSecret, "quic iv", 12, "fa044b2f42a3fd3b46fb255c"},
		{"AES hp", clientSecret, "quic hp", 16, "9f50449e04a0e810283a1e9933adedd2"},
		{"ChaCha20 key", chachaSecret, "quic key", 32, "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8"},
		{"ChaCha20 hp", chachaSecret, "quic hp", 32, "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4"},
		{"ChaCha20 ku", chachaSecret, "quic ku", 32, "1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9"},
	}
	for _, tt := range tests {
		out := make([]byte, tt.length)
		hkdfExpandLabel(out, tt.secret, "tls13 ", tt.label)
		if got := hex.EncodeToString(out); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.desc, got, tt.want)
		}
	}
}

// TestExpandLabelLayout checks ExpandLabel against HKDF-Expand with the info
// string spelled out byte by byte as docs/PROTOCOL.md section 4.1 writes it.
func TestExpandLabelLayout(t *testing.T) {
	secret := bytes.Repeat([]byte{0x5a}, 32)
	info := []byte{0x00, 0x10, byte(len("limpet key"))}
	info = append(info, "limpet key"...)
	info = append(info, 0x00)
	want, err := hkdf.Expand(sha256.New, secret, string(info), 16)
	if err != nil {
		t.Fatal(err)
	}
	if got := ExpandLabel(secret, "key", 16); !bytes.Equal(got, want) {
		t.Errorf("ExpandLabel(secret, key, 16) = %x, want %x", got, want)
	}
}

func TestHMACSHA256MatchesStandardLibrary(t *testing.T) {
	for _, keyLen := range []int{0, 1, 32, 63, 64} {
		for _, msgLen := range []int{0, 1, 55, 56, 64, 200, maxHMACMessage} {
			key := bytes.Repeat([]byte{byte(keyLen + 1)}, keyLen)
			msg := bytes.Repeat([]byte{byte(msgLen + 7)}, msgLen)
			want := hmac.New(sha256.New, key)
			want.Write(msg)
			got := hmacSHA256(key, msg)
			if !bytes.Equal(got[:], want.Sum(nil)) {
				t.Errorf("key %d bytes, message %d bytes: got %x, want %x", keyLen, msgLen, got, want.Sum(nil))
			}
		}
	}
}
