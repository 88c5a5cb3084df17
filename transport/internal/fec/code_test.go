package fec

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/limpetnet/limpet/packet"
)

// gfMul multiplies in GF(2^8) with the polynomial x^8+x^4+x^3+x^2+1
// (0x11d), bit by bit: the reference docs/PROTOCOL.md section 10 gives.
func gfMul(a, b byte) byte {
	var p byte
	for b != 0 {
		if b&1 != 0 {
			p ^= a
		}
		carry := a & 0x80
		a <<= 1
		if carry != 0 {
			a ^= 0x1d
		}
		b >>= 1
	}
	return p
}

// gfInv is a^254, the inverse of a non-zero a.
func gfInv(a byte) byte {
	r := byte(1)
	for range 254 {
		r = gfMul(r, a)
	}
	return r
}

// TestRepairSymbolsMatchSpec: the repair symbols the Encoder sends are
// exactly what docs/PROTOCOL.md section 10 defines, computed here from
// scratch: source symbol j is Length (16) || payload || zeros, and repair
// symbol i is the sum over j of inv((K+i) XOR j) · symbol_j, byte by byte.
func TestRepairSymbolsMatchSpec(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, shape := range []struct{ k, r int }{{1, 1}, {3, 2}, {8, 4}, {32, 32}} {
		e, _ := NewEncoder(shape.k, shape.r)
		payloads := testPayloads(r, shape.k)
		symLen := 0
		for j, p := range payloads {
			e.Add(packet.PacketNumber(j), p)
			symLen = max(symLen, 2+len(p))
		}
		syms := make([][]byte, shape.k)
		for j, p := range payloads {
			syms[j] = make([]byte, symLen)
			binary.BigEndian.PutUint16(syms[j], uint16(len(p)))
			copy(syms[j][2:], p)
		}
		for i, f := range drainRepairs(t, e, packet.PacketNumber(shape.k)) {
			want := make([]byte, symLen)
			for j, sym := range syms {
				c := gfInv(byte(shape.k+i) ^ byte(j))
				for b := range want {
					want[b] ^= gfMul(c, sym[b])
				}
			}
			if !bytes.Equal(f.Symbol, want) {
				t.Fatalf("K=%d R=%d: repair %d differs from the specification", shape.k, shape.r, i)
			}
		}
	}
}
