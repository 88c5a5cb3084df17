package fec

import (
	"encoding/binary"

	"github.com/klauspost/reedsolomon"
	"github.com/limpetnet/limpet/packet"
)

// MaxPayload is the longest payload a symbol holds: a whole datagram,
// more than any packet payload can be.
const MaxPayload = 1500

// MaxSymbolLen is the longest symbol: a MaxPayload payload and its 2-byte
// length prefix.
const MaxSymbolLen = 2 + MaxPayload

// prefixLen is the length prefix in front of every source symbol.
const prefixLen = 2

// newCode returns the Reed-Solomon code for k source symbols and r repair
// symbols. Repair symbol i is row k+i of the systematic Cauchy matrix:
// coefficient inv((k+i) XOR j) for source j, in GF(2^8) with the
// polynomial x^8+x^4+x^3+x^2+1 (docs/PROTOCOL.md section 10), so a code
// with more repair rows extends one with fewer. One goroutine, and no cache
// of inverted matrices, keep the coder's time and memory bounded per call.
func newCode(k, r int) (reedsolomon.Encoder, error) {
	return reedsolomon.New(k, r,
		reedsolomon.WithCauchyMatrix(),
		reedsolomon.WithMaxGoroutines(1),
		reedsolomon.WithInversionCache(false))
}

// putSymbol writes payload into sym as a source symbol of length symLen:
// its 2-byte length, the payload, zeros. sym must have capacity symLen.
func putSymbol(sym []byte, payload []byte, symLen int) []byte {
	sym = sym[:symLen]
	binary.BigEndian.PutUint16(sym, uint16(len(payload)))
	n := copy(sym[prefixLen:], payload)
	clear(sym[prefixLen+n:])
	return sym
}

// symbolPayload returns the payload a recovered source symbol holds, or
// false if its length prefix is 0 or points past the symbol or the bytes
// after the payload are not zero: the group's symbols were inconsistent.
func symbolPayload(sym []byte) ([]byte, bool) {
	n := int(binary.BigEndian.Uint16(sym))
	if n == 0 || n > len(sym)-prefixLen {
		return nil, false
	}
	for _, b := range sym[prefixLen+n:] {
		if b != 0 {
			return nil, false
		}
	}
	return sym[prefixLen : prefixLen+n], true
}

// groupEnd is the last source packet of a group.
func groupEnd(sources []packet.PacketNumber) packet.PacketNumber { return sources[len(sources)-1] }
