package crypto

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"

	"golang.org/x/crypto/curve25519"
)

// KeyLen is the length in bytes of X25519 private and public keys.
const KeyLen = 32

// PrivateKey is an X25519 private key: a limpet endpoint's long-term static
// identity in the Noise IK handshake (docs/PROTOCOL.md section 4.5).
//
// The zero PrivateKey means "no key"; see IsZero.
type PrivateKey [KeyLen]byte

// PublicKey is an X25519 public key. A client pins its server's PublicKey the
// way WireGuard and SSH pin keys; a server may keep an allow-list of client
// PublicKeys.
type PublicKey [KeyLen]byte

// ErrInvalidKey reports a key string or file that does not hold exactly 32
// bytes of standard base64, or a public key that is the all-zero point.
var ErrInvalidKey = errors.New("crypto: invalid key")

// ErrInsecureKeyFile reports a private key file that users other than its
// owner can read or write. LoadPrivateKey refuses such files, as ssh does,
// because a leaked static key lets an attacker impersonate the endpoint.
var ErrInsecureKeyFile = errors.New("crypto: private key file is accessible by group or others")

// GenerateKey returns a new random private key read from crypto/rand.
func GenerateKey() (PrivateKey, error) {
	return generateKey(rand.Reader)
}

func generateKey(rng io.Reader) (PrivateKey, error) {
	var k PrivateKey
	if _, err := io.ReadFull(rng, k[:]); err != nil {
		return PrivateKey{}, fmt.Errorf("crypto: generating key: %w", err)
	}
	return k, nil
}

// Public returns the public key of k.
func (k PrivateKey) Public() PublicKey {
	var p PublicKey
	// X25519 with the base point fails only for a low-order input point, and
	// the base point is not one.
	pub, err := curve25519.X25519(k[:], curve25519.Basepoint)
	if err != nil {
		panic("crypto: X25519 with the base point failed: " + err.Error())
	}
	copy(p[:], pub)
	return p
}

// IsZero reports whether k is the zero value, which stands for "not set".
func (k PrivateKey) IsZero() bool {
	var zero PrivateKey
	return subtle.ConstantTimeCompare(k[:], zero[:]) == 1
}

// String returns k in standard base64, the form wg(8) uses and that
// ParsePrivateKey reads. Take care not to log it.
func (k PrivateKey) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// MarshalText implements encoding.TextMarshaler with the String form, so keys
// can live in JSON or TOML configuration.
func (k PrivateKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it accepts what
// ParsePrivateKey accepts.
func (k *PrivateKey) UnmarshalText(text []byte) error {
	parsed, err := ParsePrivateKey(string(text))
	if err != nil {
		return err
	}
	*k = parsed
	return nil
}

// IsZero reports whether p is the zero value, which stands for "not set".
func (p PublicKey) IsZero() bool { return p == PublicKey{} }

// String returns p in standard base64.
func (p PublicKey) String() string { return base64.StdEncoding.EncodeToString(p[:]) }

// MarshalText implements encoding.TextMarshaler with the String form.
func (p PublicKey) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it accepts what
// ParsePublicKey accepts.
func (p *PublicKey) UnmarshalText(text []byte) error {
	parsed, err := ParsePublicKey(string(text))
	if err != nil {
		return err
	}
	*p = parsed
	return nil
}

// ParsePublicKey parses a public key in standard base64 (44 characters).
// The all-zero key is rejected: no peer can hold its private half.
func ParsePublicKey(s string) (PublicKey, error) {
	var p PublicKey
	if err := decodeKey(p[:], s); err != nil {
		return PublicKey{}, err
	}
	if p.IsZero() {
		return PublicKey{}, fmt.Errorf("%w: all-zero public key", ErrInvalidKey)
	}
	return p, nil
}

// ParsePrivateKey parses a private key in standard base64 (44 characters).
func ParsePrivateKey(s string) (PrivateKey, error) {
	var k PrivateKey
	if err := decodeKey(k[:], s); err != nil {
		return PrivateKey{}, err
	}
	return k, nil
}

func decodeKey(dst []byte, s string) error {
	if len(s) != base64.StdEncoding.EncodedLen(KeyLen) {
		return fmt.Errorf("%w: want %d base64 characters, got %d", ErrInvalidKey, base64.StdEncoding.EncodedLen(KeyLen), len(s))
	}
	n, err := base64.StdEncoding.Strict().Decode(dst, []byte(s))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	if n != KeyLen {
		return fmt.Errorf("%w: decoded %d bytes, want %d", ErrInvalidKey, n, KeyLen)
	}
	return nil
}

// LoadPrivateKey reads a private key file written by SavePrivateKey (or by
// `wg genkey`): standard base64 followed by optional white space. On systems
// with Unix permissions it refuses, with ErrInsecureKeyFile, a file that its
// group or others may read or write.
func LoadPrivateKey(path string) (PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("crypto: loading private key: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return PrivateKey{}, fmt.Errorf("crypto: loading private key: %w", err)
	}
	if err := checkKeyFileMode(path, info.Mode()); err != nil {
		return PrivateKey{}, err
	}
	// A key file is 44 characters and a newline; anything much longer is not
	// a key file, so read only a little more than that.
	text, err := io.ReadAll(io.LimitReader(f, 256))
	if err != nil {
		return PrivateKey{}, fmt.Errorf("crypto: loading private key %s: %w", path, err)
	}
	k, err := ParsePrivateKey(string(bytes.TrimSpace(text)))
	if err != nil {
		return PrivateKey{}, fmt.Errorf("crypto: loading private key %s: %w", path, err)
	}
	return k, nil
}

func checkKeyFileMode(path string, mode fs.FileMode) error {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		return nil // permission bits do not describe access there
	}
	if mode.Perm()&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s", ErrInsecureKeyFile, path, mode.Perm(), path)
	}
	return nil
}

// SavePrivateKey writes k to path in the text form LoadPrivateKey reads,
// creating or truncating the file with mode 0600. If the file existed with a
// wider mode, the mode is narrowed before the key is written.
func SavePrivateKey(path string, k PrivateKey) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("crypto: saving private key: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("crypto: saving private key %s: %w", path, cerr)
		}
	}()
	if runtime.GOOS != "windows" && runtime.GOOS != "plan9" {
		if err := f.Chmod(0o600); err != nil {
			return fmt.Errorf("crypto: saving private key %s: %w", path, err)
		}
	}
	if _, err := f.WriteString(k.String() + "\n"); err != nil {
		return fmt.Errorf("crypto: saving private key %s: %w", path, err)
	}
	return nil
}
