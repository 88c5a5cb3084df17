package linkem

import "encoding/binary"

// ECN codepoints, the two low bits of the IPv4 TOS byte and of the IPv6
// traffic class (RFC 3168 section 5).
const (
	ecnNotECT = 0b00
	ecnECT1   = 0b01
	ecnECT0   = 0b10
	ecnCE     = 0b11
)

// packetECN returns the ECN codepoint of an IPv4 or IPv6 packet; ok is
// false for anything else, which a link treats as not ECN-capable.
func packetECN(pkt []byte) (ecn byte, ok bool) {
	if len(pkt) == 0 {
		return 0, false
	}
	switch pkt[0] >> 4 {
	case 4:
		ihl := int(pkt[0]&0x0f) * 4
		if ihl < 20 || len(pkt) < ihl {
			return 0, false
		}
		return pkt[1] & 0b11, true
	case 6:
		if len(pkt) < 40 {
			return 0, false
		}
		return (pkt[1] >> 4) & 0b11, true
	}
	return 0, false
}

// markCE sets Congestion Experienced on an ECN-capable packet, in place,
// and reports whether the packet now carries CE: true for ECT(0), ECT(1)
// and CE, false (and pkt untouched) for Not-ECT and non-IP packets, which
// must be dropped instead. An IPv4 header checksum is updated
// incrementally (RFC 1624, equation 3); IPv6 has none.
func markCE(pkt []byte) bool {
	ecn, ok := packetECN(pkt)
	switch {
	case !ok || ecn == ecnNotECT:
		return false
	case ecn == ecnCE:
		return true
	}
	if pkt[0]>>4 == 6 {
		pkt[1] |= ecnCE << 4
		return true
	}
	old := binary.BigEndian.Uint16(pkt[0:2])
	pkt[1] |= ecnCE
	updated := binary.BigEndian.Uint16(pkt[0:2])
	// HC' = ~(~HC + ~m + m') in one's complement arithmetic.
	sum := uint32(^binary.BigEndian.Uint16(pkt[10:12])) + uint32(^old) + uint32(updated)
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	binary.BigEndian.PutUint16(pkt[10:12], ^uint16(sum))
	return true
}
