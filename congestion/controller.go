package congestion

import "time"

// Controller is a window-based congestion controller for one path. CUBIC
// (Cubic) is the implementation the transport uses; the interface exists so
// that another algorithm can be dropped in without touching loss detection.
//
// All sizes are in bytes of UDP payload, counted the way RFC 9002 §2 counts
// bytes in flight. Packet numbers are any strictly increasing int64
// sequence shared by OnPacketSent and OnPacketAcked, so the controller
// needs nothing from package packet; the application-data packet number
// space or a connection-wide send counter both work.
//
// A Controller is owned by the connection's goroutine and is not safe for
// concurrent use. None of its methods allocate.
//
// Per ACK frame, loss detection calls, in this order:
//
//  1. OnSpuriousLoss for each in-flight packet that the ACK acknowledged
//     after it had been declared lost;
//  2. RTTStats.Update, if the ACK produced an RTT sample;
//  3. OnLoss once for the packets it declared lost, if any (a
//     PacketLossObserver first hears of each in OnPacketLost), then
//     OnPersistentCongestion if those losses establish it (RFC 9002 §7.6);
//  4. OnPacketAcked for each newly acknowledged in-flight packet;
//  5. OnAckProcessed once.
//
// Growth is applied in OnAckProcessed, once per ACK frame, because slow
// start and HyStart++ count ACKs, not packets.
type Controller interface {
	// OnPacketSent records an in-flight packet (ack-eliciting or padded;
	// RFC 9002 §2) of the given size. Pure-ACK packets are not reported.
	OnPacketSent(now time.Time, pn int64, bytes int)

	// OnPacketAcked records one newly acknowledged in-flight packet and the
	// time it was sent. Packets sent before the current recovery period
	// began do not grow the window (RFC 9002 §7.3.2); the first one sent
	// after it ends the recovery period.
	OnPacketAcked(now time.Time, pn int64, bytes int, sentTime time.Time)

	// OnAckProcessed ends one ACK frame's worth of OnPacketAcked calls and
	// grows the window. priorInFlight is the bytes in flight before this
	// ACK was processed: it tells whether the sender was using its window
	// or was application-limited, in which case the window does not grow
	// (RFC 9002 §7.8, RFC 9438 §5.8). rtt must already include this ACK's
	// sample.
	OnAckProcessed(now time.Time, priorInFlight int, rtt *RTTStats)

	// OnLoss reports packets declared lost by one ACK frame or one
	// loss-timer expiry: their total size and the send time of the most
	// recently sent of them. It starts a recovery period and reduces the
	// window unless that packet was sent before the current recovery
	// period began, so one loss episode reduces the window once
	// (RFC 9002 §7.3.2). A controller may judge the loss random rather
	// than congestion and ignore it; it reports whether it took the loss
	// as congestion, so that the caller knows whether a later
	// OnSpuriousLoss for these bytes means anything to it.
	OnLoss(now time.Time, lostBytes int, largestLostSentTime time.Time) bool

	// OnCongestionExperienced reports that the peer counted more packets
	// marked ECN Congestion Experienced (RFC 9002 §7.1), the most
	// recently sent packet the ACK acknowledged having been sent at
	// largestAckedSentTime. Like OnLoss it starts a recovery period and
	// reduces the window unless that packet was sent before the current
	// period began, but nothing was lost, so there is nothing to undo; the
	// reduction may be smaller than a loss's (RFC 8511). It reports
	// whether the window was reduced.
	OnCongestionExperienced(now, largestAckedSentTime time.Time) bool

	// OnSpuriousLoss reports bytes that an earlier OnLoss counted as lost
	// but that the peer acknowledged after all, because they were
	// reordered or delayed rather than lost. lostAt is the now of that
	// OnLoss call. When everything lost in the congestion event that last
	// reduced the window turns out to be spurious, the controller may undo
	// the reduction (RFC 9438 §4.9).
	OnSpuriousLoss(now time.Time, bytes int, lostAt time.Time)

	// OnPersistentCongestion collapses the window to the minimum
	// (RFC 9002 §7.6.2). It plays the role TCP's retransmission timeout
	// plays for window management; a PTO alone never changes the window
	// (RFC 9002 §7.5), so there is no separate timeout hook.
	OnPersistentCongestion(now time.Time)

	// Window is the congestion window in bytes.
	Window() int

	// CanSend reports whether a maximum-size datagram may be sent with
	// bytesInFlight already outstanding without taking the bytes in flight
	// above the window (RFC 9002 §7). A sender with a smaller packet may
	// compare against Window itself. Probe packets sent on PTO expiry
	// bypass this check (RFC 9002 §7.5).
	CanSend(bytesInFlight int) bool

	// InSlowStart reports whether the window is below the slow start
	// threshold, which includes HyStart++'s conservative slow start.
	InSlowStart() bool

	// SetMaxDatagramSize changes the datagram size the window is measured
	// in, after path MTU discovery. Non-positive sizes are ignored and
	// sizes above MaxDatagramSizeLimit are clamped to it.
	SetMaxDatagramSize(n int)

	// Reset returns the controller to its initial state for a new path
	// (RFC 9000 §9.4).
	Reset(now time.Time)
}

// InitialWindow is the initial congestion window for a given maximum
// datagram size: max(14720, 2·size) bytes, the byte limit of RFC 9002 §7.2
// (which matches TCP's ten segments, RFC 6928). The RFC's ten datagrams
// would be less below 1472 bytes: a path starts at 1200-byte datagrams
// only until path MTU discovery has run, which takes a round trip the
// first flight cannot wait for, and 12000 bytes where TCP sends 14480
// cost a 1 MiB transfer a fifth less data after each of its slow-start
// rounds (about 25 ms at 50 ms RTT).
func InitialWindow(maxDatagramSize int) int {
	return max(14720, 2*maxDatagramSize)
}

// MinimumWindow is the smallest congestion window, two datagrams
// (kMinimumWindow, RFC 9002 §7.2): enough to keep ACK clocking alive.
func MinimumWindow(maxDatagramSize int) int {
	return 2 * maxDatagramSize
}
