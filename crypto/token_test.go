package crypto

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net/netip"
	"testing"
	"time"
)

func testSecret32(b byte) [32]byte {
	var s [32]byte
	for i := range s {
		s[i] = b + byte(i)
	}
	return s
}

func TestRetryTokenValidation(t *testing.T) {
	p := NewTokenProtector(testSecret32(1))
	addr := netip.MustParseAddrPort("192.0.2.7:4433")
	odcid := []byte{9, 8, 7, 6, 5, 4, 3, 2}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) // tokens keep milliseconds
	token := p.NewRetryToken(addr, odcid, now)
	if want := 12 + 8 + 1 + len(odcid) + 16; len(token) != want {
		t.Errorf("len(token) = %d, want %d", len(token), want)
	}
	tests := []struct {
		desc      string
		protector *TokenProtector
		token     []byte
		addr      netip.AddrPort
		now       time.Time
		want      error
	}{
		{"same address, at once", p, token, addr, now, nil},
		{"same address, at the end of its lifetime", p, token, addr, now.Add(DefaultRetryTokenLifetime), nil},
		{"IPv4-mapped spelling of the address", p, token, netip.MustParseAddrPort("[::ffff:192.0.2.7]:4433"), now, nil},
		{"expired", p, token, addr, now.Add(DefaultRetryTokenLifetime + time.Millisecond), ErrTokenExpired},
		{"other IP", p, token, netip.MustParseAddrPort("192.0.2.8:4433"), now, ErrInvalidToken},
		{"other port", p, token, netip.MustParseAddrPort("192.0.2.7:4434"), now, ErrInvalidToken},
		{"other server secret", NewTokenProtector(testSecret32(2)), token, addr, now, ErrInvalidToken},
		{"truncated", p, token[:len(token)-1], addr, now, ErrInvalidToken},
		{"empty", p, nil, addr, now, ErrInvalidToken},
		{"too long", p, append(append([]byte(nil), token...), make([]byte, 40)...), addr, now, ErrInvalidToken},
	}
	for _, tt := range tests {
		got, err := tt.protector.ValidateRetryToken(tt.token, tt.addr, tt.now, DefaultRetryTokenLifetime)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: error = %v, want %v", tt.desc, err, tt.want)
			continue
		}
		if err == nil && !bytes.Equal(got, odcid) {
			t.Errorf("%s: ODCID = %x, want %x", tt.desc, got, odcid)
		}
	}
	for i := range token {
		altered := append([]byte(nil), token...)
		altered[i] ^= 0x10
		if _, err := p.ValidateRetryToken(altered, addr, now, DefaultRetryTokenLifetime); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("token with byte %d altered: error = %v, want ErrInvalidToken", i, err)
		}
	}
}

func TestRetryTokensDifferAndCarryEmptyODCID(t *testing.T) {
	p := NewTokenProtector(testSecret32(1))
	addr := netip.MustParseAddrPort("[2001:db8::1]:443")
	a, b := p.NewRetryToken(addr, nil, testNow), p.NewRetryToken(addr, nil, testNow)
	if bytes.Equal(a, b) {
		t.Error("two tokens for the same address and time are identical; nonces must be random")
	}
	got, err := p.ValidateRetryToken(b, addr, testNow, time.Second)
	if err != nil || len(got) != 0 {
		t.Errorf("ValidateRetryToken = %x, %v; want an empty ODCID", got, err)
	}
}

func TestStatelessResetToken(t *testing.T) {
	p := NewTokenProtector(testSecret32(1))
	cid := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	token := p.StatelessResetToken(cid)

	secret := testSecret32(1)
	mac := hmac.New(sha256.New, ExpandLabel(secret[:], "reset", 32))
	mac.Write(cid)
	if want := mac.Sum(nil)[:16]; !bytes.Equal(token[:], want) {
		t.Errorf("StatelessResetToken = %x, want HMAC-SHA256(reset key, cid)[:16] = %x", token, want)
	}
	if again := NewTokenProtector(testSecret32(1)).StatelessResetToken(cid); again != token {
		t.Errorf("token after a restart with the same secret = %x, want %x", again, token)
	}
	others := map[string][16]byte{
		"other CID":    p.StatelessResetToken([]byte{1, 2, 3, 4, 5, 6, 7, 9}),
		"CID prefix":   p.StatelessResetToken(cid[:7]),
		"empty CID":    p.StatelessResetToken(nil),
		"other secret": NewTokenProtector(testSecret32(2)).StatelessResetToken(cid),
	}
	for desc, other := range others {
		if other == token {
			t.Errorf("%s gives the same reset token %x", desc, token)
		}
	}
}

func TestStatelessResetPacket(t *testing.T) {
	token := NewTokenProtector(testSecret32(1)).StatelessResetToken([]byte{1})
	tests := []struct {
		desc       string
		triggerLen int
		wantLen    int
		wantErr    error
	}{
		{"smallest trigger answered", MinStatelessResetLen + 1, MinStatelessResetLen, nil},
		{"full-size trigger", 1200, 1199, nil},
		{"trigger of the minimum length", MinStatelessResetLen, 0, ErrNoStatelessReset},
		{"tiny trigger", 21, 0, ErrNoStatelessReset},
	}
	for _, tt := range tests {
		prefix := []byte("prefix")
		got, err := AppendStatelessReset(append([]byte(nil), prefix...), token, tt.triggerLen, seededRand(7))
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: error = %v, want %v", tt.desc, err, tt.wantErr)
			continue
		}
		if !bytes.Equal(got[:len(prefix)], prefix) {
			t.Errorf("%s: prefix overwritten", tt.desc)
		}
		reset := got[len(prefix):]
		if len(reset) != tt.wantLen {
			t.Errorf("%s: reset of %d bytes, want %d", tt.desc, len(reset), tt.wantLen)
		}
		if err != nil {
			continue
		}
		if reset[0]&0xc0 != 0x40 {
			t.Errorf("%s: first byte %08b, want 01xxxxxx", tt.desc, reset[0])
		}
		if !IsStatelessReset(reset, token) {
			t.Errorf("%s: IsStatelessReset = false for our own reset", tt.desc)
		}
	}
	datagram := make([]byte, 60)
	copy(datagram[len(datagram)-16:], token[:])
	if !IsStatelessReset(datagram, token) {
		t.Error("IsStatelessReset missed a datagram ending in the token")
	}
	datagram[len(datagram)-1] ^= 1
	if IsStatelessReset(datagram, token) {
		t.Error("IsStatelessReset matched a datagram ending in another token")
	}
	short := make([]byte, MinStatelessResetLen-1)
	copy(short[len(short)-16:], token[:])
	if IsStatelessReset(short, token) {
		t.Error("IsStatelessReset matched a datagram shorter than any reset")
	}
}
