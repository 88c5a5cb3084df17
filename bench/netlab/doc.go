// Package netlab builds a small, real network inside Linux network
// namespaces so that limpet's transport and the benchmark harness can be
// tested against the kernel's own routing, NAT and queueing instead of an
// in-memory simulation.
//
// A [Lab] is three namespaces joined by two veth pairs (or, for the first
// hop, an emulated link with delay: see below):
//
//	client ns                      router ns                       server ns
//	c0 198.18.1.2/24 ==veth== rc 198.18.1.1 | rs 198.19.1.1 ==veth== s0 198.19.1.2/24
//	   2001:2:0:1::2/64          2001:2:0:1::1 | 2001:2:0:2::1         2001:2:0:2::2/64
//
// The addresses come from the benchmarking ranges (RFC 2544's 198.18.0.0/15
// and RFC 5180's 2001:2::/48), which never appear on a real network. The
// router forwards both families and, unless [Options.NoNAT] is set,
// masquerades the client's traffic behind its server-side address (NAT44,
// and NAT66 for IPv6), so the server sees 198.19.1.1 or 2001:2:0:2::1 like a
// server on the Internet sees a home router. Offloads are off on every veth
// end so that loss and rate limits apply to real packets rather than 64 KB
// GSO aggregates.
//
// # Usage
//
// Tests call [NewForTest], which tears the lab down through t.Cleanup, skips
// when the test is not run as root outside CI, and fails when CI is set and
// the lab cannot be built. Sockets are created inside a namespace with
// [Lab.ListenUDP], [Lab.ListenTCP], [Lab.DialTCP] or, for anything else
// (including limpet's own endpoints), [Lab.In]; a socket stays in the
// namespace it was created in and works from any goroutine afterwards.
//
// While traffic flows, the test may change the path under it:
// [Lab.RebindNAT] moves the client's flows to new external ports (the NAT
// rebinding of RFC 9000 Section 9), [Lab.ChangeClientIP] renumbers the
// client under its sockets, as a new DHCP lease does, [Lab.Blackout] cuts
// the path, [Lab.SetLoss] drops a share of packets, [Lab.SetRate] limits
// the bottleneck rate, [Lab.SetPathMTU] narrows the path through the
// router as a tunnel hop does (with ICMP, for path MTU discovery) and
// [Lab.SetPathMTUBlackHole] drops long packets without ICMP. Each is one
// or two short commands in the router or client namespace, and each
// nftables change is a single atomic transaction. [Lab.SetTCPECN] lets
// the kernel's TCP negotiate ECN, and [Lab.FlushPathMTUCache] makes the
// endpoints forget the path MTUs they learned.
//
// Every link has the MTU of [Options.MTU], 1500 bytes by default; jumbo
// frames (9000) cross the lab whole, through the emulated link too.
//
// # Emulated link
//
// The kernel has no sch_netem, so delay cannot come from tc. With
// [Options.Link] set, the client–router veth pair is replaced by an emulated
// link: a layer-3 TUN device in the client namespace and one in the router
// namespace, keeping the veth ends' names (c0, rc), addresses, routes and
// MTU, and a forwarder between them, in a process of its own (the program
// started again; see emulator_process_linux.go). The
// forwarder reads every IP packet from one device, runs it through a
// [linkem.Link] for that direction and writes it into the other device when
// the model says it arrives. Each direction has its own one-way delay,
// bottleneck rate with a drop-tail queue (in packets or in time) that
// CoDel may manage, marking ECN-capable packets CE instead of dropping
// them, random loss, Gilbert–Elliott bursty loss, reordering and an MTU
// that drops longer packets silently; see package linkem for the model. It
// works on IP packets, so TCP and UDP (limpet) meet exactly the same path,
// and the devices have no segmentation offload, so the model
// only ever sees packets of at most the MTU. NAT, [Lab.RebindNAT],
// [Lab.ChangeClientIP] (on the client's TUN device), [Lab.Blackout],
// [Lab.SetLoss], [Lab.SetRate] and [Lab.SetPathMTU] work as on the veth
// pair. [Lab.SetLink]
// changes the parameters between runs without rebuilding the lab, and
// [Lab.LinkStats] reports what each direction delivered and dropped.
//
//	cfg := netlab.SymmetricLink(linkem.Config{
//		Delay:             25 * time.Millisecond, // each way
//		RateBitsPerSecond: 100_000_000,
//		QueueLimitPackets: 100,
//		Loss:              0.01,
//		Seed:              1,
//	})
//	lab := netlab.NewForTest(t, netlab.Options{Link: &cfg})
//
// The forwarder is four goroutines: a reader and a sender per direction. A
// sender waits for the next delivery on a Go timer and finishes the last
// two milliseconds with nanosleep on a thread of its own whose timer slack
// is 1 ns, because Go timers fire up to a millisecond late. A nanosleep
// holds its P, so the forwarder's process has a P for each goroutine; and
// it is a process of its own so that a transport written in Go, measured
// in the test process, never holds the Ps the forwarder's timers need.
// Lab.Close stops the process, which closes the devices.
//
// # Observed behaviour
//
// On the kernel this package was written against (6.18, nftables 1.0.6):
//
//   - NAT66 masquerade works like NAT44, including the external port range,
//     so IPv6 paths are NATed and rebound too.
//   - A TCP connection across [Lab.RebindNAT] is reset at both ends. The
//     client's next segment is picked up mid-stream under a new external
//     port, the server answers the unknown 4-tuple with RST, and the client's
//     next read fails with ECONNRESET; the data never arrives. The server's
//     own next segment goes to the old port, now the router's own, and is
//     answered with RST as well.
//   - Across [Lab.ChangeClientIP] a TCP connection stalls at both ends with
//     no reset: its source address no longer exists, so the client's
//     segments cannot leave and the server's go to an address nobody has.
//   - An unconnected UDP socket bound to the wildcard address sends from the
//     new address at once and gets a new NAT port. A connected UDP socket
//     keeps its old source address and every send fails with ENETUNREACH,
//     although the new address is in place; a transport that wants to
//     survive renumbering sends unconnected or re-creates its socket.
//   - Setting up a lab takes about 50 ms and closing it a few; each
//     reconfiguration takes a few milliseconds.
//   - A veth end drops, silently (as rx_dropped), every arriving packet
//     longer than its own MTU (plus 4 bytes of VLAN header): lowering the
//     MTU of only one end of a pair is a black hole for the other end's
//     long packets. Lowering both ends makes the endpoint's own kernel
//     refuse long packets locally (EMSGSIZE), with no ICMP and no loss.
//     So SetPathMTU lowers the MTU of the router's routes instead: a
//     forwarding router honours a route's MTU, drops a longer packet with
//     DF (every IPv6 packet) and answers with ICMP "fragmentation needed"
//     or ICMPv6 "packet too big", which the kernel does not rate-limit.
//     Through the NAT too: the ICMP for the server's packets reaches the
//     server, about its packet to the NAT address.
//   - The sender's kernel keeps a path MTU it learned from ICMP for 10
//     minutes (net.ipv4.route.mtu_expires, 600 s), whatever the path does
//     meanwhile: after SetPathMTU(0) a socket with IP_PMTUDISC_DO (and TCP)
//     stays at the lower size until then, while one with IP_PMTUDISC_PROBE,
//     which sets DF but ignores the cache, gets the larger packets through
//     at once.
//
// # Emulated link calibration
//
// Measured on a 2-core virtual machine shared with other work, with
//
//	go test -race -count=1 -v -run 'Calibration' ./bench/netlab
//
// (the figures without -race are the same within the noise):
//
//   - UDP echo through 25 ms each way, 50 round trips: min 50.38 ms,
//     median 50.53 to 50.60 ms, p90 50.65 to 50.75 ms. The emulator never
//     delivers early; it is late by the machine's wake-up latency, 0.1 to
//     0.3 ms per direction whatever the delay (a round trip through 1 ms
//     each way takes 2.13 ms). With no delay configured the link adds about
//     0.1 ms to the veth pair's 0.02 ms round trip.
//   - Kernel TCP (BBR, this kernel's default) through 100 Mbit/s each way,
//     RTT 10 ms, 100-packet queue: 94 to 95 Mbit/s of goodput for 24 MiB,
//     against a ceiling of 96.5 Mbit/s (1448 payload bytes per 1500-byte
//     packet). BBR's start-up overflows the queue by a few hundred packets.
//   - 1 % loss on 20,000 datagrams: 199 lost, all of them by the emulator.
//   - Cost: at 100 Mbit/s the forwarder, with the kernel work its reads and
//     writes trigger, takes about 45 % of one core (about 50 µs of CPU per
//     packet, mostly system time: each packet wakes a reader and a
//     sender). Without a rate limit it forwards up to about 100,000
//     packets per second (TCP reaches 1 Gbit/s through 5 ms each way, at
//     14 µs per packet); a faster sender fills its queue up to
//     linkem.Capacity, beyond which packets are dropped.
//
// # Limitations
//
// The kernel has no sch_netem: delay exists only on the emulated link, in
// userspace, and is only as precise as the machine wakes threads up (see
// above); a heavily loaded machine delays deliveries further. The emulated
// rate counts whole IP packets, with no link-layer framing. Without the
// emulated link, loss comes from nftables numgen and rate from tc tbf.
//
// The package needs Linux, root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and the
// nft, conntrack, ip, tc and ethtool programs (Debian packages nftables,
// conntrack, iproute2 and ethtool). Every lab lives entirely inside its own
// namespaces: nothing is changed in the host namespace, and deleting the
// namespaces removes the nftables and conntrack state with them.
package netlab
