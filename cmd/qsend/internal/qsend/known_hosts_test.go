package qsend

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/limpetnet/limpet/crypto"
)

func testPublicKey(t *testing.T) crypto.PublicKey {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.Public()
}

func TestKnownHostsParse(t *testing.T) {
	a, b := testPublicKey(t), testPublicKey(t)
	path := filepath.Join(t.TempDir(), "known_hosts")
	content := "# comment\n" +
		"garbage\n" +
		"host.example:4433 " + a.String() + "\n" +
		"[::1]:4433 " + b.String() + " trailing comment\n" +
		"bad.example:1 notakey\n" +
		"Host.Example:4433 " + b.String() + "\n" // later duplicate: first wins
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	kh, err := loadKnownHosts(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc     string
		addr     string
		wantKey  crypto.PublicKey
		wantLine int
		wantOK   bool
	}{
		{desc: "exact", addr: "host.example:4433", wantKey: a, wantLine: 3, wantOK: true},
		{desc: "case-insensitive host", addr: "HOST.example:4433", wantKey: a, wantLine: 3, wantOK: true},
		{desc: "IPv6 literal", addr: "[::1]:4433", wantKey: b, wantLine: 4, wantOK: true},
		{desc: "other port", addr: "host.example:4434"},
		{desc: "unparsable key is ignored", addr: "bad.example:1"},
		{desc: "not an address", addr: "nonsense"},
	}
	for _, tt := range tests {
		key, line, ok := kh.lookup(tt.addr)
		if ok != tt.wantOK || key != tt.wantKey || line != tt.wantLine {
			t.Errorf("%s: lookup(%q) = %v, %d, %v, want %v, %d, %v", tt.desc, tt.addr, key, line, ok, tt.wantKey, tt.wantLine, tt.wantOK)
		}
	}
}

func TestKnownHostsAdd(t *testing.T) {
	a, b := testPublicKey(t), testPublicKey(t)
	dir := filepath.Join(t.TempDir(), "cfg", "qsend")
	path := filepath.Join(dir, "known_hosts")
	kh, err := loadKnownHosts(path)
	if err != nil {
		t.Fatalf("missing file: %v", err)
	}
	if err := kh.add("198.18.0.1:4433", a); err != nil {
		t.Fatal(err)
	}
	// A hand-edited file without a final newline must not corrupt the next
	// entry.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("# no newline")
	f.Close()
	if err := kh.add("[2001:2::1]:9", b); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("got file mode %#o, want 0600", got)
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("got directory %v, %v, want mode 0700", info, err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "198.18.0.1:4433 " + a.String() + "\n# no newline\n[2001:2::1]:9 " + b.String() + "\n"
	if string(got) != want {
		t.Fatalf("got file\n%s\nwant\n%s", got, want)
	}
	again, err := loadKnownHosts(path)
	if err != nil {
		t.Fatal(err)
	}
	if key, line, ok := again.lookup("[2001:2::1]:9"); !ok || key != b || line != 3 {
		t.Fatalf("reloaded lookup = %v, %d, %v, want %v, 3, true", key, line, ok, b)
	}
}
