package packet

// AckRange is an inclusive range of acknowledged packet numbers.
type AckRange struct {
	Smallest, Largest PacketNumber
}

// ECNCounts are the ECN counters an ACK_ECN frame (type 0x03) carries.
type ECNCounts struct {
	ECT0, ECT1, CE uint64
}

// AckFrame acknowledges packets (RFC 9000 §19.3). Ranges are in descending
// order, disjoint and non-adjacent: Ranges[0].Largest is the largest
// acknowledged packet number, and there is a gap of at least one
// unacknowledged packet between consecutive ranges.
type AckFrame struct {
	Ranges []AckRange
	// Delay is the encoded ACK Delay field: microseconds shifted right by the
	// sender's ack_delay_exponent.
	Delay uint64
	// HasECN marks an ACK_ECN frame; ECN is meaningful only then.
	HasECN bool
	ECN    ECNCounts
}
