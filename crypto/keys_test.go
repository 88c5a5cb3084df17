package crypto

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPublicMatchesRFC7748(t *testing.T) {
	// RFC 7748 section 6.1, Alice's key pair.
	var k PrivateKey
	hex.Decode(k[:], []byte("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
	pub := k.Public()
	got := hex.EncodeToString(pub[:])
	if want := "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"; got != want {
		t.Errorf("Public() = %s, want %s", got, want)
	}
}

func TestKeyStringRoundTrip(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if k.IsZero() {
		t.Fatal("GenerateKey returned the zero key")
	}
	parsedPriv, err := ParsePrivateKey(k.String())
	if err != nil || parsedPriv != k {
		t.Errorf("ParsePrivateKey(%q) = %v, %v; want the original key", k.String(), parsedPriv, err)
	}
	pub := k.Public()
	if len(pub.String()) != 44 {
		t.Errorf("len(PublicKey.String()) = %d, want 44", len(pub.String()))
	}
	parsedPub, err := ParsePublicKey(pub.String())
	if err != nil || parsedPub != pub {
		t.Errorf("ParsePublicKey(%q) = %v, %v; want the original key", pub.String(), parsedPub, err)
	}
}

func TestParseKeyErrors(t *testing.T) {
	tests := []struct {
		desc string
		in   string
	}{
		{"empty", ""},
		{"too short", "AAAA"},
		{"too long", strings.Repeat("A", 48)},
		{"not base64", strings.Repeat("!", 43) + "="},
		{"URL alphabet", strings.Repeat("_", 43) + "="},
		{"non-canonical trailing bits", strings.Repeat("A", 42) + "B="},
		{"all-zero public key", strings.Repeat("A", 43) + "="},
	}
	for _, tt := range tests {
		_, err := ParsePublicKey(tt.in)
		if !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: ParsePublicKey(%q) error = %v, want ErrInvalidKey", tt.desc, tt.in, err)
		}
		if tt.desc == "all-zero public key" {
			continue // a zero private key parses; it means "not set"
		}
		if _, err := ParsePrivateKey(tt.in); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: ParsePrivateKey(%q) error = %v, want ErrInvalidKey", tt.desc, tt.in, err)
		}
	}
}

func TestKeysMarshalJSON(t *testing.T) {
	type config struct {
		Private PrivateKey
		Peer    PublicKey
	}
	in := config{Private: testKey(t, 1), Peer: testKey(t, 2).Public()}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Private":"` + in.Private.String() + `","Peer":"` + in.Peer.String() + `"}`
	if string(b) != want {
		t.Errorf("json.Marshal = %s, want %s", b, want)
	}
	var out config
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Errorf("round trip = %+v, want %+v", out, in)
	}
	if err := json.Unmarshal([]byte(`{"Peer":"nope"}`), &out); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("json.Unmarshal of a bad key: error = %v, want ErrInvalidKey", err)
	}
}

func TestSaveLoadPrivateKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	k := testKey(t, 3)
	// A pre-existing world-readable file must be narrowed, not kept.
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := SavePrivateKey(path, k); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("mode after SavePrivateKey = %04o, want 0600", got)
	}
	text, _ := os.ReadFile(path)
	if want := k.String() + "\n"; string(text) != want {
		t.Errorf("file contents = %q, want %q", text, want)
	}
	got, err := LoadPrivateKey(path)
	if err != nil || got != k {
		t.Errorf("LoadPrivateKey = %v, %v; want the saved key", got, err)
	}
}

func TestLoadPrivateKeyErrors(t *testing.T) {
	dir := t.TempDir()
	k := testKey(t, 4)
	tests := []struct {
		desc     string
		contents string
		mode     os.FileMode
		want     error
	}{
		{"group readable", k.String(), 0o640, ErrInsecureKeyFile},
		{"world readable", k.String(), 0o604, ErrInsecureKeyFile},
		{"garbage", "not a key\n", 0o600, ErrInvalidKey},
		{"empty", "", 0o600, ErrInvalidKey},
		{"missing", "", 0, os.ErrNotExist},
	}
	for i, tt := range tests {
		path := filepath.Join(dir, "key"+string(rune('a'+i)))
		if tt.mode != 0 {
			if err := os.WriteFile(path, []byte(tt.contents), tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil { // umask may have narrowed it
				t.Fatal(err)
			}
		}
		if _, err := LoadPrivateKey(path); !errors.Is(err, tt.want) {
			t.Errorf("%s: LoadPrivateKey error = %v, want %v", tt.desc, err, tt.want)
		}
	}
	// Surrounding white space, as `wg genkey > key` leaves, is accepted.
	path := filepath.Join(dir, "wg")
	os.WriteFile(path, []byte("  "+k.String()+"\r\n\n"), 0o600)
	if got, err := LoadPrivateKey(path); err != nil || got != k {
		t.Errorf("LoadPrivateKey with white space = %v, %v; want the key", got, err)
	}
}
