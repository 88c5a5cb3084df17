package transport

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// maxRxDatagram is the largest datagram accepted; limpet sends at most
// maxDatagramSize, so anything bigger is not ours.
const maxRxDatagram = 1500

// maxDatagramSize is the UDP payload limpet sends (docs/PROTOCOL.md section 2).
const maxDatagramSize = packet.DefaultMaxUDPPayload

// rxDatagram is one received datagram handed from the endpoint's reader
// goroutine to a connection's loop. Buffers come from rxPool and go back
// once the loop has processed them.
type rxDatagram struct {
	buf  [maxRxDatagram]byte
	n    int
	from netip.AddrPort
	at   time.Time
}

var rxPool = sync.Pool{New: func() any { return new(rxDatagram) }}

// endpoint owns one UDP socket (a Bind) and the connections that share it.
// Its reader goroutine demultiplexes datagrams by destination connection ID
// (docs/PROTOCOL.md section 1), so many connections share one socket and a
// connection keeps its identity when the peer's address changes.
type endpoint struct {
	bindV    atomic.Pointer[bindBox] // the socket; a client swaps it to migrate
	isServer bool
	cfg      Config

	// Server only.
	hs       *crypto.Server
	listener *Listener

	// resetKey derives stateless reset tokens (docs/PROTOCOL.md section 4.7).
	resetKey *crypto.TokenProtector
	resets   resetLimiter

	mu        sync.Mutex
	conns     map[packet.ConnectionID]*Conn // by CIDs that route to us
	closing   bool
	readerEnd chan struct{} // closed when the reader goroutine has exited

	// Counters of datagrams dropped before reaching a connection.
	malformed  atomic.Uint64
	unroutable atomic.Uint64
	resetsSent atomic.Uint64
}

// bindBox lets an interface value live in an atomic.Pointer.
type bindBox struct{ Bind }

func newEndpoint(bind Bind, cfg Config, isServer bool) *endpoint {
	e := &endpoint{
		isServer:  isServer,
		cfg:       cfg,
		conns:     make(map[packet.ConnectionID]*Conn),
		readerEnd: make(chan struct{}),
	}
	e.bindV.Store(&bindBox{bind})
	if isServer {
		// Derived from the static key, so a restarted server with the same
		// key resets connections it has forgotten (docs/PROTOCOL.md 4.7).
		var k [32]byte
		copy(k[:], crypto.ExpandLabel(cfg.PrivateKey[:], "stateless reset key", 32))
		e.resetKey = crypto.NewTokenProtector(k)
	} else {
		e.resetKey = newResetKey()
	}
	return e
}

// bind is the endpoint's current socket.
func (e *endpoint) bind() Bind { return e.bindV.Load().Bind }

func (e *endpoint) start() {
	b := e.bind()
	end := e.readerEnd
	go func() {
		e.readLoop(b)
		close(end)
	}()
}

// swapBind moves the endpoint to a new socket (client migration): reading
// starts on the new one, the old one is closed and its reader exits.
func (e *endpoint) swapBind(nb Bind) {
	old := e.bindV.Swap(&bindBox{nb}).Bind
	end := make(chan struct{})
	e.mu.Lock()
	prevEnd := e.readerEnd
	e.readerEnd = end
	e.mu.Unlock()
	go func() {
		<-prevEnd // the old reader has exited before the new one counts as the reader
		e.readLoop(nb)
		close(end)
	}()
	old.Close()
}

func (e *endpoint) readLoop(bind Bind) {
	batch := max(bind.BatchSize(), 1)
	if !e.isServer && bind.MaxSegments() > 1 {
		// A client endpoint carries one connection: a few GRO buffers
		// (each up to 64 KiB of coalesced packets) keep up with it, where
		// a full batch would cost every Dial 4 MiB.
		batch = min(batch, clientGROBatch)
	}
	dgrams := make([]Datagram, batch)
	bufSize := maxRxDatagram
	if bind.MaxSegments() > 1 {
		bufSize = BindReadBufferSize
	}
	for i := range dgrams {
		dgrams[i].Buf = make([]byte, bufSize)
	}
	for {
		n, err := bind.ReadBatch(dgrams)
		if err != nil {
			if e.bind() != bind {
				return // replaced by migration
			}
			if e.isClosing() || errors.Is(err, net.ErrClosed) {
				e.closeAllConns(net.ErrClosed)
				return
			}
			continue // e.g. ICMP-induced ECONNREFUSED: not fatal for UDP
		}
		now := time.Now()
		for i := range dgrams[:n] {
			d := &dgrams[i]
			for s := 0; s < d.NumSegments(); s++ {
				e.handleDatagram(d.Segment(s), d.Addr, now)
			}
		}
	}
}

// clientGROBatch is how many GRO buffers a client endpoint reads into.
const clientGROBatch = 8

func (e *endpoint) isClosing() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closing
}

// handleDatagram routes one datagram. It runs on the reader goroutine.
func (e *endpoint) handleDatagram(b []byte, from netip.AddrPort, now time.Time) {
	if len(b) == 0 || len(b) > maxRxDatagram {
		e.malformed.Add(1)
		return
	}
	dcid, err := packet.PeekDestConnID(b, packet.DefaultConnIDLen)
	if err != nil {
		e.malformed.Add(1)
		return
	}
	e.mu.Lock()
	c := e.conns[dcid]
	e.mu.Unlock()
	if c == nil {
		switch {
		case e.isServer && packet.IsLongHeader(b):
			e.listener.handleNewInitial(b, from, now)
		case e.isServer:
			e.sendStatelessReset(dcid, len(b), from, now)
		default:
			// A stateless reset carries random bytes where the connection
			// ID would be; a client has one connection, so let it check.
			c = e.onlyConn()
		}
		if c == nil {
			e.unroutable.Add(1)
			return
		}
	}
	rx := rxPool.Get().(*rxDatagram)
	rx.n = copy(rx.buf[:], b)
	rx.from = from
	rx.at = now
	select {
	case c.rxCh <- rx:
	default:
		// The connection is not keeping up; a dropped datagram is a lost
		// packet, which loss recovery handles.
		rxPool.Put(rx)
		c.rxDropped.Add(1)
	}
}

// onlyConn returns a client endpoint's connection.
func (e *endpoint) onlyConn() *Conn {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.conns {
		return c
	}
	return nil
}

// register routes datagrams addressed to cid to c.
func (e *endpoint) register(cid packet.ConnectionID, c *Conn) {
	e.mu.Lock()
	e.conns[cid] = c
	e.mu.Unlock()
}

// unregisterID stops routing cid to c.
func (e *endpoint) unregisterID(cid packet.ConnectionID, c *Conn) {
	e.mu.Lock()
	if e.conns[cid] == c {
		delete(e.conns, cid)
	}
	e.mu.Unlock()
}

// unregister removes every route to c. A client endpoint, which exists for
// one connection, closes its socket when that connection is gone.
func (e *endpoint) unregister(c *Conn) {
	e.mu.Lock()
	for cid, cc := range e.conns {
		if cc == c {
			delete(e.conns, cid)
		}
	}
	last := !e.isServer && len(e.conns) == 0
	if last {
		e.closing = true
	}
	e.mu.Unlock()
	if e.isServer {
		e.listener.connDone(c)
	}
	if last {
		e.bind().Close()
	}
}

func (e *endpoint) closeAllConns(err error) {
	e.mu.Lock()
	conns := make([]*Conn, 0, len(e.conns))
	seen := make(map[*Conn]bool)
	for _, c := range e.conns {
		if !seen[c] {
			seen[c] = true
			conns = append(conns, c)
		}
	}
	e.mu.Unlock()
	for _, c := range conns {
		// On the connection's own loop: it owns that state.
		c.run(context.Background(), func(now time.Time) { c.abort(err) })
	}
}

// newConnID returns a fresh random connection ID of the length limpet
// endpoints issue.
func newConnID() packet.ConnectionID {
	var b [packet.DefaultConnIDLen]byte
	rand.Read(b[:])
	cid, _ := packet.NewConnectionID(b[:])
	return cid
}
