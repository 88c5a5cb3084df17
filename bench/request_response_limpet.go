//go:build !nolimpet

package bench

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
)

// limpetExchanges runs the exchanges over one limpet stream, both ends
// configured as protocol says (limpet, limpet-nofec or limpet-fec) and
// otherwise by default.
func limpetExchanges(ctx context.Context, nw Network, protocol string, spec RequestResponseSpec) ([]time.Duration, error) {
	var fec transport.FECConfig
	switch protocol {
	case ProtocolLimpet:
	case ProtocolLimpetNoFEC:
		fec.Disable = true
	case ProtocolLimpetFEC:
		fec = LimpetFEC
	default:
		return nil, fmt.Errorf("%w %q for a request/response row", ErrUnknownProtocol, protocol)
	}
	key, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	closers := new(closerSet)
	defer closers.closeAll()
	stop := context.AfterFunc(ctx, closers.closeAll)
	defer stop()
	srvCfg := &transport.Config{PrivateKey: key, FEC: fec, QLogLogger: qlogLogger()}
	bind, err := udpBind(nw.ListenUDP())
	if err != nil {
		return nil, err
	}
	ln, err := transport.ListenBind(bind, srvCfg)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	closers.add(ln)
	go func() {
		conn, err := ln.Accept(ctx)
		if err != nil {
			return
		}
		closers.add(conn)
		s, err := conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		serveEcho(s, spec.Size)
	}()
	conn, err := dialLimpet(ctx, nw, ln.Addr().(*net.UDPAddr).AddrPort(), key.Public(), transport.Config{FEC: fec})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	closers.add(conn)
	s, err := conn.OpenStream(ctx)
	if err != nil {
		return nil, err
	}
	return timeExchanges(ctx, s, spec)
}
