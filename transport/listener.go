package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// Listener accepts limpet connections on one UDP socket.
type Listener struct {
	ep  *endpoint
	cfg Config

	// pub is the server's static public key, which seeds every Initial key
	// and Retry tag; computing it costs a scalar multiplication.
	pub crypto.PublicKey
	// tokens seals Retry tokens. It is the endpoint's reset-token
	// protector: one secret, derived from the static key, serves both
	// (docs/PROTOCOL.md section 4.7).
	tokens *crypto.TokenProtector

	mu         sync.Mutex
	queue      []*Conn       // confirmed connections not yet accepted
	ready      chan struct{} // closed and replaced when queue grows
	conns      map[*Conn]bool
	handshakes int // connections not yet confirmed
	// unvalidated counts the handshakes in progress that did not come
	// through a Retry: the ones a spoofed source address can create. While
	// they fill half of MaxHandshakes, new clients get a Retry.
	unvalidated int
	closed      bool
	closedCh    chan struct{}

	stats listenerStats
}

// Listen listens for limpet connections on the UDP address addr. cfg must
// carry the server's PrivateKey; clients pin its public half.
func Listen(addr string, cfg *Config) (*Listener, error) {
	bind, err := ListenUDP("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("limpet: listen: %w", err)
	}
	return ListenBind(bind, cfg)
}

// ListenBind is Listen over a caller-supplied Bind.
func ListenBind(bind Bind, cfg *Config) (*Listener, error) {
	conf := cfg.withDefaults()
	if conf.PrivateKey.IsZero() {
		bind.Close()
		return nil, errors.New("limpet: Listen needs Config.PrivateKey")
	}
	if err := conf.FEC.validate(); err != nil {
		bind.Close()
		return nil, err
	}
	var authorize func(crypto.PublicKey) bool
	if len(conf.AllowedClientKeys) > 0 {
		allowed := make(map[crypto.PublicKey]bool, len(conf.AllowedClientKeys))
		for _, k := range conf.AllowedClientKeys {
			allowed[k] = true
		}
		authorize = func(k crypto.PublicKey) bool { return allowed[k] }
	}
	hs, err := crypto.NewServer(crypto.ServerConfig{StaticKey: conf.PrivateKey, Authorize: authorize})
	if err != nil {
		bind.Close()
		return nil, fmt.Errorf("limpet: listen: %w", err)
	}
	ep := newEndpoint(bind, conf, true)
	ep.hs = hs
	l := &Listener{
		ep: ep, cfg: conf,
		pub:      conf.PrivateKey.Public(),
		tokens:   ep.resetKey,
		ready:    make(chan struct{}),
		conns:    make(map[*Conn]bool),
		closedCh: make(chan struct{}),
	}
	ep.listener = l
	ep.start()
	return l, nil
}

// Addr is the listening address.
func (l *Listener) Addr() net.Addr { return net.UDPAddrFromAddrPort(l.ep.bind().LocalAddr()) }

// PublicKey is the key clients must pin.
func (l *Listener) PublicKey() crypto.PublicKey { return l.pub }

// Accept waits for a connection whose handshake has been confirmed.
func (l *Listener) Accept(ctx context.Context) (*Conn, error) {
	for {
		l.mu.Lock()
		if len(l.queue) > 0 {
			c := l.queue[0]
			l.queue[0] = nil
			l.queue = l.queue[1:]
			l.mu.Unlock()
			return c, nil
		}
		if l.closed {
			l.mu.Unlock()
			return nil, ErrListenerClosed
		}
		ready := l.ready
		l.mu.Unlock()
		select {
		case <-ready:
		case <-l.closedCh:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close closes every connection (with NO_ERROR) and the socket, and waits
// for their goroutines to exit.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.closedCh)
	conns := make([]*Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.closeForShutdown()
	}
	for _, c := range conns {
		<-c.done
	}
	l.ep.mu.Lock()
	l.ep.closing = true
	l.ep.mu.Unlock()
	err := l.ep.bind().Close()
	l.ep.mu.Lock()
	end := l.ep.readerEnd
	l.ep.mu.Unlock()
	<-end
	return err
}

// enqueue makes a confirmed connection available to Accept.
func (l *Listener) enqueue(c *Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.handshakes--
	if !c.hs.retried {
		l.unvalidated--
	}
	l.queue = append(l.queue, c)
	close(l.ready)
	l.ready = make(chan struct{})
}

// connDone forgets a connection that has ended.
func (l *Listener) connDone(c *Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns[c] {
		delete(l.conns, c)
		if !c.hs.confirmed {
			l.handshakes--
			if !c.hs.retried {
				l.unvalidated--
			}
		}
	}
}

// handleNewInitial runs the server side of the handshake for an Initial
// packet that matches no connection (docs/PROTOCOL.md section 4.5). It runs
// on the endpoint's reader goroutine; the Noise work is bounded by
// MaxHandshakes and the replay cache, and happens only after one AEAD check
// and, when the server asks for it, a Retry round trip (section 2.2).
func (l *Listener) handleNewInitial(b []byte, from netip.AddrPort, now time.Time) {
	if len(b) < packet.MinInitialDatagramSize {
		l.stats.badInitials.Add(1)
		return
	}
	h, err := packet.ParseLongHeader(b)
	if err != nil || h.Type != packet.LongTypeInitial || h.Version != packet.Version || h.DstConnID.Len() < packet.DefaultConnIDLen {
		l.stats.badInitials.Add(1)
		return
	}
	l.mu.Lock()
	full := l.closed || l.handshakes >= l.cfg.MaxHandshakes || len(l.conns) >= l.cfg.MaxConns
	wantRetry := l.cfg.RequireAddressValidation || 2*l.unvalidated >= l.cfg.MaxHandshakes
	l.mu.Unlock()
	if full {
		l.stats.refused.Add(1)
		return
	}
	dcid := h.DstConnID
	seal, open := crypto.NewInitialKeys(l.pub, dcid.Bytes(), false)
	pkt := b[:h.PacketLen]
	pnLen, trunc, _, err := open.UnprotectHeader(pkt, h.PNOffset)
	if err != nil {
		l.stats.badInitials.Add(1)
		return
	}
	pn := packet.DecodePacketNumber(packet.InvalidPacketNumber, trunc, pnLen)
	payload, err := open.Open(pkt, h.PNOffset, pnLen, uint64(pn))
	if err != nil {
		l.stats.badInitials.Add(1) // not for this server's key, or tampered
		return
	}
	msg1, ok := firstCryptoFrame(payload)
	if !ok {
		l.stats.badInitials.Add(1)
		return
	}
	// Only an Initial that opened with this server's keys gets a Retry, so
	// the server stays silent towards anyone who does not know its key.
	origDCID, validated := dcid, false
	if len(h.Token) > 0 {
		if origDCID, ok = l.checkRetryToken(h.Token, from, now); !ok {
			l.stats.tokensRejected.Add(1)
			return
		}
		validated = true
	} else if wantRetry {
		l.sendRetry(h, from, now)
		return
	}
	c := newConn(l.ep, true, l.cfg, from, now)
	c.ids.remoteCID = h.SrcConnID
	c.hs.origDCID = origDCID
	if validated {
		// The client echoed our token from the address it was sent to: the
		// address is validated, and the transport parameters prove to the
		// client that this server sent the Retry (RFC 9000 §7.3).
		c.hs.retried = true
		c.hs.retrySrcCID = dcid
		c.path.validated = true
	}
	c.hs.largestRx = pn
	c.hs.initSeal, c.hs.initOpen = seal, open
	var clientParams packet.TransportParameters
	msg2, res, err := l.ep.hs.Accept(msg1, dcid.Bytes(), now, func(raw []byte) ([]byte, error) {
		p, err := packet.ParseTransportParameters(raw, false)
		if err != nil {
			return nil, err
		}
		clientParams = p
		return c.localParams().Append(nil), nil
	})
	if err != nil {
		if errors.Is(err, crypto.ErrClientKeyNotAllowed) {
			c.refuse(packet.UnknownClientKey, "client key not allowed")
		}
		l.stats.handshakesRejected.Add(1)
		return
	}
	c.keys = res.Keys
	c.hs.peerKey = res.PeerStatic
	c.applyPeerParams(clientParams)
	c.initConnIDs(nil)
	c.state = stateActive
	c.hs.out = msg2
	c.hs.resend = true
	c.path.bytesRecv = int64(len(b))
	close(c.established)

	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.conns[c] = true
	l.handshakes++
	if !c.hs.retried {
		l.unvalidated++
	}
	l.mu.Unlock()
	l.ep.register(c.ids.localCID, c)
	l.ep.register(dcid, c)
	go c.loop()
	c.wake()
}

// refuse answers a handshake we will not complete with CONNECTION_CLOSE in
// an Initial packet, so the client fails fast with a clear error.
func (c *Conn) refuse(code packet.TransportErrorCode, reason string) {
	f := packet.ConnectionCloseFrame{ErrorCode: uint64(code), FrameType: packet.FrameCrypto, Reason: []byte(reason)}
	b := c.buildInitialClose(make([]byte, 0, 256), f)
	d := []Datagram{{Buf: b, N: len(b), Addr: c.path.peer}}
	c.ep.bind().WriteBatch(d)
}

// firstCryptoFrame finds message 1 in an Initial payload: a CRYPTO frame at
// offset 0 (it always fits one packet).
func firstCryptoFrame(p []byte) ([]byte, bool) {
	for len(p) > 0 {
		ft, _, err := packet.PeekFrameType(p)
		if err != nil {
			return nil, false
		}
		switch ft {
		case packet.FramePadding:
			_, n, _ := packet.ParsePaddingFrame(p)
			p = p[n:]
		case packet.FramePing:
			p = p[1:]
		case packet.FrameCrypto:
			f, n, err := packet.ParseCryptoFrame(p)
			if err != nil {
				return nil, false
			}
			if f.Offset == 0 {
				return f.Data, true
			}
			p = p[n:]
		default:
			return nil, false
		}
	}
	return nil, false
}
