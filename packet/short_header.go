package packet

// ShortHeader is the unprotected part of a short-header (1-RTT) packet
// (docs/PROTOCOL.md section 2.3). The key phase, reserved and
// packet-number-length bits are header-protected, so the parser leaves them
// alone; the spin bit is unused in limpet v1 and ignored.
type ShortHeader struct {
	DstConnID ConnectionID
	// PNOffset is where the Packet Number field starts: 1 + the DCID length.
	PNOffset int
}

// ParseShortHeader parses the short-header packet that makes up the rest of
// b. dcidLen is the length of the connection IDs this endpoint issued
// (DefaultConnIDLen), since the header does not say. The packet must leave
// at least MinProtectedSpan bytes after the DCID for header protection's
// sample; anything shorter cannot be a packet a peer built.
func ParseShortHeader(b []byte, dcidLen int) (ShortHeader, error) {
	var h ShortHeader
	if dcidLen < 0 || dcidLen > MaxConnIDLen {
		return h, ErrConnIDLen
	}
	if len(b) == 0 {
		return h, ErrTruncated
	}
	if b[0]&headerFormBit != 0 {
		return h, ErrHeaderForm
	}
	if b[0]&fixedBit == 0 {
		return h, ErrFixedBit
	}
	if len(b) < 1+dcidLen+MinProtectedSpan {
		return h, ErrTruncated
	}
	h.DstConnID = connIDFrom(b[1 : 1+dcidLen])
	h.PNOffset = 1 + dcidLen
	return h, nil
}

// ShortHeaderLen is the length of a short header with a dcidLen-byte DCID
// and a pnLen-byte packet number, packet number included.
func ShortHeaderLen(dcidLen, pnLen int) int { return 1 + dcidLen + pnLen }

// AppendShortHeader appends a short header's first byte and DCID and
// returns the extended buffer and pnOffset, the index in out where the
// caller appends the packet number and then the payload. The key phase and
// pnLen (1..4) go in the first byte's low bits, which the crypto package
// then protects; the spin bit is always 0. A pnLen outside 1..4 panics.
func AppendShortHeader(b []byte, dcid ConnectionID, keyPhase bool, pnLen int) (out []byte, pnOffset int) {
	if pnLen < 1 || pnLen > MaxPacketNumberLen {
		panic("packet: packet number length not in 1..4")
	}
	byte0 := fixedBit | byte(pnLen-1)
	if keyPhase {
		byte0 |= shortKeyPhase
	}
	b = append(b, byte0)
	b = append(b, dcid.b[:dcid.n]...)
	return b, len(b)
}
