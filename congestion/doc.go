// Package congestion decides how much and how fast a limpet connection may
// send on one path: the RTT estimator of RFC 9002 §5 (RTTStats), a
// pluggable window-based Controller with two implementations, CUBIC
// (RFC 9438) with HyStart++ (RFC 9406) (Cubic) and BBRv3
// (draft-ietf-ccwg-bbr) (BBR), and a token-bucket Pacer (RFC 9002 §7.7).
//
// The package is sans-IO: nothing here reads a clock, starts a goroutine or
// arms a timer. Every time-dependent method takes now, so tests drive it
// with scripted times, and all state belongs to the goroutine that owns the
// connection. No method allocates.
//
// # Usage
//
// Loss detection (package ackframes) and the transport wire the pieces
// together per path:
//
//	// For each ACK frame:
//	cc.OnSpuriousLoss(now, size, lostAt)                // for each packet it acknowledged after its loss
//	rtt.Update(latestRTT, ackDelay, handshakeConfirmed) // if it gave a sample
//	cc.(PacketLossObserver).OnPacketLost(now, pn, size) // for each lost packet, if cc wants them (BBR)
//	cc.OnLoss(now, lostBytes, largestLostSentTime)      // if packets were declared lost
//	cc.OnPersistentCongestion(now)                      // if the losses establish it
//	for each newly acknowledged in-flight packet {
//		cc.OnPacketAcked(now, pn, size, sentTime)
//	}
//	cc.OnAckProcessed(now, priorBytesInFlight, rtt)
//	pacer.SetRate(now, cc.Window(), rtt.Smoothed(), cc.InSlowStart()) // or BBR's PacingRate
//
//	// Before each datagram (probes on PTO skip both checks):
//	if cc.CanSend(bytesInFlight) && pacer.TimeUntilSend(now) == 0 {
//		send(...)
//		cc.OnPacketSent(now, pn, size)
//		pacer.OnSent(now, size)
//	} else if cc.CanSend(bytesInFlight) {
//		armTimer(pacer.NextSendTime(now))
//	}
//
// After persistent congestion the transport should also call
// rtt.ExpireMin (RFC 9002 §5.2). On migration to a new path, RTTStats.Reset,
// Controller.Reset and Pacer.Reset start the new path afresh
// (RFC 9000 §9.4).
//
// # Limitations
//
// Only the last window reduction can be undone when its losses prove
// spurious. RTTStats refreshes its minimum RTT only on request
// (RTTStats.ExpireMin), not on a timer; BBR keeps its own, with ProbeRTT.
// BBR does not answer ECN marks.
package congestion
