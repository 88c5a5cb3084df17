package packet

// ECN is an Explicit Congestion Notification codepoint: the two low bits
// of the IPv4 TOS byte or the IPv6 Traffic Class (RFC 3168 §5).
type ECN uint8

const (
	ECNNotECT ECN = 0b00 // not ECN-capable
	ECNECT1   ECN = 0b01 // ECN-capable, ECT(1)
	ECNECT0   ECN = 0b10 // ECN-capable, ECT(0): what limpet sends
	ECNCE     ECN = 0b11 // congestion experienced
)

// String returns the codepoint's RFC 3168 name.
func (e ECN) String() string {
	switch e & 0b11 {
	case ECNECT1:
		return "ECT(1)"
	case ECNECT0:
		return "ECT(0)"
	case ECNCE:
		return "CE"
	}
	return "Not-ECT"
}
