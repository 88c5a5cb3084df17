package packet

import "errors"

// Version is limpet version 1 ("LMP1") as it appears in long headers
// (docs/PROTOCOL.md section 1). There is no version negotiation: a packet
// with any other version is dropped.
const Version uint32 = 0x4c4d5031

// Sizes shared by the packet builder and parser (docs/PROTOCOL.md sections
// 1 and 2).
const (
	// DefaultConnIDLen is the length of every connection ID a limpet
	// endpoint issues for itself, and so the DCID length its short-header
	// parser expects.
	DefaultConnIDLen = 8
	// MinInitialDatagramSize is the size a client pads every datagram
	// carrying an Initial packet to, which bounds the server's
	// amplification before the client's address is validated.
	MinInitialDatagramSize = 1200
	// DefaultMaxUDPPayload fits a 1500-byte MTU under IPv6 (1500 − 40 − 8)
	// and IPv4 alike.
	DefaultMaxUDPPayload = 1452
	// MinProtectedSpan is the fewest bytes from the start of the Packet
	// Number field to the end of a protected packet: header protection
	// samples 16 bytes starting 4 bytes into the packet-number field
	// (docs/PROTOCOL.md section 4.2), so senders pad to at least this and
	// parsers reject anything shorter.
	MinProtectedSpan = 4 + 16
)

// First-byte bits (docs/PROTOCOL.md sections 2.1 and 2.3).
const (
	headerFormBit   = 0x80
	fixedBit        = 0x40
	longTypeMask    = 0x30
	longTypeShift   = 4
	longReserved    = 0x0c
	shortSpinBit    = 0x20
	shortReserved   = 0x18
	shortKeyPhase   = 0x04
	pnLenMask       = 0x03
	longProtected   = 0x0f
	shortProtected  = 0x1f
	retryUnusedBits = 0x0f
)

// Errors from the header parsers. A header error means the packet, and for
// a long header the rest of its datagram, is dropped (docs/PROTOCOL.md
// section 2.1); none of them is answered on the wire.
var (
	ErrHeaderForm         = errors.New("packet: wrong header form")
	ErrFixedBit           = errors.New("packet: fixed bit is zero")
	ErrUnsupportedVersion = errors.New("packet: unsupported version")
	ErrLongType           = errors.New("packet: invalid long packet type")
	ErrInvalidLength      = errors.New("packet: Length field out of range")
	ErrRetryUnusedBits    = errors.New("packet: Retry packet with nonzero unused bits")
	ErrEmptyRetryToken    = errors.New("packet: Retry packet without a token")
)

// IsLongHeader reports whether b starts with a long-header packet. An empty
// b is not one.
func IsLongHeader(b []byte) bool { return len(b) > 0 && b[0]&headerFormBit != 0 }

// PeekDestConnID returns the Destination Connection ID of the packet at the
// start of b without removing protection, which is all the endpoint needs
// to route a datagram to its connection. shortDCIDLen is the length of the
// connection IDs this endpoint issues (DefaultConnIDLen), since a short
// header does not carry it.
//
// It checks only what it reads (form and fixed bits, the version and the
// CID length); the full parsers check the rest.
func PeekDestConnID(b []byte, shortDCIDLen int) (ConnectionID, error) {
	if !IsLongHeader(b) {
		h, err := ParseShortHeader(b, shortDCIDLen)
		return h.DstConnID, err
	}
	if b[0]&fixedBit == 0 {
		return ConnectionID{}, ErrFixedBit
	}
	if len(b) < 6 {
		return ConnectionID{}, ErrTruncated
	}
	if readUint32(b[1:]) != Version {
		return ConnectionID{}, ErrUnsupportedVersion
	}
	dcid, _, err := parseConnID(b[5:])
	return dcid, err
}

// ReservedBitsSet reports whether the reserved bits of an unprotected first
// byte are nonzero, which is a PROTOCOL_VIOLATION once the packet has been
// authenticated (RFC 9000 §17.2 and §17.3.1). The header form bit decides
// which bits are reserved.
func ReservedBitsSet(byte0 byte) bool {
	if byte0&headerFormBit != 0 {
		return byte0&longReserved != 0
	}
	return byte0&shortReserved != 0
}

// PacketNumberLenFromByte0 is the packet-number length (1..4) that an
// unprotected first byte announces.
func PacketNumberLenFromByte0(byte0 byte) int { return int(byte0&pnLenMask) + 1 }

// KeyPhaseFromByte0 is the key-phase bit of an unprotected short-header
// first byte (docs/PROTOCOL.md section 4.6). It is meaningless for long
// headers.
func KeyPhaseFromByte0(byte0 byte) bool { return byte0&shortKeyPhase != 0 }

// ProtectedBits is the mask of the first-byte bits that header protection
// hides: the low 4 bits of a long header, the low 5 of a short one
// (docs/PROTOCOL.md section 4.2).
func ProtectedBits(byte0 byte) byte {
	if byte0&headerFormBit != 0 {
		return longProtected
	}
	return shortProtected
}

// parseConnID reads a length-prefixed connection ID.
func parseConnID(b []byte) (ConnectionID, int, error) {
	if len(b) < 1 {
		return ConnectionID{}, 0, ErrTruncated
	}
	n := int(b[0])
	if n > MaxConnIDLen {
		return ConnectionID{}, 0, ErrConnIDLen
	}
	if len(b) < 1+n {
		return ConnectionID{}, 0, ErrTruncated
	}
	return connIDFrom(b[1 : 1+n]), 1 + n, nil
}

// connIDFrom copies b, which the caller has checked is at most
// MaxConnIDLen bytes, into a ConnectionID.
func connIDFrom(b []byte) ConnectionID {
	var c ConnectionID
	c.n = uint8(copy(c.b[:], b))
	return c
}

// appendConnID appends a length-prefixed connection ID.
func appendConnID(b []byte, c ConnectionID) []byte {
	b = append(b, byte(c.n))
	return append(b, c.b[:c.n]...)
}

func readUint32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func appendUint32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
