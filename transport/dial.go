package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// Dial opens a connection to the limpet server at addr ("host:port"),
// whose static public key cfg.ServerKey pins. It returns once the handshake
// has completed, or fails after cfg.HandshakeTimeout.
func Dial(ctx context.Context, addr string, cfg *Config) (*Conn, error) {
	conf := cfg.withDefaults()
	if conf.ServerKey.IsZero() {
		return nil, errors.New("limpet: Dial needs Config.ServerKey (the server's public key)")
	}
	if err := conf.FEC.validate(); err != nil {
		return nil, err
	}
	raddr, err := resolve(ctx, addr)
	if err != nil {
		return nil, err
	}
	network, laddr := "udp4", "0.0.0.0:0"
	if raddr.Addr().Is6() {
		network, laddr = "udp6", "[::]:0"
	}
	bind, err := ListenUDP(network, laddr)
	if err != nil {
		return nil, fmt.Errorf("limpet: dial: %w", err)
	}
	return dialBind(ctx, bind, raddr, conf, func(network, addr string) (Bind, error) { return ListenUDP(network, addr) })
}

// DialBind is Dial over a caller-supplied Bind (for example one wrapping a
// simulated or impaired net.PacketConn). The Bind is closed with the
// connection.
func DialBind(ctx context.Context, bind Bind, addr netip.AddrPort, cfg *Config) (*Conn, error) {
	conf := cfg.withDefaults()
	if conf.ServerKey.IsZero() {
		bind.Close()
		return nil, errors.New("limpet: Dial needs Config.ServerKey (the server's public key)")
	}
	if err := conf.FEC.validate(); err != nil {
		bind.Close()
		return nil, err
	}
	return dialBind(ctx, bind, addr, conf, nil)
}

func dialBind(ctx context.Context, bind Bind, raddr netip.AddrPort, conf Config, newBind func(network, addr string) (Bind, error)) (*Conn, error) {
	now := time.Now()
	ep := newEndpoint(bind, conf, false)
	c := newConn(ep, false, conf, raddr, now)
	c.path.newBind = newBind
	c.path.validated = true // the client chose the server's address
	c.hs.origDCID = newConnID()
	if err := c.startClientHandshake(c.hs.origDCID, now); err != nil {
		bind.Close()
		return nil, fmt.Errorf("limpet: dial: %w", err)
	}
	ep.register(c.ids.localCID, c)
	ep.start()
	go c.loop()
	c.wake()

	select {
	case <-c.established:
		return c, nil
	case <-c.done:
		return nil, c.closeErr
	case <-ctx.Done():
		c.Close()
		<-c.done
		return nil, ctx.Err()
	}
}

// startClientHandshake starts the handshake towards the server connection
// ID dcid: a fresh ephemeral key and message 1, whose prologue binds dcid,
// and the Initial keys dcid seeds (docs/PROTOCOL.md sections 4.3, 4.5).
// Dial calls it with the original DCID, and again with a Retry's SCID.
func (c *Conn) startClientHandshake(dcid packet.ConnectionID, now time.Time) error {
	params := c.localParams()
	hs, msg1, err := crypto.NewClientHandshake(crypto.ClientConfig{
		StaticKey:       c.cfg.PrivateKey,
		ServerKey:       c.cfg.ServerKey,
		TransportParams: params.Append(nil),
	}, dcid.Bytes(), now)
	if err != nil {
		return err
	}
	c.hs.client = hs
	c.hs.out = msg1
	c.ids.remoteCID = dcid
	c.hs.initSeal, c.hs.initOpen = crypto.NewInitialKeys(c.cfg.ServerKey, dcid.Bytes(), true)
	return nil
}

func resolve(ctx context.Context, addr string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("limpet: dial %q: %w", addr, err)
	}
	ua, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ua) == 0 {
		return netip.AddrPort{}, fmt.Errorf("limpet: dial %q: cannot resolve host: %v", addr, err)
	}
	pn, err := net.DefaultResolver.LookupPort(ctx, "udp", port)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("limpet: dial %q: %w", addr, err)
	}
	return netip.AddrPortFrom(ua[0].Unmap(), uint16(pn)), nil
}
