// Package packet is limpet's wire format: variable-length integers,
// connection IDs, long and short packet headers, packet-number encoding,
// frames and transport parameters.
//
// It is a pure codec. Encoders append to a caller's buffer and never
// allocate; parsers take untrusted bytes and return an error value for
// anything truncated or out of range, never panicking and never reading
// past the input. The layout is specified in docs/PROTOCOL.md.
package packet
