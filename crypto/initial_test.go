package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func TestInitialKeysBothDirections(t *testing.T) {
	serverKey := testKey(t, 10).Public()
	dcid := []byte{0xaa, 1, 2, 3, 4, 5, 6, 7}
	clientSeal, clientOpen := NewInitialKeys(serverKey, dcid, true)
	serverSeal, serverOpen := NewInitialKeys(serverKey, dcid, false)

	msg := []byte("client hello bytes")
	p := buildInitial(t, clientSeal, dcid, []byte{9, 9}, nil, 0, cryptoFrame(msg), 1200)
	if len(p) != 1200 {
		t.Errorf("client Initial is %d bytes, want 1200", len(p))
	}
	h, err := parseLongHeader(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := openInitial(serverOpen, h); err != nil || !bytes.Equal(got, msg) {
		t.Errorf("server opened %q, %v; want %q", got, err, msg)
	}

	reply := []byte("server hello bytes")
	p = buildInitial(t, serverSeal, []byte{9, 9}, []byte{7, 7, 7, 7, 7, 7, 7, 7}, nil, 0, cryptoFrame(reply), 0)
	h, err = parseLongHeader(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := openInitial(clientOpen, h); err != nil || !bytes.Equal(got, reply) {
		t.Errorf("client opened %q, %v; want %q", got, err, reply)
	}
}

// TestInitialKeysNeedServerKeyAndDCID shows that Initial keys depend on the
// server's static key (a client that pinned the wrong key cannot make an
// Initial the server opens) and on the client's DCID.
func TestInitialKeysNeedServerKeyAndDCID(t *testing.T) {
	serverKey := testKey(t, 10).Public()
	dcid := []byte{0xaa, 1, 2, 3, 4, 5, 6, 7}
	_, serverOpen := NewInitialKeys(serverKey, dcid, false)
	tests := []struct {
		desc      string
		serverKey PublicKey
		dcid      []byte
	}{
		{"client pinned another server key", testKey(t, 11).Public(), dcid},
		{"different DCID", serverKey, []byte{0xaa, 1, 2, 3, 4, 5, 6, 8}},
	}
	for _, tt := range tests {
		seal, _ := NewInitialKeys(tt.serverKey, tt.dcid, true)
		p := buildInitial(t, seal, dcid, nil, nil, 0, cryptoFrame([]byte("hi")), 1200)
		h, err := parseLongHeader(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := openInitial(serverOpen, h); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: server open error = %v, want ErrDecrypt", tt.desc, err)
		}
	}
	// The server's own sealer is not the client's: both directions differ.
	serverSeal, _ := NewInitialKeys(serverKey, dcid, false)
	p := buildInitial(t, serverSeal, dcid, nil, nil, 0, cryptoFrame([]byte("hi")), 1200)
	h, _ := parseLongHeader(p)
	if _, err := openInitial(serverOpen, h); !errors.Is(err, ErrDecrypt) {
		t.Errorf("server opening its own packet: error = %v, want ErrDecrypt", err)
	}
}

func TestRetryTag(t *testing.T) {
	serverKey := testKey(t, 12).Public()
	odcid := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	// Retry: byte0 1|1|11|0000, version, DCID (the client's SCID), SCID
	// (new), token.
	retry := []byte{0xf0, 0x4c, 0x4d, 0x50, 0x31, 0x04, 0xc1, 0xc2, 0xc3, 0xc4, 0x08, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58}
	retry = append(retry, []byte("a retry token")...)
	tag := RetryTag(odcid, retry, serverKey)
	packet := append(append([]byte(nil), retry...), tag[:]...)
	if !VerifyRetryTag(odcid, packet, serverKey) {
		t.Fatal("VerifyRetryTag rejected a genuine Retry")
	}
	if again := RetryTag(odcid, retry, serverKey); again != tag {
		t.Errorf("RetryTag is not deterministic: %x then %x", tag, again)
	}
	for i := range packet {
		for bit := range 8 {
			p := append([]byte(nil), packet...)
			p[i] ^= 1 << bit
			if VerifyRetryTag(odcid, p, serverKey) {
				t.Errorf("VerifyRetryTag accepted a Retry with byte %d bit %d flipped", i, bit)
			}
		}
	}
	tests := []struct {
		desc      string
		odcid     []byte
		packet    []byte
		serverKey PublicKey
	}{
		{"wrong ODCID", []byte{1, 2, 3, 4, 5, 6, 7, 9}, packet, serverKey},
		{"ODCID prefix", odcid[:7], packet, serverKey},
		{"wrong server key", odcid, packet, testKey(t, 13).Public()},
		{"truncated", odcid, packet[:len(packet)-1], serverKey},
		{"shorter than a tag", odcid, packet[:TagLen-1], serverKey},
		{"empty", odcid, nil, serverKey},
	}
	for _, tt := range tests {
		if VerifyRetryTag(tt.odcid, tt.packet, tt.serverKey) {
			t.Errorf("%s: VerifyRetryTag = true, want false", tt.desc)
		}
	}
}

func TestNewInitialOpenerMatchesNewInitialKeys(t *testing.T) {
	var pub PublicKey
	pub[0] = 9
	dcid := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	clientSeal, _ := NewInitialKeys(pub, dcid, true)
	_, serverOpen := NewInitialKeys(pub, dcid, false)
	opener := NewInitialOpener(pub, dcid)
	for _, o := range []*Opener{serverOpen, opener} {
		pkt := make([]byte, 0, 64)
		pkt = append(pkt, 0xc3, 0, 0, 0, 1, 0, 0, 0, 7) // 4-byte packet number 7 at offset 5
		pkt = append(pkt, make([]byte, 36)...)
		sealed := clientSeal.Seal(pkt, 5, 4, 7)
		pnLen, trunc, _, err := o.UnprotectHeader(sealed, 5)
		if err != nil || pnLen != 4 || trunc != 7 {
			t.Fatalf("UnprotectHeader: %d %d %v", pnLen, trunc, err)
		}
		if _, err := o.Open(sealed, 5, pnLen, 7); err != nil {
			t.Fatalf("Open: %v", err)
		}
	}
}
