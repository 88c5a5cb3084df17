package bench

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"syscall"
)

// SocketControl adjusts a socket before it binds or connects, as
// net.ListenConfig.Control does; the TCP runners use it to pick the
// congestion controller.
type SocketControl func(network, address string, c syscall.RawConn) error

// Network is where a measured transfer runs: loopback inside this process,
// or the client and server namespaces of a netlab path. Every runner gets
// its sockets from a Network, so one runner measures every path.
type Network interface {
	// Name describes the network in results.
	Name() string
	// ServerHost is the address servers listen on and clients dial.
	ServerHost() netip.Addr
	// ListenTCP opens a TCP listener on the server side, any port.
	ListenTCP(ctx context.Context, control SocketControl) (*net.TCPListener, error)
	// DialTCP connects from the client side.
	DialTCP(ctx context.Context, addr netip.AddrPort, control SocketControl) (*net.TCPConn, error)
	// ListenUDP opens the server's UDP socket on ServerHost, any port.
	ListenUDP() (*net.UDPConn, error)
	// ClientUDP opens an unconnected UDP socket on the client side, bound
	// to the wildcard address so that it keeps working when the client's
	// address changes.
	ClientUDP() (*net.UDPConn, error)
	// Command prepares a process on the server or the client side, for
	// peers that run as programs of their own (quic-go).
	Command(ctx context.Context, server bool, name string, args ...string) *exec.Cmd
}

// TCPECNSetter is a Network whose TCP can be told to negotiate ECN at both
// ends: the lab's namespaces (netlab.Lab.SetTCPECN). Loopback is not one,
// since the benchmark never changes the host's own settings.
type TCPECNSetter interface {
	SetTCPECN(on bool) error
}

// Loopback is the network of the machine's loopback interface, in the
// calling process's namespace.
var Loopback Network = loopback{}

type loopback struct{}

func (loopback) Name() string           { return "loopback" }
func (loopback) ServerHost() netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 0, 1}) }

func (l loopback) ListenTCP(ctx context.Context, control SocketControl) (*net.TCPListener, error) {
	return listenTCP(ctx, l.ServerHost(), control)
}

func (loopback) DialTCP(ctx context.Context, addr netip.AddrPort, control SocketControl) (*net.TCPConn, error) {
	return dialTCP(ctx, addr, control)
}

func (l loopback) ListenUDP() (*net.UDPConn, error) {
	return net.ListenUDP("udp4", &net.UDPAddr{IP: l.ServerHost().AsSlice()})
}

func (loopback) ClientUDP() (*net.UDPConn, error) {
	return net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
}

func (loopback) Command(ctx context.Context, _ bool, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, name, args...)
}

func listenTCP(ctx context.Context, host netip.Addr, control SocketControl) (*net.TCPListener, error) {
	lc := net.ListenConfig{Control: control}
	ln, err := lc.Listen(ctx, "tcp", netip.AddrPortFrom(host, 0).String())
	if err != nil {
		return nil, err
	}
	return ln.(*net.TCPListener), nil
}

func dialTCP(ctx context.Context, addr netip.AddrPort, control SocketControl) (*net.TCPConn, error) {
	d := net.Dialer{Control: control}
	c, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}
