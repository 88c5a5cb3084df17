package crypto

import (
	"net/netip"
	"testing"
	"time"
)

func TestSpentTokensOncePerToken(t *testing.T) {
	var secret [32]byte
	p := NewTokenProtector(secret)
	addr := netip.MustParseAddrPort("198.18.0.1:4433")
	spent := NewSpentTokens(2)
	open := func(tok []byte, now time.Time) RetryToken {
		t.Helper()
		rt, err := p.OpenRetryToken(tok, addr, now, DefaultRetryTokenLifetime)
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	a := p.NewRetryToken(addr, []byte{1, 2, 3, 4, 5, 6, 7, 8}, testNow)
	b := p.NewRetryToken(addr, []byte{1, 2, 3, 4, 5, 6, 7, 8}, testNow)
	now := testNow.Add(time.Second)
	if !spent.Spend(open(a, now), DefaultRetryTokenLifetime, now) {
		t.Fatal("first use of a token refused")
	}
	if spent.Spend(open(a, now), DefaultRetryTokenLifetime, now) {
		t.Error("second use of the same token accepted")
	}
	if !spent.Spend(open(b, now), DefaultRetryTokenLifetime, now) {
		t.Error("another token for the same address and ODCID refused")
	}
	// Expired tokens are forgotten: the protector rejects them anyway.
	later := testNow.Add(DefaultRetryTokenLifetime + time.Millisecond)
	c := p.NewRetryToken(addr, nil, later)
	if !spent.Spend(open(c, later), DefaultRetryTokenLifetime, later) || spent.Len() != 1 {
		t.Errorf("after expiry: %d tokens remembered, want 1", spent.Len())
	}
	if _, err := p.OpenRetryToken(a, addr, later, DefaultRetryTokenLifetime); err == nil {
		t.Error("expired token opened")
	}
}

func TestSpentTokensFullFailsOpen(t *testing.T) {
	var secret [32]byte
	p := NewTokenProtector(secret)
	addr := netip.MustParseAddrPort("198.18.0.1:4433")
	spent := NewSpentTokens(4)
	for i := range 100 {
		tok := p.NewRetryToken(addr, nil, testNow)
		rt, err := p.OpenRetryToken(tok, addr, testNow, DefaultRetryTokenLifetime)
		if err != nil {
			t.Fatal(err)
		}
		if !spent.Spend(rt, DefaultRetryTokenLifetime, testNow) {
			t.Fatalf("token %d refused by a full set", i)
		}
	}
	if spent.Len() != 4 {
		t.Errorf("set holds %d, want its capacity 4", spent.Len())
	}
}
