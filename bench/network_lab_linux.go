package bench

import (
	"context"
	"net"
	"net/netip"
	"os/exec"

	"github.com/limpetnet/limpet/bench/netlab"
)

// LabNetwork runs transfers between a netlab's client and server
// namespaces, across its router (and its emulated link, if it has one).
// name describes the path in results.
func LabNetwork(lab *netlab.Lab, name string) Network {
	return labNetwork{lab: lab, name: name}
}

type labNetwork struct {
	lab  *netlab.Lab
	name string
}

func (n labNetwork) Name() string           { return n.name }
func (n labNetwork) ServerHost() netip.Addr { return n.lab.ServerAddr() }

func (n labNetwork) ListenTCP(ctx context.Context, control SocketControl) (*net.TCPListener, error) {
	var ln *net.TCPListener
	err := n.lab.In(netlab.Server, func() error {
		var err error
		ln, err = listenTCP(ctx, n.ServerHost(), control)
		return err
	})
	return ln, err
}

func (n labNetwork) DialTCP(ctx context.Context, addr netip.AddrPort, control SocketControl) (*net.TCPConn, error) {
	var c *net.TCPConn
	err := n.lab.In(netlab.Client, func() error {
		var err error
		c, err = dialTCP(ctx, addr, control)
		return err
	})
	return c, err
}

func (n labNetwork) ListenUDP() (*net.UDPConn, error) {
	return n.lab.ListenUDP(netlab.Server, netip.AddrPortFrom(n.ServerHost(), 0))
}

func (n labNetwork) ClientUDP() (*net.UDPConn, error) {
	return n.lab.ListenUDP(netlab.Client, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
}

// SetTCPECN turns ECN for TCP on or off in the client and server
// namespaces.
func (n labNetwork) SetTCPECN(on bool) error { return n.lab.SetTCPECN(on) }

// Command runs the program inside the side's namespace with ip netns exec.
func (n labNetwork) Command(ctx context.Context, server bool, name string, args ...string) *exec.Cmd {
	side := netlab.Client
	if server {
		side = netlab.Server
	}
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.lab.Namespace(side), name}, args...)...)
}
