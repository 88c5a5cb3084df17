package crypto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
)

func TestHeaderProtectionMaskMatchesRFC9001(t *testing.T) {
	tests := []struct {
		desc   string
		suite  Suite
		hp     string
		sample string
		mask   string
	}{
		{"AES (appendix A.2)", AES128GCM, "9f50449e04a0e810283a1e9933adedd2", "d1b1c98dd7689fb8ec11d242b123dc9b", "437b9aec36"},
		{"ChaCha20 (appendix A.5)", ChaCha20Poly1305, "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4", "5e5cd55c41f69080575d7999c25a5bfb", "aefefe7d03"},
	}
	for _, tt := range tests {
		hp := newHeaderProtector(tt.suite, mustHex(t, tt.hp))
		hp.computeMask(mustHex(t, tt.sample))
		if got := hex.EncodeToString(hp.mask[:5]); got != tt.mask {
			t.Errorf("%s: mask = %s, want %s", tt.desc, got, tt.mask)
		}
	}
}

// TestChaChaPacketMatchesRFC9001 protects RFC 9001 appendix A.5's packet
// (packet number 654360564, 3-byte packet number, PING payload) with its
// key, IV and hp key, and checks every byte, then opens it again.
func TestChaChaPacketMatchesRFC9001(t *testing.T) {
	a, err := newPacketAEADFromKey(ChaCha20Poly1305, mustHex(t, "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8"), mustHex(t, "e0459b3474bdd0e44a41c144"))
	if err != nil {
		t.Fatal(err)
	}
	hp := newHeaderProtector(ChaCha20Poly1305, mustHex(t, "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4"))
	s := &Sealer{aead: a, hp: hp}
	const pn = 654360564
	if got, want := hex.EncodeToString(a.makeNonce(pn)), "e0459b3474bdd0e46d417eb0"; got != want {
		t.Errorf("nonce = %s, want %s", got, want)
	}
	buf := make([]byte, 0, 64)
	buf = append(buf, mustHex(t, "4200bff401")...)
	got := s.Seal(buf, 1, 3, pn)
	want := "4cfe4189655e5cd55c41f69080575d7999c25a5bfb"
	if hex.EncodeToString(got) != want {
		t.Fatalf("Seal = %x, want %s", got, want)
	}
	o := &Opener{aead: a, hp: hp}
	pnLen, truncated, byte0, err := o.UnprotectHeader(got, 1)
	if err != nil || pnLen != 3 || truncated != 0x00bff4 || byte0 != 0x42 {
		t.Fatalf("UnprotectHeader = %d, %#x, %#x, %v; want 3, 0xbff4, 0x42, nil", pnLen, truncated, byte0, err)
	}
	payload, err := o.Open(got, 1, pnLen, pn)
	if err != nil || !bytes.Equal(payload, []byte{0x01}) {
		t.Errorf("Open = %x, %v; want 01, nil", payload, err)
	}
}

func testSecret(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSealOpenRoundTrip(t *testing.T) {
	tests := []struct {
		desc     string
		suite    Suite
		header   []byte // through the end of the DCID
		pnLen    int
		pn       uint64
		protMask byte
	}{
		{"AES long header, 1-byte pn", AES128GCM, []byte{0xc0, 0x4c, 0x4d, 0x50, 0x31, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x00, 0x00, 0x41, 0x00}, 1, 7, 0x0f},
		{"AES short header, 4-byte pn", AES128GCM, []byte{0x40, 1, 2, 3, 4, 5, 6, 7, 8}, 4, 1<<62 - 1, 0x1f},
		{"ChaCha20 short header, 2-byte pn", ChaCha20Poly1305, []byte{0x40, 1, 2, 3, 4, 5, 6, 7, 8}, 2, 0x1234, 0x1f},
		{"ChaCha20 long header, 3-byte pn", ChaCha20Poly1305, []byte{0xc0, 0x4c, 0x4d, 0x50, 0x31, 0x00, 0x00, 0x00, 0x41, 0x00}, 3, 0xabcdef, 0x0f},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			sealer, err := NewSealer(tt.suite, testSecret(1))
			if err != nil {
				t.Fatal(err)
			}
			opener, err := NewOpener(tt.suite, testSecret(1))
			if err != nil {
				t.Fatal(err)
			}
			pnOffset := len(tt.header)
			clear := append([]byte(nil), tt.header...)
			clear[0] |= byte(tt.pnLen - 1)
			for i := range tt.pnLen {
				clear = append(clear, byte(tt.pn>>(8*(tt.pnLen-1-i))))
			}
			plaintext := []byte("hello, limpet; this payload is long enough to sample")
			clear = append(clear, plaintext...)
			buf := make([]byte, len(clear), len(clear)+TagLen)
			copy(buf, clear)
			sealed := sealer.Seal(buf, pnOffset, tt.pnLen, tt.pn)
			if len(sealed) != len(clear)+TagLen {
				t.Fatalf("len(sealed) = %d, want %d", len(sealed), len(clear)+TagLen)
			}
			if &sealed[0] != &buf[0] {
				t.Error("Seal did not work in place")
			}
			// Header protection touches only the protected bits of byte 0
			// and the packet number; the rest of the header is sent clear.
			if sealed[0]&^tt.protMask != clear[0]&^tt.protMask || !bytes.Equal(sealed[1:pnOffset], clear[1:pnOffset]) {
				t.Errorf("header outside protected fields changed: %x, want %x", sealed[:pnOffset], clear[:pnOffset])
			}
			pnLen, truncated, byte0, err := opener.UnprotectHeader(sealed, pnOffset)
			if err != nil {
				t.Fatal(err)
			}
			wantTruncated := tt.pn & (1<<(8*tt.pnLen) - 1)
			if pnLen != tt.pnLen || truncated != wantTruncated || byte0 != clear[0] {
				t.Errorf("UnprotectHeader = %d, %#x, %#x; want %d, %#x, %#x", pnLen, truncated, byte0, tt.pnLen, wantTruncated, clear[0])
			}
			if !bytes.Equal(sealed[:pnOffset+pnLen], clear[:pnOffset+tt.pnLen]) {
				t.Errorf("unprotected header = %x, want %x", sealed[:pnOffset+pnLen], clear[:pnOffset+tt.pnLen])
			}
			payload, err := opener.Open(sealed, pnOffset, pnLen, tt.pn)
			if err != nil || !bytes.Equal(payload, plaintext) {
				t.Errorf("Open = %q, %v; want %q", payload, err, plaintext)
			}
		})
	}
}

func TestOpenWrongPacketNumberOrKey(t *testing.T) {
	for _, suite := range []Suite{AES128GCM, ChaCha20Poly1305} {
		sealer, _ := NewSealer(suite, testSecret(1))
		wrongKey, _ := NewOpener(suite, testSecret(2))
		opener, _ := NewOpener(suite, testSecret(1))
		build := func() []byte {
			buf := make([]byte, 0, 64)
			buf = append(buf, 0x41, 9, 9, 9, 9, 9, 9, 9, 9, 0x00, 0x05)
			buf = append(buf, make([]byte, 20)...)
			return sealer.Seal(buf, 9, 2, 5)
		}
		tests := []struct {
			desc   string
			opener *Opener
			pn     uint64
		}{
			{"wrong full packet number", opener, 5 + 1<<16},
			{"wrong key", wrongKey, 5},
		}
		for _, tt := range tests {
			p := build()
			pnLen, _, _, err := tt.opener.UnprotectHeader(p, 9)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tt.opener.Open(p, 9, pnLen, tt.pn); !errors.Is(err, ErrDecrypt) {
				t.Errorf("%v %s: Open error = %v, want ErrDecrypt", suite, tt.desc, err)
			}
		}
	}
}

func TestUnprotectHeaderSampleBounds(t *testing.T) {
	opener, _ := NewOpener(AES128GCM, testSecret(1))
	const pnOffset = 9
	tests := []struct {
		desc     string
		len      int
		pnOffset int
		wantErr  error
	}{
		{"empty", 0, pnOffset, ErrPacketTooShort},
		{"one byte short of the sample", MinProtectedLen(pnOffset) - 1, pnOffset, ErrPacketTooShort},
		{"exactly the sample", MinProtectedLen(pnOffset), pnOffset, nil},
		{"pn offset zero", 100, 0, ErrPacketTooShort},
		{"negative pn offset", 100, -1, ErrPacketTooShort},
		{"pn offset past the end", 100, 100, ErrPacketTooShort},
	}
	for _, tt := range tests {
		p := bytes.Repeat([]byte{0x41}, tt.len)
		orig := append([]byte(nil), p...)
		_, _, _, err := opener.UnprotectHeader(p, tt.pnOffset)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: UnprotectHeader error = %v, want %v", tt.desc, err, tt.wantErr)
		}
		if err != nil && !bytes.Equal(p, orig) {
			t.Errorf("%s: a rejected packet was modified", tt.desc)
		}
	}
	for _, tt := range []struct {
		desc     string
		len      int
		pnOffset int
		pnLen    int
	}{
		{"shorter than a tag", pnOffset + 2 + TagLen - 1, pnOffset, 2},
		{"pn length 0", 100, pnOffset, 0},
		{"pn length 5", 100, pnOffset, 5},
		{"pn offset 0", 100, 0, 1},
	} {
		if _, err := opener.Open(make([]byte, tt.len), tt.pnOffset, tt.pnLen, 0); !errors.Is(err, ErrPacketTooShort) {
			t.Errorf("Open %s: error = %v, want ErrPacketTooShort", tt.desc, err)
		}
	}
}

func TestSealPanicsOnBrokenContract(t *testing.T) {
	sealer, _ := NewSealer(AES128GCM, testSecret(1))
	tests := []struct {
		desc     string
		packet   []byte
		pnOffset int
		pnLen    int
	}{
		{"no room for the tag", make([]byte, 40), 9, 2},
		{"too short to sample", make([]byte, 12, 100), 9, 2},
		{"pn length 5", make([]byte, 40, 100), 9, 5},
		{"pn past the end", make([]byte, 40, 100), 39, 2},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Seal did not panic", tt.desc)
				}
			}()
			sealer.Seal(tt.packet, tt.pnOffset, tt.pnLen, 0)
		}()
	}
}

func TestUnknownSuite(t *testing.T) {
	if _, err := NewSealer(Suite(9), testSecret(1)); !errors.Is(err, ErrUnknownSuite) {
		t.Errorf("NewSealer(Suite(9)) error = %v, want ErrUnknownSuite", err)
	}
	if _, err := NewAppKeys(Suite(0), testSecret(1), testSecret(2)); !errors.Is(err, ErrUnknownSuite) {
		t.Errorf("NewAppKeys(Suite(0)) error = %v, want ErrUnknownSuite", err)
	}
	for _, tt := range []struct {
		s    Suite
		want string
	}{{AES128GCM, "AES-128-GCM"}, {ChaCha20Poly1305, "ChaCha20-Poly1305"}, {Suite(0x7f), "Suite(0x7f)"}} {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("Suite(%d).String() = %q, want %q", uint8(tt.s), got, tt.want)
		}
	}
	if got := fmt.Sprint(PreferredSuites()); got != "[AES-128-GCM ChaCha20-Poly1305]" && got != "[ChaCha20-Poly1305 AES-128-GCM]" {
		t.Errorf("PreferredSuites() = %s, want both suites", got)
	}
}

func TestHugeOffsetsDoNotOverflow(t *testing.T) {
	opener, _ := NewOpener(AES128GCM, testSecret(1))
	p := make([]byte, 64)
	const huge = int(^uint(0) >> 1)
	for _, off := range []int{huge, huge - 3, huge - SampleOffset - SampleLen + 1} {
		if _, _, _, err := opener.UnprotectHeader(p, off); !errors.Is(err, ErrPacketTooShort) {
			t.Errorf("UnprotectHeader(pnOffset %d) error = %v, want ErrPacketTooShort", off, err)
		}
		if _, err := opener.Open(p, off, 4, 0); !errors.Is(err, ErrPacketTooShort) {
			t.Errorf("Open(pnOffset %d) error = %v, want ErrPacketTooShort", off, err)
		}
	}
}

// TestChaChaMaskAtCounterLimit: a sample whose first four bytes are all ones
// sets the ChaCha20 block counter to 2^32-1, the last block it can produce;
// computing five mask bytes there must work rather than panic.
func TestChaChaMaskAtCounterLimit(t *testing.T) {
	hp := newHeaderProtector(ChaCha20Poly1305, testSecret(3))
	sample := append([]byte{0xff, 0xff, 0xff, 0xff}, make([]byte, 12)...)
	hp.computeMask(sample)
	first := hp.mask
	hp.computeMask(sample)
	if hp.mask != first || first == ([16]byte{}) {
		t.Errorf("mask at the counter limit = %x then %x, want equal and non-zero", first[:5], hp.mask[:5])
	}
}
