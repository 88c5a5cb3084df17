// Package fec is limpet's forward error correction (docs/PROTOCOL.md section
// 10): a systematic Reed-Solomon erasure code over GF(2^8) with a Cauchy
// matrix, from github.com/klauspost/reedsolomon.
//
// The sender groups up to 32 of the 1-RTT packets it protects and, for each
// group, sends up to 32 repair packets whose FEC_REPAIR frames carry a
// repair symbol computed from the group's payloads. A receiver that holds
// any K of a group's K source payloads and repair symbols rebuilds the
// missing payloads, byte for byte, without waiting a round trip for them
// to be retransmitted.
//
// Encoder is the sender's half and Decoder the receiver's. Both are sans-IO
// like the packages below transport: they take packet numbers and payloads
// and return frames and payloads; they keep no clock, start no goroutine
// (the code runs with one goroutine) and are owned by the connection's
// goroutine. The Decoder's memory is bounded (DecoderConfig); what does not
// fit is forgotten oldest first, which only costs recoveries.
//
// A symbol is a payload with its length in front, zero-padded to the
// group's longest: Length (16) || Payload || zeros. The length prefix makes
// recovery exact even for a payload whose last frame runs to the end of the
// packet (a STREAM frame without Length), which zero padding alone would
// corrupt.
package fec
