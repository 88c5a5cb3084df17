package transport

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Dial opens a connection to the limpet server at addr ("host:port"),
// whose static public key cfg.ServerKey pins, on a UDP socket of its own.
// It returns once the handshake has completed, or fails after
// cfg.HandshakeTimeout. The connection can migrate to a new socket
// (Conn.Migrate), and its socket closes with it.
func Dial(ctx context.Context, addr string, cfg *Config) (*Conn, error) {
	conf, err := dialConfig(cfg)
	if err != nil {
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
	return dialPrivate(ctx, bind, raddr, conf, func(network, addr string) (Bind, error) { return ListenUDP(network, addr) })
}

// DialBind is Dial over a caller-supplied Bind (for example one wrapping a
// simulated or impaired net.PacketConn). The Bind is closed with the
// connection. Such a connection cannot migrate to another socket.
func DialBind(ctx context.Context, bind Bind, addr netip.AddrPort, cfg *Config) (*Conn, error) {
	conf, err := dialConfig(cfg)
	if err != nil {
		bind.Close()
		return nil, err
	}
	return dialPrivate(ctx, bind, addr, conf, nil)
}

// Dial opens a connection from the endpoint's socket to the limpet server
// at addr, whose key cfg.ServerKey pins, as the package-level Dial does.
// The connection shares the socket with the endpoint's others, and so
// cannot migrate to another one.
func (e *Endpoint) Dial(ctx context.Context, addr string, cfg *Config) (*Conn, error) {
	conf, err := dialConfig(cfg)
	if err != nil {
		return nil, err
	}
	raddr, err := resolve(ctx, addr)
	if err != nil {
		return nil, err
	}
	return e.dial(ctx, raddr, conf, nil)
}

// dialConfig checks a client's configuration and fills in the defaults.
func dialConfig(cfg *Config) (Config, error) {
	conf := cfg.withDefaults()
	if conf.ServerKey.IsZero() {
		return conf, fmt.Errorf("%w: Dial needs Config.ServerKey (the server's public key)", ErrInvalidConfig)
	}
	if err := conf.validate(); err != nil {
		return conf, err
	}
	return conf, nil
}

// dialPrivate dials over an endpoint of its own on bind.
func dialPrivate(ctx context.Context, bind Bind, raddr netip.AddrPort, conf Config, newBind func(network, addr string) (Bind, error)) (*Conn, error) {
	e := newEndpoint(bind)
	e.private = true
	e.room.limit = conf.MaxUnsentBytes
	e.resetKey = newResetKey()
	e.start()
	return e.dial(ctx, raddr, conf, newBind)
}

func (e *Endpoint) dial(ctx context.Context, raddr netip.AddrPort, conf Config, newBind func(network, addr string) (Bind, error)) (*Conn, error) {
	now := time.Now()
	c, err := newClientConn(e, conf, raddr, now)
	if err != nil {
		if e.private {
			e.bind().Close()
		}
		return nil, fmt.Errorf("limpet: dial: %w", err)
	}
	c.path.newBind = newBind
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		c.qlogClosed(ErrListenerClosed) // its loop never runs to end the trace
		return nil, ErrListenerClosed
	}
	e.live[c] = true
	e.dialing[c] = raddr
	e.conns[c.ids.localCID] = c
	e.mu.Unlock()
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

func resolve(ctx context.Context, addr string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("limpet: dial %q: %w", addr, err)
	}
	ua, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err == nil && len(ua) == 0 {
		err = &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("limpet: dial %q: %w", addr, err)
	}
	pn, err := net.DefaultResolver.LookupPort(ctx, "udp", port)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("limpet: dial %q: %w", addr, err)
	}
	return netip.AddrPortFrom(ua[0].Unmap(), uint16(pn)), nil
}
