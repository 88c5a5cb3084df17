package netlab

import (
	"context"
	"net"
	"net/netip"
)

// ListenUDP opens a UDP socket in side's namespace bound to laddr, as
// net.ListenUDP does. An IPv4 address gives an IPv4-only socket, an IPv6
// address an IPv6-only one, and the zero netip.Addr a dual-stack wildcard
// socket; port 0 picks a free port. For a client that must survive
// ChangeClientIP, bind to 0.0.0.0 (or the zero address) and send with
// WriteTo rather than connecting.
func (l *Lab) ListenUDP(side Side, laddr netip.AddrPort) (*net.UDPConn, error) {
	var conn *net.UDPConn
	err := l.In(side, func() error {
		var err error
		conn, err = net.ListenUDP(network("udp", laddr.Addr()), udpAddr(laddr))
		return err
	})
	return conn, err
}

// ListenTCP opens a TCP listener in side's namespace; laddr works as for
// ListenUDP. Connections it accepts belong to the same namespace.
func (l *Lab) ListenTCP(side Side, laddr netip.AddrPort) (*net.TCPListener, error) {
	var ln *net.TCPListener
	err := l.In(side, func() error {
		var err error
		ln, err = net.ListenTCP(network("tcp", laddr.Addr()), tcpAddr(laddr))
		return err
	})
	return ln, err
}

// DialTCP connects from side's namespace to raddr, honouring ctx's deadline
// and cancellation.
func (l *Lab) DialTCP(ctx context.Context, side Side, raddr netip.AddrPort) (*net.TCPConn, error) {
	var conn *net.TCPConn
	err := l.In(side, func() error {
		var d net.Dialer
		c, err := d.DialContext(ctx, network("tcp", raddr.Addr()), raddr.String())
		if err != nil {
			return err
		}
		conn = c.(*net.TCPConn)
		return nil
	})
	return conn, err
}

// network returns proto with the address family suffix that matches addr,
// or proto alone (dual stack) for the zero address.
func network(proto string, addr netip.Addr) string {
	switch {
	case !addr.IsValid():
		return proto
	case addr.Is4() || addr.Is4In6():
		return proto + "4"
	default:
		return proto + "6"
	}
}

// udpAddr converts laddr, keeping a nil IP for the zero address so that
// the socket is a wildcard one.
func udpAddr(laddr netip.AddrPort) *net.UDPAddr {
	if !laddr.Addr().IsValid() {
		return &net.UDPAddr{Port: int(laddr.Port())}
	}
	return net.UDPAddrFromAddrPort(laddr)
}

// tcpAddr is udpAddr for TCP.
func tcpAddr(laddr netip.AddrPort) *net.TCPAddr {
	if !laddr.Addr().IsValid() {
		return &net.TCPAddr{Port: int(laddr.Port())}
	}
	return net.TCPAddrFromAddrPort(laddr)
}
