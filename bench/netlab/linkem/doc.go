// Package linkem models one direction of a network link for the network
// lab's path emulator: a one-way propagation delay, a bottleneck rate with a
// bounded drop-tail queue, optionally managed by CoDel with ECN marking,
// random loss, bursty loss after Gilbert and Elliott, reordering, and an
// MTU. The kernel the lab runs on has no sch_netem, so the lab forwards IP
// packets through this model in userspace instead.
//
// The package is sans-IO: it never reads a clock, starts a goroutine or
// touches a socket. Every time-dependent method takes now, so a test drives
// a [Link] with scripted times and gets exact, repeatable answers, and the
// same seed always draws the same losses for the same packet sequence.
//
// # Model
//
// A packet offered at time now is first dropped if it is longer than the
// link's MTU, silently, like a path MTU black hole. It then meets the
// random losses (bursty, then independent), as in netem, so a lost packet
// never occupies the bottleneck. A surviving packet starts serialization
// at max(now, the end of the previous packet's serialization) and leaves
// the bottleneck size*8/rate later; it is dropped at the tail instead if
// it would have to wait behind more than the queue limit in packets, or
// for longer than the queue limit in time. After leaving the bottleneck it propagates for Delay, plus
// Reorder.ExtraDelay for the share of packets Reorder picks, which the
// packets sent after it overtake. The rate counts whole IP packets; there is
// no link-layer framing.
//
// With CoDel (RFC 8289) the queue is also judged by how long packets wait
// in it: a packet leaving it may be dropped, or, if it is an IPv4 or IPv6
// packet that says it is ECN-capable and the configuration allows, marked
// Congestion Experienced in place (updating the IPv4 header checksum), as
// Linux's fq_codel does with its ecn option. A dropped packet takes no time
// on the link. The verdict of Enqueue is then only the fate on arrival; see
// Stats for what CoDel did.
//
// # Usage
//
// One goroutine owns a Link (or guards it with a mutex):
//
//	link, err := linkem.New(cfg)
//	// When a packet arrives:
//	if link.Enqueue(pkt, now) != linkem.Accepted {
//		// dropped: pkt still belongs to the caller
//	}
//	// When the timer fires:
//	for {
//		pkt, ok := link.Dequeue(now)
//		if !ok {
//			break
//		}
//		send(pkt)
//	}
//	next, ok := link.NextDelivery() // re-arm the timer for next if ok
//
// A Link holds the packets it accepted, without copying them, until Dequeue
// hands them back, so the caller can recycle its buffers. Enqueue and
// Dequeue do not allocate once the link's internal queues have grown to the
// traffic's size.
package linkem
