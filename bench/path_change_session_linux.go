//go:build linux && !nolimpet

package bench

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/bench/netlab"
	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
	lsession "github.com/limpetnet/limpet/transport/session"
)

// limpetSessionDisruptionEnds runs the transfer on one stream of a limpet
// session: when a change kills the connection, the client reconnects from
// a new socket and the stream carries on.
func limpetSessionDisruptionEnds(lab *netlab.Lab, server netip.Addr, closers *closerSet) (disruptionEnds, error) {
	key, err := crypto.GenerateKey()
	if err != nil {
		return disruptionEnds{}, err
	}
	sock, err := lab.ListenUDP(netlab.Server, netip.AddrPortFrom(server, 0))
	if err != nil {
		return disruptionEnds{}, fmt.Errorf("listen: %w", err)
	}
	bind, err := transport.NewUDPBind(sock)
	if err != nil {
		sock.Close()
		return disruptionEnds{}, err
	}
	tln, err := transport.ListenBind(bind, &transport.Config{PrivateKey: key, QLogLogger: qlogLogger(), MaxIncomingStreams: 101})
	if err != nil {
		return disruptionEnds{}, err
	}
	closers.add(tln)
	ln := lsession.NewListener(tln, nil)
	closers.add(ln)
	addr := sock.LocalAddr().(*net.UDPAddr).AddrPort()
	var (
		client  atomic.Pointer[lsession.Session]
		mu      sync.Mutex
		resumes []lsession.Event
	)
	dial := func(ctx context.Context, tc *transport.Config) (*transport.Conn, error) {
		bind, err := clientBind(lab, addr)
		if err != nil {
			return nil, err
		}
		conn, err := transport.DialBind(ctx, bind, addr, tc)
		if err == nil {
			closers.add(conn)
		}
		return conn, err
	}
	return disruptionEnds{
		send: func(ctx context.Context, size int64) ([sha256.Size]byte, error) {
			s, err := lsession.Dial(ctx, "", &transport.Config{ServerKey: key.Public(), QLogLogger: qlogLogger()}, &lsession.Config{
				Dial: dial,
				OnEvent: func(ev lsession.Event) {
					if ev.Kind == lsession.EventResumed {
						mu.Lock()
						resumes = append(resumes, ev)
						mu.Unlock()
					}
				},
			})
			if err != nil {
				return [sha256.Size]byte{}, err
			}
			closers.add(s)
			client.Store(s)
			st, err := s.OpenStream(ctx)
			if err != nil {
				return [sha256.Size]byte{}, err
			}
			return sendConsumed(ctx, st, size)
		},
		receive: func(ctx context.Context, size int64, p *progressLog) (int64, [sha256.Size]byte, error) {
			s, err := ln.Accept(ctx)
			if err != nil {
				return 0, [sha256.Size]byte{}, err
			}
			closers.add(s)
			st, err := s.AcceptStream(ctx)
			if err != nil {
				return 0, [sha256.Size]byte{}, err
			}
			return readAll(st, size, p)
		},
		session: func() (int, int64) {
			if s := client.Load(); s != nil {
				st := s.Stats()
				return st.Resumptions, st.BytesResent
			}
			return 0, 0
		},
		detail: func() string {
			s := client.Load()
			if s == nil {
				return ""
			}
			st := s.Stats()
			mu.Lock()
			defer mu.Unlock()
			var outage time.Duration
			for _, ev := range resumes {
				outage = max(outage, ev.Outage)
			}
			return fmt.Sprintf("%d connections, %d resumptions after %d attempts, %s sent again, longest time without a connection %.1f s",
				st.Connections, st.Resumptions, st.ReconnectAttempts, formatMiB(st.BytesResent), outage.Seconds())
		},
	}, nil
}
