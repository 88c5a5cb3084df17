package linkem

import "fmt"

// Verdict is what Enqueue did with a packet.
type Verdict int

// The verdicts. Every one but Accepted leaves the packet with the caller.
const (
	// Accepted means the link holds the packet until Dequeue returns it.
	Accepted Verdict = iota
	// Lost means Config.Loss dropped the packet.
	Lost
	// BurstLost means the Gilbert–Elliott model dropped the packet.
	BurstLost
	// QueueFull means the bottleneck queue was at its limit (drop-tail).
	QueueFull
	// Overflow means the link already held Capacity packets.
	Overflow
	// TooLarge means the packet was longer than MaxPacketSize, which no
	// IP packet without jumbogram options can be.
	TooLarge
	// OverMTU means the packet was longer than Config.MTU.
	OverMTU
)

// String names the verdict for logs and test messages.
func (v Verdict) String() string {
	switch v {
	case Accepted:
		return "accepted"
	case Lost:
		return "lost"
	case BurstLost:
		return "burst lost"
	case QueueFull:
		return "queue full"
	case Overflow:
		return "overflow"
	case TooLarge:
		return "too large"
	case OverMTU:
		return "over MTU"
	default:
		return fmt.Sprintf("Verdict(%d)", int(v))
	}
}
