package wire

import (
	"encoding/hex"
	"testing"
)

// TestNewHashIsBLAKE3 pins the file hash to BLAKE3-256 with the
// specification's test vectors, so that another implementation of the
// protocol can check its own.
func TestNewHashIsBLAKE3(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{nil, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
		// The BLAKE3 test vectors' input of length 1024: byte i is i mod 251.
		{pattern251(1024), "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"},
	}
	for _, tt := range tests {
		h := NewHash()
		h.Write(tt.in)
		if got := hex.EncodeToString(h.Sum(nil)); got != tt.want {
			t.Errorf("hash of %d bytes: %s, want %s", len(tt.in), got, tt.want)
		}
		if h.Size() != HashLen {
			t.Errorf("Size %d, want HashLen %d", h.Size(), HashLen)
		}
	}
}

func pattern251(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}
