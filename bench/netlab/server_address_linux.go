package netlab

import (
	"fmt"
	"net/netip"
)

// AddServerAddress gives the server a further address on its link, for a
// server with several addresses (a multi-homed host, or one with a service
// address beside its own). The address must lie in the server's subnet,
// 198.19.1.0/24 or 2001:2:0:2::/64; the router reaches it without a new
// route. ServerAddr and ServerAddr6 stay the first addresses.
func (l *Lab) AddServerAddress(a netip.Addr) error {
	bits, net := serverNetBits4, netip.PrefixFrom(server4, serverNetBits4).Masked()
	if a.Is6() {
		bits, net = serverNetBits6, netip.PrefixFrom(server6, serverNetBits6).Masked()
	}
	if !net.Contains(a) {
		return fmt.Errorf("netlab: server address %v is outside %v", a, net)
	}
	args := []string{"addr", "add", netip.PrefixFrom(a, bits).String(), "dev", serverLink}
	if a.Is6() {
		args = append(args, "nodad") // usable at once, without duplicate detection
	}
	l.opMu.Lock()
	defer l.opMu.Unlock()
	return l.run(Server, "", l.tools.ip, args...)
}
