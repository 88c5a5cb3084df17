package packet

// PacketNumber is a full 62-bit packet number. Each number space counts up
// from 0 and never reuses a number (docs/PROTOCOL.md, "Packet numbers").
type PacketNumber int64

// InvalidPacketNumber marks "no packet yet", e.g. nothing acknowledged.
const InvalidPacketNumber PacketNumber = -1

// MaxPacketNumber is the largest packet number (2^62-1).
const MaxPacketNumber PacketNumber = MaxVarint
