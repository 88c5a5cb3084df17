package ackframes

import "github.com/limpetnet/limpet/packet"

// Loss process constants.
const (
	// lossRateMemory is the number of packet fates the loss rate
	// remembers, as the time constant of an exponential average: long
	// enough to measure 1 % within a factor of two, short enough that one
	// loss on a quiet path counts at once (one loss makes the rate 1/256,
	// 0.4 %).
	lossRateMemory = 256
	// burstMemory is the number of bursts the mean burst length remembers.
	burstMemory = 16
	// burstGap is how far apart, in packet numbers, two lost packets may
	// be and still be one burst: packet numbers skipped on purpose
	// (section 3) and ACK-only packets lie between consecutive data
	// packets.
	burstGap = 2
)

// LossProcess estimates how a path loses packets, from the fate of each
// ack-eliciting packet sent on it: its loss rate, as an exponential average
// over the last few hundred packets, and the mean length of its loss
// bursts (runs of lost packets with consecutive numbers). Forward error
// correction sizes its repair from them (docs/PROTOCOL.md section 10).
//
// Fates are reported in the order loss detection learns them: a packet
// once, as delivered or as lost. A packet declared lost counts as lost
// even if the peer later rebuilt it from repair packets or it turns out to
// have been reordered: it was missing when it mattered.
//
// The zero value is ready to use: a path with no loss seen.
type LossProcess struct {
	rate   float64 // exponential average of lost (1) and delivered (0)
	burst  float64 // exponential average of burst lengths
	bursts uint64  // bursts ended

	run      int                 // length of the burst being counted
	lastLost packet.PacketNumber // the last packet of that burst
	lost     uint64              // packets lost in all
}

// OnDelivered records a packet the peer acknowledged.
func (l *LossProcess) OnDelivered() {
	l.rate -= l.rate / lossRateMemory
}

// OnLost records packet pn declared lost.
func (l *LossProcess) OnLost(pn packet.PacketNumber) {
	l.rate += (1 - l.rate) / lossRateMemory
	l.lost++
	if l.run > 0 && pn > l.lastLost && pn-l.lastLost <= burstGap {
		l.run++
	} else {
		l.endBurst()
		l.run = 1
	}
	l.lastLost = pn
}

// endBurst folds the burst being counted into the mean.
func (l *LossProcess) endBurst() {
	if l.run == 0 {
		return
	}
	l.bursts++
	if l.bursts == 1 {
		l.burst = float64(l.run)
	} else {
		l.burst += (float64(l.run) - l.burst) / burstMemory
	}
	l.run = 0
}

// Rate is the estimated fraction of packets lost.
func (l *LossProcess) Rate() float64 { return l.rate }

// MeanBurst is the mean number of consecutive packets a loss takes: 1 on a
// path whose losses are independent, more where they come in bursts.
// Before the first burst has ended, the one being counted stands for it.
func (l *LossProcess) MeanBurst() float64 {
	if l.bursts == 0 {
		return float64(max(l.run, 1))
	}
	return max(l.burst, 1)
}

// Lost is the number of packets reported lost.
func (l *LossProcess) Lost() uint64 { return l.lost }
