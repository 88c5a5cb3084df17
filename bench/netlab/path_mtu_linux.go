package netlab

import (
	"fmt"
	"net/netip"
	"strings"
)

// SetPathMTU makes the router forward packets of at most mtu bytes, in
// both directions, as a tunnel between the router and the server would:
// the client's and the server's own links keep the lab's MTU, so only the
// router's ICMP tells them. A longer IPv4 packet with DF set is dropped and
// answered with ICMP "fragmentation needed" carrying mtu (RFC 1191), a
// longer IPv6 packet with ICMPv6 "packet too big" (RFC 8201); a longer IPv4
// packet without DF is fragmented. The sender's kernel records the smaller
// path MTU for the destination (for net.ipv4.route.mtu_expires, 10
// minutes), after which a socket with IP_PMTUDISC_DO gets EMSGSIZE for
// anything longer; a transport with its own discovery (IP_PMTUDISC_PROBE)
// sees only the ICMP, if it reads its error queue, and the loss. The ICMP
// crosses the NAT, translated back to the sender's own address. Neither
// message is rate limited by the kernel, so every oversize packet gets one.
//
// SetPathMTU(0) restores the lab's MTU on the path; endpoints that cached
// the smaller one keep it until it expires or their own probes find more.
// mtu must be 0 or between 1280 and the lab's MTU.
//
// The limit is the route MTU of the router's four connected routes: a
// forwarding router honours a route's MTU, which unlike a device's applies
// only to packets leaving through it. Lowering the veth device MTU instead
// would not do: a veth end drops arriving packets longer than its own MTU
// silently, so setting only the router's end would black-hole the server's
// packets, and setting the server's end too would let the server's kernel
// refuse long packets locally (EMSGSIZE) without any ICMP. For a path that
// drops long packets without ICMP, see SetPathMTUBlackHole.
func (l *Lab) SetPathMTU(mtu int) error {
	if err := l.checkPathMTU(mtu); err != nil {
		return err
	}
	l.opMu.Lock()
	defer l.opMu.Unlock()
	metric := ""
	if mtu != 0 {
		metric = fmt.Sprintf(" mtu %d", mtu)
	}
	var batch strings.Builder
	for _, r := range []struct {
		prefix, dev, src string
	}{
		{clientNet4.String(), routerClientLink, routerClient4.String()},
		{serverNet(server4, serverNetBits4), routerServerLink, routerServer4.String()},
	} {
		fmt.Fprintf(&batch, "route replace %s dev %s proto kernel scope link src %s%s\n", r.prefix, r.dev, r.src, metric)
	}
	for _, r := range []struct{ prefix, dev string }{
		{clientNet6.String(), routerClientLink},
		{serverNet(server6, serverNetBits6), routerServerLink},
	} {
		fmt.Fprintf(&batch, "route replace %s dev %s proto kernel metric 256%s\n", r.prefix, r.dev, metric)
	}
	return l.run(Router, batch.String(), l.tools.ip, "-batch", "-")
}

// serverNet returns the server's subnet, as the router's connected route
// names it.
func serverNet(addr netip.Addr, bits int) string {
	return netip.PrefixFrom(addr, bits).Masked().String()
}

// SetPathMTUBlackHole makes the router drop every forwarded packet longer
// than mtu bytes, in both directions, without a word: no ICMP goes back,
// so a sender that relies on ICMP for path MTU discovery keeps sending
// packets that vanish, the black hole of RFC 2923 section 2.1 that
// DPLPMTUD (RFC 8899) is built to survive. Only the packet size counts, DF
// or not. It works with or without the emulated link (whose linkem.Config
// MTU drops long packets on the client's link the same way), and
// independently of SetPathMTU. SetPathMTUBlackHole(0) removes it. It is
// one atomic nftables transaction.
func (l *Lab) SetPathMTUBlackHole(mtu int) error {
	if err := l.checkPathMTU(mtu); err != nil {
		return err
	}
	l.opMu.Lock()
	defer l.opMu.Unlock()
	script := "flush chain inet lab mtublackhole\n"
	if mtu != 0 {
		// meta length is the whole IP packet at the forward hook.
		script += fmt.Sprintf("add rule inet lab mtublackhole meta length > %d counter drop\n", mtu)
	}
	return l.run(Router, script, l.tools.nft, "-f", "-")
}

// checkPathMTU validates SetPathMTU's and SetPathMTUBlackHole's argument.
func (l *Lab) checkPathMTU(mtu int) error {
	if mtu != 0 && (mtu < minMTU || mtu > l.MTU()) {
		return fmt.Errorf("%w: path MTU %d not in [%d, %d] (the lab's MTU)", ErrInvalidArgument, mtu, minMTU, l.MTU())
	}
	return nil
}

// SetTCPECN turns ECN for TCP on or off in the client's and the server's
// namespaces (net.ipv4.tcp_ecn, which covers IPv6 too). On, each end asks
// for ECN when it connects and accepts it when asked (tcp_ecn=1), so a
// connection between them negotiates ECN (RFC 3168), marks its packets
// ECT(0) and answers CE marks, such as those of a link with
// linkem.CoDelConfig.ECN, by reducing its congestion window rather than
// waiting for a loss. Off restores the kernel's default, tcp_ecn=2: accept
// ECN only when the peer asks, which neither end then does. Connections
// already open keep what they negotiated.
func (l *Lab) SetTCPECN(on bool) error {
	value := "2"
	if on {
		value = "1"
	}
	l.opMu.Lock()
	defer l.opMu.Unlock()
	for _, side := range []Side{Client, Server} {
		if err := l.In(side, func() error {
			return writeSysctls(map[string]string{"net/ipv4/tcp_ecn": value})
		}); err != nil {
			return fmt.Errorf("netlab: tcp_ecn in %v namespace: %w", side, err)
		}
	}
	return nil
}

// FlushPathMTUCache makes the client's and the server's kernels forget the
// path MTUs they learned from ICMP, as if they had expired (`ip route flush
// cache` for both families), so that a run after SetPathMTU starts from the
// lab's MTU like the first. It touches neither the router nor sockets'
// own settings.
func (l *Lab) FlushPathMTUCache() error {
	for _, side := range []Side{Client, Server} {
		for _, family := range []string{"-4", "-6"} {
			if err := l.run(side, "", l.tools.ip, family, "route", "flush", "cache"); err != nil {
				return err
			}
		}
	}
	return nil
}
