// Package packet is limpet's wire format (docs/PROTOCOL.md sections 1–8):
// variable-length integers, connection and stream IDs, packet-number
// encoding, long, short and Retry headers, frames, transport parameters
// and transport error codes.
//
// It is a pure codec with no dependencies beyond the standard library.
// Encoders append to a caller's buffer and never allocate beyond growing
// it. Parsers take untrusted bytes, never read past them and never panic:
// anything truncated, out of range or unknown is an error value. Byte
// slices in parsed values alias the input.
//
// # Receiving
//
// The endpoint routes a datagram with PeekDestConnID, then parses each
// coalesced long-header packet with ParseLongHeader (PacketLen says where
// the next one starts) or the final short-header packet with
// ParseShortHeader. Those parsers read only what header protection leaves
// in the clear; after the crypto package removes it, PacketNumberLenFromByte0,
// KeyPhaseFromByte0, ReservedBitsSet, ParseTruncatedPacketNumber and
// DecodePacketNumber finish the header.
//
// A decrypted payload is parsed frame by frame. The hot path switches on
// PeekFrameType and calls the typed parsers (ParseStreamFrame,
// ParseAckFrame with a reused range buffer, …), which do not allocate for
// valid frames. A malformed frame returns a *FrameError naming its type, for
// the CONNECTION_CLOSE with FRAME_ENCODING_ERROR that answers it.
// ParseFrame returns any frame as the Frame interface, for tests, logging
// and fuzzing.
//
// # Sending
//
// A packer writes AppendLongHeader or AppendShortHeader, then
// AppendPacketNumber with PacketNumberLen's length, then frames with their
// Append methods, sizing them with Len, StreamFrameHeaderLen,
// MaxStreamDataLen and MaxCryptoDataLen. A long header's Length field takes
// a fixed two bytes up to 16383, so LongHeaderLen is known before the
// payload is.
//
// # Limitations
//
// Frame type 0x31 (FEC_SOURCE_INFO) is reserved and unused: ParseFrame
// reports ErrUnsupportedFrame for it. FEC_REPAIR (0x30) parses like any
// other frame; whether one may arrive is the transport's business, since
// it needs the fec transport parameter. There is no version
// negotiation; every parser rejects versions other than Version.
package packet
