package transport

import (
	"log/slog"
	"time"

	"github.com/limpetnet/limpet/ackframes"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/transport/qlog"
)

// ecnState is ECN for the connection (docs/PROTOCOL.md section 12): the
// marks the peer's packets arrived with, which our ACKs report, and the
// validation of our own marks on the current path. Owned by the loop.
type ecnState struct {
	v *ackframes.ECNValidator
	// recv counts the 1-RTT packets received with each codepoint;
	// reporting starts with the first marked one.
	recv    packet.ECNCounts
	recvAny bool
}

func (e *ecnState) init(disabled bool) { e.v = ackframes.NewECNValidator(disabled) }

// ecnMark is the codepoint for the next ack-eliciting packet.
func (c *Conn) ecnMark() ECN {
	if c.ecn.v.ShouldMark() {
		return packet.ECNECT0
	}
	return packet.ECNNotECT
}

// ecnOnSent records that packet pn, ack-eliciting, went out with ecnMark's
// codepoint; it returns that codepoint for its datagram.
func (c *Conn) ecnOnSent(pn packet.PacketNumber) ECN {
	mark := c.ecnMark()
	c.ecn.v.OnSent(pn, mark == packet.ECNECT0)
	c.ecnStateChanged()
	return mark
}

// ecnOnReceived counts a processed packet's codepoint.
func (c *Conn) ecnOnReceived(mark ECN) {
	switch mark {
	case packet.ECNECT0:
		c.ecn.recv.ECT0++
	case packet.ECNECT1:
		c.ecn.recv.ECT1++
	case packet.ECNCE:
		c.ecn.recv.CE++
	default:
		return
	}
	c.ecn.recvAny = true
}

// ecnAckFields gives an ACK frame being sent our counts, once the peer has
// marked anything (RFC 9000 §13.4.1).
func (c *Conn) ecnAckFields(f *packet.AckFrame) {
	if c.ecn.recvAny {
		f.HasECN, f.ECN = true, c.ecn.recv
	}
}

// ecnAckReserve is the room the counts may take in an ACK frame.
func (c *Conn) ecnAckReserve() int {
	if !c.ecn.recvAny {
		return 0
	}
	r := c.ecn.recv
	return packet.VarintLen(r.ECT0+1<<10) + packet.VarintLen(r.ECT1) + packet.VarintLen(r.CE+1<<10)
}

// ecnOnAck validates an ACK frame's counts against the packets it newly
// acknowledged and treats more CE marks as congestion: a window reduction
// without a retransmission (RFC 9002 §7.1).
func (c *Conn) ecnOnAck(f *packet.AckFrame, acked []ackframes.SentPacket[sentFrames], now time.Time) {
	marked, test := 0, 0
	var largest packet.PacketNumber = packet.InvalidPacketNumber
	var largestSent time.Time
	for i := range acked {
		p := &acked[i]
		if p.Frames.ecnMarked && p.Frames.fecGroup == 0 {
			// A source of an FEC group may have reached the peer rebuilt
			// from repair packets, without a codepoint to count.
			marked++
			if c.ecn.v.IsTest(p.Number) {
				test++
			}
		}
		if p.Number > largest || largest == packet.InvalidPacketNumber {
			largest, largestSent = p.Number, p.TimeSent
		}
	}
	newCE := c.ecn.v.OnAck(f, marked, test)
	c.ecnStateChanged()
	if newCE == 0 {
		return
	}
	c.stats.ecnCE.Add(newCE)
	if c.loss.cc.OnCongestionExperienced(now, largestSent) {
		c.stats.ecnCongestionEvents.Add(1)
	}
}

// ecnOnLost tells validation that a marked packet was lost.
func (c *Conn) ecnOnLost(p *ackframes.SentPacket[sentFrames]) {
	if p.Frames.ecnMarked {
		c.ecn.v.OnMarkedLost(p.Number)
		c.ecnStateChanged()
	}
}

// ecnRestart tests the marks afresh on a new path.
func (c *Conn) ecnRestart() {
	c.ecn.v.Restart(c.cfg.sendsNotECT())
	c.ecnStateChanged()
}

// ecnStateChanged publishes the validation state when it moved.
func (c *Conn) ecnStateChanged() {
	s := ECNState(c.ecn.v.State())
	if ECNState(c.stats.ecnState.Load()) == s {
		return
	}
	c.stats.ecnState.Store(uint32(s))
	if c.qlog.enabled(qlog.LevelConn) {
		c.qlogEvent(qlog.ECNStateUpdated, slog.String("new", s.String()))
	}
	if s == ECNFailed {
		c.diag(slog.LevelDebug, "ECN marks do not survive the path: not marking")
	}
}
