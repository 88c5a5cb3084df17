// Package netsim provides networks for testing limpet's transport without
// the real one: an in-memory UDP-like network, and an impairment layer that
// loses, delays, reorders, duplicates and corrupts datagrams on any
// net.PacketConn, rewrites their ECN codepoints and drops those over an MTU.
//
// Usage:
//
//	n := netsim.NewNetwork()
//	server, _ := n.Listen(netip.MustParseAddrPort("198.18.0.1:4433"))
//	client, _ := n.Listen(netip.MustParseAddrPort("198.18.0.2:0"))
//	lossy := netsim.Impair(client, netsim.Config{Seed: 1, Loss: 0.05, Delay: 10 * time.Millisecond})
//	defer lossy.Close()
//	// hand lossy and server to transport.NewPacketConnBind
//
// Addresses are *net.UDPAddr, so code written for UDP sockets works
// unchanged. Examples and tests use 198.18.0.0/15, the range RFC 2544
// reserves for benchmarking, so that no real host is ever named.
//
// Impairment decisions come from a seeded PCG generator and a fixed number
// of draws per datagram, so a test sees the same losses, duplicates and
// corruptions on every run. Delays use real timers: what arrives is
// deterministic, when it arrives is not.
//
// ECN codepoints travel with datagrams written with WriteToECN and read
// with ReadFromECN; plain WriteTo sends Not-ECT.
//
// Limitations: no bandwidth limit or queueing delay (a datagram is
// delivered as soon as it is due), so nothing marks CE for congestion; no
// ICMP, so a datagram over the MTU vanishes as in a path-MTU black hole;
// impairments apply to outgoing datagrams only (wrap both ends to impair
// both directions).
package netsim
