package packet

// RetryTagLen is the length of the Retry Integrity Tag that ends every
// Retry packet (docs/PROTOCOL.md section 4.4).
const RetryTagLen = 16

// Retry is a parsed Retry packet (docs/PROTOCOL.md section 2.2). Its first
// byte is not header-protected, so the parser checks it fully.
type Retry struct {
	Version   uint32
	DstConnID ConnectionID
	SrcConnID ConnectionID
	// Token is the Retry Token the client must echo in its next Initial. It
	// aliases the input.
	Token []byte
	// Tag is the Retry Integrity Tag, which the crypto package verifies over
	// AppendRetryPseudoPacket's output.
	Tag [RetryTagLen]byte
}

// retryByte0 is a Retry's first byte: long form, fixed bit, type 3, and
// four unused bits that limpet fixes at zero.
const retryByte0 = headerFormBit | fixedBit | byte(LongTypeRetry)<<longTypeShift

// ParseRetry parses a Retry packet, which fills the rest of the datagram b.
// The unused bits must be zero and the token non-empty (a client discards a
// Retry without one, RFC 9000 §17.2.5.2).
func ParseRetry(b []byte) (Retry, error) {
	var r Retry
	if len(b) == 0 {
		return r, ErrTruncated
	}
	if b[0]&headerFormBit == 0 {
		return r, ErrHeaderForm
	}
	if len(b) < 5 {
		return r, ErrTruncated
	}
	r.Version = readUint32(b[1:])
	if r.Version != Version {
		return r, ErrUnsupportedVersion
	}
	if b[0]&fixedBit == 0 {
		return r, ErrFixedBit
	}
	if LongType(b[0]&longTypeMask>>longTypeShift) != LongTypeRetry {
		return r, ErrLongType
	}
	if b[0]&retryUnusedBits != 0 {
		return r, ErrRetryUnusedBits
	}
	off := 5
	var n int
	var err error
	if r.DstConnID, n, err = parseConnID(b[off:]); err != nil {
		return r, err
	}
	off += n
	if r.SrcConnID, n, err = parseConnID(b[off:]); err != nil {
		return r, err
	}
	off += n
	if len(b)-off < RetryTagLen {
		return r, ErrTruncated
	}
	tagStart := len(b) - RetryTagLen
	if tagStart == off {
		return r, ErrEmptyRetryToken
	}
	r.Token = b[off:tagStart]
	copy(r.Tag[:], b[tagStart:])
	return r, nil
}

// AppendRetry appends a Retry packet without its integrity tag; the crypto
// package computes the tag over AppendRetryPseudoPacket's output and the
// caller appends it. dcid is the client's SCID, scid the fresh CID the
// server chose.
func AppendRetry(b []byte, version uint32, dcid, scid ConnectionID, token []byte) []byte {
	b = append(b, retryByte0)
	b = appendUint32(b, version)
	b = appendConnID(b, dcid)
	b = appendConnID(b, scid)
	return append(b, token...)
}

// AppendRetryPseudoPacket appends the input of the Retry Integrity Tag
// (docs/PROTOCOL.md section 4.4): the original DCID with its length byte,
// then the Retry packet without its tag. A server passes what AppendRetry
// wrote; a client passes the received packet minus its last RetryTagLen
// bytes.
func AppendRetryPseudoPacket(b []byte, originalDCID ConnectionID, retryWithoutTag []byte) []byte {
	b = appendConnID(b, originalDCID)
	return append(b, retryWithoutTag...)
}
