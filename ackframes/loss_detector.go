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
	// Space is where packets were lost or probes must be sent.
	Space Space
	// PersistentCongestion is set for a TimeoutLoss whose lost packets
	// establish persistent congestion (see SentHistory.DetectLost).
	PersistentCongestion bool
}

// LossConfig configures a LossDetector.
type LossConfig struct {
	// MaxSentPackets bounds each space's SentHistory; zero selects
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
// appendix A): a SentHistory per packet-number space, the probe timeout
// backoff count shared by the spaces, and the single timer that covers
// both the time-threshold loss detection and the probe timeout.
//
// One deliberate difference from RFC 9002 appendix A.8: the Application
// space's probe timeout is armed before the handshake is confirmed. In
// limpet a client sends 1-RTT data right after reading the server's
// handshake message, and the server confirms the handshake only when one
// of those packets arrives (docs/PROTOCOL.md, "The 1-RTT key schedule and
// key update"); if they were all lost and nobody probed, both sides would
// wait for each other until the idle timeout.
//
// A LossDetector is owned by the connection's goroutine.
type LossDetector[M any] struct {
	spaces          [spaceCount]SentHistory[M]
	peerMaxAckDelay time.Duration
	maxPTOInterval  time.Duration
	ptoCount        int
}

// NewLossDetector returns a LossDetector with empty histories.
func NewLossDetector[M any](cfg LossConfig) *LossDetector[M] {
	d := &LossDetector[M]{maxPTOInterval: cfg.MaxPTOInterval}
	for i := range d.spaces {
		d.spaces[i].init(cfg.MaxSentPackets)
	}
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

// History gives direct access to a space's SentHistory, for example to
// walk its outstanding packets when building a probe.
func (d *LossDetector[M]) History(s Space) *SentHistory[M] { return &d.spaces[s] }

// OnPacketSent records a packet sent in space s (see
// SentHistory.OnPacketSent).
func (d *LossDetector[M]) OnPacketSent(s Space, p SentPacket[M]) error {
	return d.spaces[s].OnPacketSent(p)
}

// OnAck applies an ACK frame received in space s (see SentHistory.OnAck).
// When the frame acknowledges something new, the probe timeout backoff
// restarts (RFC 9002 appendix A.7), and the first RTT sample of the
// connection starts the period in which persistent congestion can be
// established in every space. res.Spurious lists the packets the frame
// acknowledged after they had been declared lost.
//
// The transport then feeds the RTT sample, if any, to its estimator and
// calls DetectLost for the same space.
func (d *LossDetector[M]) OnAck(s Space, f packet.AckFrame, now time.Time, acked []SentPacket[M]) ([]SentPacket[M], AckResult) {
	acked, res := d.spaces[s].OnAck(f, now, acked)
	if res.LargestNewlyAcked != packet.InvalidPacketNumber {
		d.ptoCount = 0
	}
	if res.HasRTTSample {
		first := d.spaces[s].firstRTTSample
		for i := range d.spaces {
			if d.spaces[i].firstRTTSample.IsZero() {
				d.spaces[i].firstRTTSample = first
			}
		}
	}
	return acked, res
}

// DetectLost runs loss detection in space s (see SentHistory.DetectLost)
// with the peer's max_ack_delay.
func (d *LossDetector[M]) DetectLost(s Space, now time.Time, rtt RTT, lost []SentPacket[M]) ([]SentPacket[M], bool) {
	return d.spaces[s].DetectLost(now, rtt, d.peerMaxAckDelay, lost)
}

// ptoMaxAckDelay is the max_ack_delay term of space s's probe timeout:
// zero for Initial packets, which the peer acknowledges immediately
// (RFC 9002 §6.2.1).
func (d *LossDetector[M]) ptoMaxAckDelay(s Space) time.Duration {
	if s == SpaceInitial {
		return 0
	}
	return d.peerMaxAckDelay
}

// next finds the loss-detection timer: the earliest loss time of any
// space if there is one, else the earliest probe timeout (RFC 9002
// appendix A.8).
func (d *LossDetector[M]) next(rtt RTT) (time.Time, Space, TimeoutKind) {
	var at time.Time
	space := SpaceInitial
	for i := range d.spaces {
		if t := d.spaces[i].lossTime; !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at, space = t, Space(i)
		}
	}
	if !at.IsZero() {
		return at, space, TimeoutLoss
	}
	for i := range d.spaces {
		t := d.spaces[i].PTODeadline(rtt, d.ptoMaxAckDelay(Space(i)), d.ptoCount, d.maxPTOInterval)
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at, space = t, Space(i)
		}
	}
	if at.IsZero() {
		return at, space, TimeoutNone
	}
	return at, space, TimeoutPTO
}

// Deadline is when the loss-detection timer must fire, or the zero time
// when nothing is outstanding that could need it. Recompute it after
// every packet sent, ACK processed and timeout handled.
func (d *LossDetector[M]) Deadline(rtt RTT) time.Time {
	at, _, _ := d.next(rtt)
	return at
}

// OnTimeout handles the loss-detection timer at now (RFC 9002 appendix
// A.9). If a loss time has passed, it declares the packets lost by the time
// threshold and appends them to lost. If a probe timeout has passed, it
// counts the expiry, which doubles the next period, and reports which space
// must send probes. Before the deadline it does nothing.
func (d *LossDetector[M]) OnTimeout(now time.Time, rtt RTT, lost []SentPacket[M]) ([]SentPacket[M], Timeout) {
	at, space, kind := d.next(rtt)
	if kind == TimeoutNone || now.Before(at) {
		return lost, Timeout{Kind: TimeoutNone, Space: space}
	}
	if kind == TimeoutLoss {
		var persistent bool
		lost, persistent = d.DetectLost(space, now, rtt, lost)
		return lost, Timeout{Kind: TimeoutLoss, Space: space, PersistentCongestion: persistent}
	}
	d.ptoCount++
	return lost, Timeout{Kind: TimeoutPTO, Space: space}
}

// DiscardSpace drops space s when its keys are discarded (RFC 9002 §6.4),
// appending its outstanding packets to out so the transport can remove
// their bytes from the congestion controller without counting them as
// lost. The probe timeout backoff restarts.
func (d *LossDetector[M]) DiscardSpace(s Space, out []SentPacket[M]) []SentPacket[M] {
	out = d.spaces[s].RemoveAll(out)
	d.ptoCount = 0
	return out
}

// PTOCount is the number of consecutive probe timeouts without an
// acknowledgement of anything new.
func (d *LossDetector[M]) PTOCount() int { return d.ptoCount }

// ResetPTOCount restarts the probe timeout backoff, for example once a new
// path is validated and the old path's silence says nothing about it.
func (d *LossDetector[M]) ResetPTOCount() { d.ptoCount = 0 }

// BytesInFlight is the sum over both spaces.
func (d *LossDetector[M]) BytesInFlight() int {
	n := 0
	for i := range d.spaces {
		n += d.spaces[i].bytesInFlight
	}
	return n
}
