package ackframes

import "strconv"

// Space is a packet-number space. Limpet has two (docs/PROTOCOL.md,
// "Packet numbers"): the Noise handshake completes in the Initial space, so
// there is no Handshake space as in QUIC.
type Space uint8

const (
	// SpaceInitial numbers Initial packets, which carry the handshake.
	SpaceInitial Space = iota
	// SpaceApplication numbers 1-RTT (short-header) packets.
	SpaceApplication

	spaceCount = 2
)

// String names the space as docs/PROTOCOL.md does.
func (s Space) String() string {
	switch s {
	case SpaceInitial:
		return "Initial"
	case SpaceApplication:
		return "Application"
	default:
		return "Space(" + strconv.Itoa(int(s)) + ")"
	}
}
