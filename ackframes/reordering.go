package ackframes

import (
	"time"

	"github.com/limpetnet/limpet/packet"
)

// Adaptive reordering thresholds (RFC 9002 §6.1.1 and §6.1.2 allow them;
// docs/PROTOCOL.md section 3, "Loss detection"). Every threshold starts at
// RFC 9002's value and is widened only by spurious losses it caused, the
// way Linux TCP's RACK widens its reordering window on DSACKs.
const (
	// MaxPacketThreshold caps the adaptive packet threshold. Past it,
	// deeper reordering is left to the time threshold, which bounds how
	// long a real loss can go undetected anyway; 256 packets is 5 ms of
	// reordering at about 500 Mbit/s.
	MaxPacketThreshold = 256

	// timeThresholdDefault and timeThresholdMax are the loss delay in
	// eighths of the RTT: 9/8 (RFC 9002's kTimeThreshold) up to 2 RTT.
	// Each spurious loss declared by the time threshold adds
	// timeThresholdStep, a quarter RTT, like RACK's reo_wnd steps of
	// min_rtt/4. Beyond 2 RTT a packet is more likely lost than late, and
	// the probe timeout would be waiting anyway.
	timeThresholdDefault = 9
	timeThresholdMax     = 16
	timeThresholdStep    = 2

	// reorderingDecayEvents is how many loss events without a spurious
	// loss bring the thresholds back to their defaults, so that a path
	// that stopped reordering gets fast loss detection again. Loss events
	// are counted at most once per smoothed RTT, so this is at least 16
	// round trips with losses, much like RACK's reset after 16 recoveries.
	reorderingDecayEvents = 16
)

// reordering is a SentHistory's adaptive loss-detection thresholds.
type reordering struct {
	packetThreshold packet.PacketNumber
	timeEighths     int64 // the loss delay is timeEighths/8 of the RTT

	lossEvents    int       // loss events counted since the last spurious loss
	lastLossEvent time.Time // when the last counted one happened
}

func (r *reordering) reset() {
	*r = reordering{packetThreshold: PacketThreshold, timeEighths: timeThresholdDefault}
}

// lossDelay is LossDelay with the current time threshold.
func (r *reordering) lossDelay(rtt RTT) time.Duration {
	d := max(rtt.Latest(), rtt.Smoothed())
	return max(d*time.Duration(r.timeEighths)/8, TimerGranularity)
}

// onSpurious widens the threshold or thresholds that declared rec lost
// enough that the same reordering would not do so again: the packet
// threshold to one more than the distance it was reordered by, the time
// threshold by one step.
func (r *reordering) onSpurious(rec *lostRecord, reordering packet.PacketNumber) {
	if rec.byPacket && reordering >= r.packetThreshold {
		r.packetThreshold = min(reordering+1, MaxPacketThreshold)
	}
	if rec.byTime {
		r.timeEighths = min(r.timeEighths+timeThresholdStep, timeThresholdMax)
	}
	r.lossEvents = 0
}

// onLossEvent counts a DetectLost call that declared packets lost, and
// returns the thresholds to their defaults after reorderingDecayEvents of
// them with no spurious loss in between.
func (r *reordering) onLossEvent(now time.Time, smoothed time.Duration) {
	if r.packetThreshold == PacketThreshold && r.timeEighths == timeThresholdDefault {
		return
	}
	if r.lossEvents > 0 && now.Before(r.lastLossEvent.Add(smoothed)) {
		return
	}
	r.lossEvents++
	r.lastLossEvent = now
	if r.lossEvents >= reorderingDecayEvents {
		r.reset()
	}
}
