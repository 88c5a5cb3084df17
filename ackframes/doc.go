// Package ackframes is limpet's acknowledgement and loss-recovery machinery
// for one connection: what the receiver acknowledges and when, and what the
// sender concludes from the acknowledgements it gets back. It follows
// RFC 9000 §13.2 (generating ACKs) and RFC 9002 (loss detection and probe
// timeouts) over limpet's two packet-number spaces (docs/PROTOCOL.md,
// "Packet numbers").
//
// The package is sans-IO: nothing here reads a clock, starts a goroutine or
// touches a socket. Every method that depends on time takes now, and timers
// are reported as deadlines for the connection's loop to arm. It imports
// only packet; RTT estimates come in through the small RTT interface, which
// *congestion.RTTStats satisfies.
//
// # Receive side
//
// A Receiver per packet-number space records the packet numbers that were
// opened successfully in a RangeSet (bounded, so a peer cannot make it grow
// without limit), answers whether a packet is a duplicate, decides when an
// ACK is due and builds ACK frames that fit a byte budget:
//
//	dup := rx.OnPacketReceived(pn, ackEliciting, now)
//	if rx.ShouldAckNow(now) { f, ok := rx.BuildAck(now, exp, room, buf); …; rx.OnAckSent() }
//	// arm a timer for rx.AckDeadline()
//
// When a packet that carried an ACK frame is itself acknowledged, the
// transport calls OnAckAcked with that frame's largest acknowledged number,
// and the receiver stops repeating older ranges (RFC 9000 §13.2.4).
//
// # Send side
//
// A PacketNumberGenerator per space issues packet numbers and skips one now
// and then, so that ValidateAck can catch a peer that acknowledges packets it
// never received. A LossDetector holds one SentHistory per space and the
// connection's probe-timeout state. On every ACK frame the transport runs,
// in this order (RFC 9002 appendix A.7):
//
//	if err := gen.ValidateAck(f); err != nil { /* PROTOCOL_VIOLATION */ }
//	acked, res := ld.OnAck(space, f, now, acked[:0])
//	if res.HasRTTSample { rtt.Update(res.RTTSample, DecodeAckDelay(f.Delay, peerExp), confirmed) }
//	lost, persistent := ld.DetectLost(space, now, rtt, lost[:0])
//	// tell the congestion controller; requeue the frames of lost packets
//	// arm the loss-detection timer for ld.Deadline(rtt)
//
// and when that timer fires it calls ld.OnTimeout, which either declares
// packets lost by the time threshold or asks for probe packets.
//
// A packet declared lost may still be acknowledged later: it was only
// reordered or delayed. OnAck reports such spurious losses in
// AckResult.Spurious, so that the congestion controller can undo the
// reduction they caused, and widens the packet or time threshold that
// declared them, so that the same reordering is tolerated next time
// (docs/PROTOCOL.md section 3, "Loss detection").
//
// # Limitations
//
// BuildAck produces an ACK frame of type 0x02; the transport adds the ECN
// counts of the packets it received. ECNValidator validates the counts the
// peer reports for our packets (RFC 9000 §13.4.2). Packets that are neither ack-eliciting nor in flight (ACK-only
// packets) are not stored in a SentHistory, since the peer never has to
// acknowledge them and they would otherwise pile up.
package ackframes
