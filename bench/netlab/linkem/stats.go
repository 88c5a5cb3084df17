package linkem

// Stats counts what a Link did since New. Every offered packet is counted
// once as accepted or under exactly one drop reason, so
// Offered == Accepted + Lost + BurstLost + QueueFull + Overflow + TooLarge
// + OverMTU, and every accepted packet is delivered, still held, or
// dropped by CoDel when it left the queue:
// Accepted == Delivered + CoDelDropped + Len().
type Stats struct {
	// Offered counts packets given to Enqueue, OfferedBytes their bytes.
	Offered, OfferedBytes uint64
	// Accepted counts packets the link took.
	Accepted uint64
	// Lost counts packets dropped by independent random loss.
	Lost uint64
	// BurstLost counts packets dropped by the Gilbert–Elliott model.
	BurstLost uint64
	// QueueFull counts drop-tail drops at the bottleneck queue.
	QueueFull uint64
	// Overflow counts packets refused because Capacity packets were held.
	Overflow uint64
	// TooLarge counts packets longer than MaxPacketSize.
	TooLarge uint64
	// OverMTU counts packets longer than Config.MTU, dropped silently.
	OverMTU uint64
	// CoDelDropped counts accepted packets CoDel dropped as they left the
	// queue; CEMarked, the ECN-capable ones it marked Congestion
	// Experienced instead (Config.CoDel.ECN).
	CoDelDropped, CEMarked uint64
	// Reordered counts accepted packets held back by Reorder.ExtraDelay.
	Reordered uint64
	// Delivered counts packets returned by Dequeue, DeliveredBytes their
	// bytes.
	Delivered, DeliveredBytes uint64
}

// count records a verdict.
func (s *Stats) count(v Verdict) {
	switch v {
	case Accepted:
		s.Accepted++
	case Lost:
		s.Lost++
	case BurstLost:
		s.BurstLost++
	case QueueFull:
		s.QueueFull++
	case Overflow:
		s.Overflow++
	case TooLarge:
		s.TooLarge++
	case OverMTU:
		s.OverMTU++
	}
}
