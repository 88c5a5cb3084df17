package netlab

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoNAT is returned by RebindNAT on a lab built with Options.NoNAT.
var ErrNoNAT = errors.New("netlab: lab has no NAT to rebind")

// External port ranges. The router masquerades the client's TCP and UDP
// flows to ports in one range at a time; RebindNAT moves to the next,
// disjoint range, so a rebound flow can never keep its old port.
const (
	natFirstPort  = 40000
	natRangeSize  = 1000
	natRangeCount = 20
)

// baseRuleset is the router's nftables table. Chains are created empty and
// filled by the methods that own them, each change in one atomic
// `nft -f` transaction so that no packet ever sees a half-applied rule set.
// The blackout chain runs before the MTU black hole and the loss chain;
// all three only see forwarded traffic, so the router's own ICMP and
// neighbour discovery are unaffected.
const baseRuleset = `table inet lab {
	chain natpost {
		type nat hook postrouting priority srcnat; policy accept;
	}
	chain blackout {
		type filter hook forward priority -10; policy accept;
	}
	chain mtublackhole {
		type filter hook forward priority -5; policy accept;
	}
	chain loss {
		type filter hook forward priority 0; policy accept;
	}
}
`

// natRules returns the masquerade rules that map the client's subnets to
// the router's server-side addresses, TCP and UDP to ports in the given
// range. A port range needs the l4proto match in front of it, so other
// protocols (ICMP) get a plain masquerade rule of their own.
func natRules(rangeIndex int) string {
	lo := natFirstPort + rangeIndex*natRangeSize
	hi := lo + natRangeSize - 1
	var b strings.Builder
	for _, fam := range []struct{ match, subnet string }{{"ip", clientNet4.String()}, {"ip6", clientNet6.String()}} {
		fmt.Fprintf(&b, "add rule inet lab natpost oifname %q %s saddr %s meta l4proto { tcp, udp } masquerade to :%d-%d\n",
			routerServerLink, fam.match, fam.subnet, lo, hi)
		fmt.Fprintf(&b, "add rule inet lab natpost oifname %q %s saddr %s masquerade\n",
			routerServerLink, fam.match, fam.subnet)
	}
	return b.String()
}

// installRuleset loads the router's table and, unless NoNAT is set, the
// NAT44 and NAT66 masquerade rules.
func (l *Lab) installRuleset() error {
	script := baseRuleset
	if !l.opts.NoNAT {
		script += natRules(l.natRange)
	}
	return l.run(Router, script, l.tools.nft, "-f", "-")
}

// RebindNAT moves every flow through the router to a new external port, as
// a home router does after a reboot or when its mapping times out (the NAT
// rebinding of RFC 9000 Section 9). The client's sockets are not
// touched; the server sees the same NAT address with a different port.
//
// It switches the masquerade rules to the next disjoint port range in one
// transaction and then flushes the router's conntrack table, so the next
// packet of each flow is translated afresh. Both IPv4 and IPv6 flows move.
// A TCP connection does not survive this: see the package documentation.
func (l *Lab) RebindNAT() error {
	if l.opts.NoNAT {
		return ErrNoNAT
	}
	l.opMu.Lock()
	defer l.opMu.Unlock()
	next := (l.natRange + 1) % natRangeCount
	script := "flush chain inet lab natpost\n" + natRules(next)
	if err := l.run(Router, script, l.tools.nft, "-f", "-"); err != nil {
		return err
	}
	l.natRange = next
	for _, family := range []string{"ipv4", "ipv6"} {
		if err := l.run(Router, "", l.tools.conntrack, "--flush", "--family", family); err != nil {
			return err
		}
	}
	return nil
}
