package netlab

import (
	"fmt"
	"time"
)

// ChangeClientIP renumbers the client: it removes the client's IPv4 and IPv6
// addresses and adds the next ones (198.18.1.3, .4, … and 2001:2:0:1::3,
// ::4, …, wrapping after .254), then restores the default routes, which the
// kernel deletes with the last address of their subnet. With
// Options.AddressGap set, the client has no address at all for that long.
//
// An unconnected socket bound to the wildcard address sends from the new
// address at once; the router sees a new flow and the server a new NAT
// port. A connected socket keeps its old source address and every send
// fails with ENETUNREACH. The
// router's conntrack entries for the old address are left to expire, as on
// a real NAT.
func (l *Lab) ChangeClientIP() error {
	l.opMu.Lock()
	defer l.opMu.Unlock()

	l.mu.Lock()
	host := l.clientHost
	l.mu.Unlock()
	next := host + 1
	if next > lastClientHost {
		next = firstClientHost
	}
	old4, old6 := l.clientAddrs(host)
	new4, new6 := l.clientAddrs(next)

	remove := fmt.Sprintf("addr del %s/%d dev %s\naddr del %s/%d dev %s\n",
		old4, clientNet4.Bits(), clientLink, old6, clientNet6.Bits(), clientLink)
	add := fmt.Sprintf("addr add %[2]s/%[3]d dev %[1]s\naddr add %[4]s/%[5]d dev %[1]s nodad\n"+
		"route replace default via %[6]s dev %[1]s\nroute replace default via %[7]s dev %[1]s\n",
		clientLink, new4, clientNet4.Bits(), new6, clientNet6.Bits(), routerClient4, routerClient6)
	if l.opts.AddressGap <= 0 {
		if err := l.run(Client, remove+add, l.tools.ip, "-batch", "-"); err != nil {
			return err
		}
	} else {
		if err := l.run(Client, remove, l.tools.ip, "-batch", "-"); err != nil {
			return err
		}
		time.Sleep(l.opts.AddressGap)
		if err := l.run(Client, add, l.tools.ip, "-batch", "-"); err != nil {
			return err
		}
	}
	l.mu.Lock()
	l.clientHost = next
	l.mu.Unlock()
	return nil
}
