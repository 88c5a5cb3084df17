package ackframes

import (
	"strconv"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// TimeoutKind says what a loss-detection timer expiry asks for.
type TimeoutKind uint8

const (
	// TimeoutNone: the timer was not due; nothing to do.
	TimeoutNone TimeoutKind = iota
	// TimeoutLoss: packets became lost by the time threshold and were
	// removed; their frames must be sent again.
	TimeoutLoss
	// TimeoutPTO: the probe timeout fired. The transport sends one or two
	// ack-eliciting packets in the space (new data, the oldest unacknowledged
	// data again, or a PING), which RFC 9002 §6.2.4 lets it send even when
	// the congestion window is full.
	TimeoutPTO
)

// String returns a short lower-case name, for logs.
func (k TimeoutKind) String() string {
	switch k {
	case TimeoutNone:
		return "none"
	case TimeoutLoss:
		return "loss"
	case TimeoutPTO:
		return "PTO"
	default:
		return "TimeoutKind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Timeout is the outcome of LossDetector.OnTimeout.
type Timeout struct {
	Kind TimeoutKind
	// PersistentCongestion is set for a TimeoutLoss whose lost packets
	// establish persistent congestion (see SentHistory.DetectLost).
	PersistentCongestion bool
}

// LossConfig configures a LossDetector.
type LossConfig struct {
	// MaxSentPackets bounds the SentHistory; zero selects
	// DefaultMaxSentPackets.
	MaxSentPackets int
	// PeerMaxAckDelay is the peer's max_ack_delay transport parameter; zero
	// selects DefaultMaxAckDelay until SetPeerMaxAckDelay is called with
	// the real value.
	PeerMaxAckDelay time.Duration
	// MaxPTOInterval caps the probe timeout backoff; zero selects
	// DefaultMaxPTOInterval.
	MaxPTOInterval time.Duration
}

// LossDetector is a connection's sender-side loss recovery (RFC 9002
// appendix A) for its 1-RTT packets: their SentHistory, the probe timeout
// backoff, and the single timer that covers both the time-threshold loss
// detection and the probe timeout. Limpet's Initial packets are never
// acknowledged (docs/PROTOCOL.md section 4.5: the client repeats message 1
// on its own schedule), so the Application space is the only one that
// needs loss recovery.
//
// One deliberate difference from RFC 9002 appendix A.8: the probe timeout
// is armed before the handshake is confirmed. In limpet a client sends
// 1-RTT data right after reading the server's handshake message, and the
// server confirms the handshake only when one of those packets arrives
// (docs/PROTOCOL.md section 4.6); if they were all lost and nobody probed,
// both sides would wait for each other until the idle timeout.
//
// A LossDetector is owned by the connection's goroutine.
type LossDetector[M any] struct {
	sent            SentHistory[M]
	peerMaxAckDelay time.Duration
	maxPTOInterval  time.Duration
	ptoCount        int
}

// NewLossDetector returns a LossDetector with an empty history.
func NewLossDetector[M any](cfg LossConfig) *LossDetector[M] {
	d := &LossDetector[M]{maxPTOInterval: cfg.MaxPTOInterval}
	d.sent.init(cfg.MaxSentPackets)
	d.SetPeerMaxAckDelay(cfg.PeerMaxAckDelay)
	return d
}

// SetPeerMaxAckDelay records the peer's max_ack_delay once its transport
// parameters arrive; zero or negative selects DefaultMaxAckDelay.
func (d *LossDetector[M]) SetPeerMaxAckDelay(v time.Duration) {
	if v <= 0 {
		v = DefaultMaxAckDelay
	}
	d.peerMaxAckDelay = v
}

// History gives direct access to the SentHistory, for example to walk the
// outstanding packets when building a probe.
func (d *LossDetector[M]) History() *SentHistory[M] { return &d.sent }

// OnPacketSent records a sent packet (see SentHistory.OnPacketSent).
func (d *LossDetector[M]) OnPacketSent(p SentPacket[M]) error {
	return d.sent.OnPacketSent(p)
}

// OnAck applies an ACK frame (see SentHistory.OnAck). When the frame
// acknowledges something new, the probe timeout backoff restarts (RFC 9002
// appendix A.7). res.Spurious lists the packets the frame acknowledged after
// they had been declared lost.
//
// The transport then feeds the RTT sample, if any, to its estimator and
// calls DetectLost.
func (d *LossDetector[M]) OnAck(f packet.AckFrame, now time.Time, acked []SentPacket[M]) ([]SentPacket[M], AckResult) {
	acked, res := d.sent.OnAck(f, now, acked)
	if res.LargestNewlyAcked != packet.InvalidPacketNumber {
		d.ptoCount = 0
	}
	return acked, res
}

// DetectLost runs loss detection (see SentHistory.DetectLost) with the
// peer's max_ack_delay.
func (d *LossDetector[M]) DetectLost(now time.Time, rtt RTT, lost []SentPacket[M]) ([]SentPacket[M], bool) {
	return d.sent.DetectLost(now, rtt, d.peerMaxAckDelay, lost)
}

// next finds the loss-detection timer: the loss time if there is one, else
// the probe timeout (RFC 9002 appendix A.8).
func (d *LossDetector[M]) next(rtt RTT) (time.Time, TimeoutKind) {
	if t := d.sent.lossTime; !t.IsZero() {
		return t, TimeoutLoss
	}
	t := d.sent.PTODeadline(rtt, d.peerMaxAckDelay, d.ptoCount, d.maxPTOInterval)
	if t.IsZero() {
		return t, TimeoutNone
	}
	return t, TimeoutPTO
}

// Deadline is when the loss-detection timer must fire, or the zero time
// when nothing is outstanding that could need it. Recompute it after
// every packet sent, ACK processed and timeout handled.
func (d *LossDetector[M]) Deadline(rtt RTT) time.Time {
	at, _ := d.next(rtt)
	return at
}

// OnTimeout handles the loss-detection timer at now (RFC 9002 appendix
// A.9). If a loss time has passed, it declares the packets lost by the time
// threshold and appends them to lost. If a probe timeout has passed, it
// counts the expiry, which doubles the next period, and says probes are
// due. Before the deadline it does nothing.
func (d *LossDetector[M]) OnTimeout(now time.Time, rtt RTT, lost []SentPacket[M]) ([]SentPacket[M], Timeout) {
	at, kind := d.next(rtt)
	if kind == TimeoutNone || now.Before(at) {
		return lost, Timeout{Kind: TimeoutNone}
	}
	if kind == TimeoutLoss {
		var persistent bool
		lost, persistent = d.DetectLost(now, rtt, lost)
		return lost, Timeout{Kind: TimeoutLoss, PersistentCongestion: persistent}
	}
	d.ptoCount++
	return lost, Timeout{Kind: TimeoutPTO}
}

// PTOCount is the number of consecutive probe timeouts without an
// acknowledgement of anything new.
func (d *LossDetector[M]) PTOCount() int { return d.ptoCount }

// ResetPTOCount restarts the probe timeout backoff, for example once a new
// path is validated and the old path's silence says nothing about it.
func (d *LossDetector[M]) ResetPTOCount() { d.ptoCount = 0 }

// BytesInFlight is the bytes of the packets in flight.
func (d *LossDetector[M]) BytesInFlight() int { return d.sent.bytesInFlight }
