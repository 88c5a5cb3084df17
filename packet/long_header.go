package packet

import "strconv"

// LongType is the two-bit packet type of a long header (docs/PROTOCOL.md
// section 2.1). Limpet uses only Initial and Retry; 1 and 2, QUIC's 0-RTT and
// Handshake, are invalid.
type LongType uint8

// The long packet types limpet uses.
const (
	LongTypeInitial LongType = 0
	LongTypeRetry   LongType = 3
)

// String is the type's name, or LongType(n) for the invalid ones.
func (t LongType) String() string {
	switch t {
	case LongTypeInitial:
		return "Initial"
	case LongTypeRetry:
		return "Retry"
	}
	return "LongType(" + strconv.Itoa(int(t)) + ")"
}

// LongHeader is the unprotected part of a long-header packet. The reserved
// and packet-number-length bits of the first byte are header-protected, so
// the parser leaves them alone; the crypto package reads them once it has
// removed protection.
type LongHeader struct {
	Type      LongType
	Version   uint32
	DstConnID ConnectionID
	SrcConnID ConnectionID
	// Token is the Initial packet's address-validation token, or a Retry's
	// Retry Token. A parsed Token aliases the input.
	Token []byte
	// PNOffset is where the Packet Number field starts, counted from the
	// start of the packet. It is 0 for a Retry, which has no packet number.
	PNOffset int
	// PacketLen is the length of this packet in the datagram, header
	// included: the next coalesced packet, if any, starts there. A Retry
	// runs to the end of the datagram.
	PacketLen int
}

// ParseLongHeader parses the long-header packet at the start of b, which may
// be followed by further coalesced packets. It checks everything not
// covered by header protection: the form and fixed bits, the version, the
// packet type, CID lengths of at most 20, a token that fits, and a Length
// that neither runs past b nor is too short for header protection's sample
// (MinProtectedSpan). A Retry is checked as ParseRetry does.
func ParseLongHeader(b []byte) (LongHeader, error) {
	var h LongHeader
	if len(b) == 0 {
		return h, ErrTruncated
	}
	if b[0]&headerFormBit == 0 {
		return h, ErrHeaderForm
	}
	if len(b) < 5 {
		return h, ErrTruncated
	}
	h.Version = readUint32(b[1:])
	if h.Version != Version {
		return h, ErrUnsupportedVersion
	}
	if b[0]&fixedBit == 0 {
		return h, ErrFixedBit
	}
	h.Type = LongType(b[0] & longTypeMask >> longTypeShift)
	switch h.Type {
	case LongTypeInitial:
	case LongTypeRetry:
		r, err := ParseRetry(b)
		if err != nil {
			return h, err
		}
		h.DstConnID, h.SrcConnID, h.Token, h.PacketLen = r.DstConnID, r.SrcConnID, r.Token, len(b)
		return h, nil
	default:
		return h, ErrLongType
	}
	off := 5
	var n int
	var err error
	if h.DstConnID, n, err = parseConnID(b[off:]); err != nil {
		return h, err
	}
	off += n
	if h.SrcConnID, n, err = parseConnID(b[off:]); err != nil {
		return h, err
	}
	off += n
	tokenLen, n, err := ParseVarint(b[off:])
	if err != nil {
		return h, err
	}
	off += n
	if tokenLen > uint64(len(b)-off) {
		return h, ErrTruncated
	}
	h.Token = b[off : off+int(tokenLen)]
	off += int(tokenLen)
	length, n, err := ParseVarint(b[off:])
	if err != nil {
		return h, err
	}
	off += n
	if length > uint64(len(b)-off) || length < MinProtectedSpan {
		return h, ErrInvalidLength
	}
	h.PNOffset = off
	h.PacketLen = off + int(length)
	return h, nil
}

// lengthFieldLen is the size of the Length field AppendLongHeader writes: a
// fixed two bytes for every packet up to 16383 bytes, so that a packer can
// reserve the header before it knows how much payload will fit, and the
// minimal encoding beyond that.
func lengthFieldLen(length int) int {
	if length < 1<<14 {
		return 2
	}
	return VarintLen(uint64(length))
}

// LongHeaderLen is the length of the header AppendLongHeader writes for h,
// packet number included: the associated data the AEAD authenticates.
// payloadLen counts the protected payload including its AEAD tag, and
// matters only above 16383 bytes (see AppendLongHeader).
func LongHeaderLen(h LongHeader, pnLen, payloadLen int) int {
	n := 1 + 4 + 1 + h.DstConnID.Len() + 1 + h.SrcConnID.Len()
	n += VarintLen(uint64(len(h.Token))) + len(h.Token)
	return n + lengthFieldLen(pnLen+payloadLen) + pnLen
}

// AppendLongHeader appends an Initial packet's header up to and including
// the Length field and returns the extended buffer and pnOffset, the index
// in out where the caller appends the packet number (AppendPacketNumber)
// and then the payload. h's Type, Version, CIDs and Token are written;
// PNOffset and PacketLen are ignored. pnLen is the truncated packet
// number's length (1..4) and goes in the first byte's low bits, which the
// crypto package then protects. payloadLen is the length of the protected
// payload including the 16-byte AEAD tag; the Length field is pnLen +
// payloadLen, always written in two bytes when it is below 16384 (the
// minimal encoding above that), so that LongHeaderLen does not depend on
// the payload for any packet limpet sends. The sender must make
// pnLen+payloadLen at least MinProtectedSpan.
//
// Retry packets have their own layout (AppendRetry). Any type other than
// Initial, or a pnLen outside 1..4, is a programming error and panics.
func AppendLongHeader(b []byte, h LongHeader, pnLen int, payloadLen int) (out []byte, pnOffset int) {
	if h.Type != LongTypeInitial {
		panic("packet: AppendLongHeader writes Initial packets only; got " + h.Type.String())
	}
	if pnLen < 1 || pnLen > MaxPacketNumberLen {
		panic("packet: packet number length not in 1..4")
	}
	b = append(b, headerFormBit|fixedBit|byte(h.Type)<<longTypeShift|byte(pnLen-1))
	b = appendUint32(b, h.Version)
	b = appendConnID(b, h.DstConnID)
	b = appendConnID(b, h.SrcConnID)
	b = AppendVarint(b, uint64(len(h.Token)))
	b = append(b, h.Token...)
	length := pnLen + payloadLen
	b = AppendVarintWithLen(b, uint64(length), lengthFieldLen(length))
	return b, len(b)
}
