// Package netlab builds a small, real network inside Linux network
// namespaces so that limpet's transport and the benchmark harness can be
// tested against the kernel's own routing, NAT and queueing instead of an
// in-memory simulation.
//
// A [Lab] is three namespaces joined by two veth pairs:
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
// client under its sockets, as a new DHCP lease does, [Lab.Blackout] cuts the path, [Lab.SetLoss] drops a share of
// packets and [Lab.SetRate] limits the bottleneck rate. Each is one or two
// short commands in the router or client namespace, and each nftables
// change is a single atomic transaction.
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
//
// # Limitations
//
// The kernel has no sch_netem, so there is no delay emulation here; loss
// comes from nftables numgen and rate from tc tbf. The package needs Linux,
// root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and the nft, conntrack, ip, tc and
// ethtool programs (Debian packages nftables, conntrack, iproute2 and
// ethtool). Every lab lives entirely inside its own namespaces: nothing is
// changed in the host namespace, and deleting the namespaces removes the
// nftables and conntrack state with them.
package netlab
