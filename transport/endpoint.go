package transport

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// maxRxDatagram is the largest datagram accepted, and the
// max_udp_payload_size announced: the largest UDP payload IPv4 carries.
// Path MTU discovery decides what is sent (docs/PROTOCOL.md section 11).
const maxRxDatagram = 65527

// rxDatagram is one received datagram handed from the endpoint's reader
// goroutine to a connection's loop or a handshake worker. Buffers come from
// rxPools and go back once they have been processed.
type rxDatagram struct {
	buf   []byte
	n     int
	from  netip.AddrPort
	at    time.Time
	ecn   ECN        // the IP header's ECN codepoint
	local netip.Addr // the address it was sent to, if the Bind knows
}

// rxSizeClasses are the buffer sizes rxDatagrams come in, so that most
// datagrams (at most an Ethernet MTU) do not pin a 64 KiB buffer while
// they wait in a queue.
var rxSizeClasses = [...]int{1500, 9216, maxRxDatagram}

// rxPools hold each class's buffers; their reserves keep up to 4 MiB each
// through garbage collections (64 of the largest, as many as a few of a
// bulk transfer's receive bursts hold).
var rxPools [len(rxSizeClasses)]*bufferPool[*rxDatagram]

func init() {
	for i, size := range rxSizeClasses {
		rxPools[i] = newBufferPool((4<<20)/size, func() *rxDatagram { return &rxDatagram{buf: make([]byte, size)} })
	}
}

// rxMeta is what the Bind told about a datagram besides its bytes.
type rxMeta struct {
	ecn   ECN
	local netip.Addr
}

// newRxDatagram copies b into a pooled rxDatagram of the smallest class
// that holds it; b must be at most maxRxDatagram bytes.
func newRxDatagram(b []byte, from netip.AddrPort, meta rxMeta, at time.Time) *rxDatagram {
	i := 0
	for len(b) > rxSizeClasses[i] {
		i++
	}
	rx := rxPools[i].get()
	rx.n = copy(rx.buf, b)
	rx.from = from
	rx.at = at
	rx.ecn, rx.local = meta.ecn, meta.local
	return rx
}

// release returns rx to its pool.
func (rx *rxDatagram) release() {
	for i, size := range rxSizeClasses {
		if cap(rx.buf) == size {
			rxPools[i].put(rx)
			return
		}
	}
}

// An Endpoint is one UDP socket carrying any number of limpet connections:
// those it dials and, if it was given a configuration for them, those it
// accepts (in the spirit of quic-go's Transport and x/net/quic's Endpoint).
// Its reader goroutine routes each datagram by destination connection ID
// (docs/PROTOCOL.md section 1), so connections share the socket and keep
// their identity when the peer's address changes. Two endpoints can dial
// each other at once, each on its one socket, as peer-to-peer programs
// behind NATs need.
//
// The reader does nothing expensive: the handshakes of new connections run
// on a bounded pool of workers, and Initials beyond its queue are dropped.
type Endpoint struct {
	bindV atomic.Pointer[bindBox] // the socket; a private endpoint's connection swaps it to migrate
	// private marks the endpoint Dial makes for one connection: it closes
	// when that connection ends.
	private bool

	// Accepting: lcfg is the configuration of accepted connections, nil on
	// an endpoint that only dials.
	lcfg   *Config
	hs     *crypto.Server
	pub    crypto.PublicKey
	hsJobs chan handshakeJob // Initials for the handshake workers
	// spentTokens makes each Retry token start one handshake.
	spentTokens *crypto.SpentTokens
	// resetKey derives stateless reset tokens, and retryKey, on an
	// accepting endpoint, seals Retry tokens (docs/PROTOCOL.md section 4.7).
	resetKey *crypto.TokenProtector
	retryKey *crypto.TokenProtector
	resets   resetLimiter
	// dropTrace limits the trace's packet_dropped events (endpoint_drops.go).
	dropTrace dropTrace

	mu      sync.Mutex
	conns   map[packet.ConnectionID]*Conn // by the CIDs that route to them
	live    map[*Conn]bool                // every connection not yet ended
	pending map[packet.ConnectionID]*pendingInitial
	// resetTokens maps the stateless reset tokens the peers of this
	// endpoint's connections gave it to those connections, to recognise a
	// reset among datagrams that match no connection ID.
	resetTokens map[[packet.StatelessResetTokenLen]byte]*Conn
	// closed routes the connection IDs of connections that ended to their
	// closing or draining period (RFC 9000 §10.2), which the endpoint keeps
	// so that the connection's goroutine need not.
	closedIDs map[packet.ConnectionID]*closedConn
	// dialing holds the dialled connections still in their handshake, with
	// the address they dial, for ICMP errors (onUnreachable).
	dialing   map[*Conn]netip.AddrPort
	accept    acceptQueue
	closed    bool
	closedCh  chan struct{}
	readerEnd chan struct{} // closed when the reader goroutine has exited
	workers   sync.WaitGroup

	// unsent counts the bytes written to its connections' streams and not
	// yet sent, which room bounds.
	unsent atomic.Int64
	room   endpointRoom

	stats endpointStats
}

// Listener is an Endpoint made by Listen: one that accepts connections.
type Listener = Endpoint

// bindBox lets an interface value live in an atomic.Pointer.
type bindBox struct{ Bind }

// Listen listens for limpet connections on the UDP address addr. cfg must
// carry the server's PrivateKey; clients pin its public half. The returned
// endpoint can dial from the same socket too.
func Listen(addr string, cfg *Config) (*Listener, error) {
	bind, err := ListenUDP("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("limpet: listen: %w", err)
	}
	return ListenBind(bind, cfg)
}

// ListenBind is Listen over a caller-supplied Bind.
func ListenBind(bind Bind, cfg *Config) (*Listener, error) {
	if cfg == nil || cfg.PrivateKey.IsZero() {
		bind.Close()
		return nil, fmt.Errorf("%w: Listen needs Config.PrivateKey", ErrInvalidConfig)
	}
	return NewEndpointBind(bind, cfg)
}

// NewEndpoint opens a UDP socket on addr ("host:port"; ":0" for any port)
// and returns an Endpoint on it. With listenCfg nil the endpoint only
// dials; otherwise it also accepts connections configured by listenCfg,
// which must then carry the PrivateKey that clients pin.
func NewEndpoint(addr string, listenCfg *Config) (*Endpoint, error) {
	bind, err := ListenUDP("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("limpet: endpoint: %w", err)
	}
	return NewEndpointBind(bind, listenCfg)
}

// NewEndpointBind is NewEndpoint over a caller-supplied Bind, which the
// endpoint owns from then on.
func NewEndpointBind(bind Bind, listenCfg *Config) (*Endpoint, error) {
	e := newEndpoint(bind)
	if listenCfg != nil {
		if err := e.initAccept(listenCfg); err != nil {
			bind.Close()
			return nil, err
		}
	} else {
		e.resetKey = newResetKey()
	}
	e.start()
	return e, nil
}

func newEndpoint(bind Bind) *Endpoint {
	e := &Endpoint{
		conns:       make(map[packet.ConnectionID]*Conn),
		live:        make(map[*Conn]bool),
		pending:     make(map[packet.ConnectionID]*pendingInitial),
		resetTokens: make(map[[packet.StatelessResetTokenLen]byte]*Conn),
		closedIDs:   make(map[packet.ConnectionID]*closedConn),
		dialing:     make(map[*Conn]netip.AddrPort),
		closedCh:    make(chan struct{}),
		readerEnd:   make(chan struct{}),
	}
	e.room.limit = defaultMaxUnsentBytes
	e.accept.ready = make(chan struct{})
	e.bindV.Store(&bindBox{bind})
	return e
}

// newResetKey makes a random reset key, for endpoints that do not accept:
// only servers need tokens that survive a restart.
func newResetKey() *crypto.TokenProtector {
	var k [32]byte
	rand.Read(k[:])
	return crypto.NewTokenProtector(k)
}

// bind is the endpoint's current socket.
func (e *Endpoint) bind() Bind { return e.bindV.Load().Bind }

// accepting reports whether the endpoint accepts connections.
func (e *Endpoint) accepting() bool { return e.lcfg != nil }

// Addr is the endpoint's local UDP address.
func (e *Endpoint) Addr() net.Addr { return net.UDPAddrFromAddrPort(e.bind().LocalAddr()) }

// PublicKey is the key clients must pin to reach an accepting endpoint; the
// zero key on one that only dials.
func (e *Endpoint) PublicKey() crypto.PublicKey { return e.pub }

func (e *Endpoint) start() {
	b := e.bind()
	end := e.readerEnd
	go func() {
		e.readLoop(b)
		close(end)
	}()
}

// swapBind moves a private endpoint to a new socket (client migration):
// reading starts on the new one, the old one is closed and its reader exits.
func (e *Endpoint) swapBind(nb Bind) {
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

// groBatch and privateGROBatch are how many GRO buffers an endpoint reads
// into, each up to 64 KiB of coalesced datagrams: enough for a few hundred
// datagrams per system call, without every endpoint holding megabytes.
const (
	groBatch        = 16
	privateGROBatch = 8 // a private endpoint carries one connection
)

func (e *Endpoint) readLoop(bind Bind) {
	batch := max(bind.BatchSize(), 1)
	if bind.MaxSegments() > 1 {
		batch = min(batch, groBatch)
		if e.private {
			batch = min(batch, privateGROBatch)
		}
	}
	first := batch
	if e.private {
		first = 1
	}
	coalescing, _ := bind.(interface{ coalescesReceives() bool })
	bufs := newReadBuffers(first, batch, coalescing != nil && coalescing.coalescesReceives())
	defer bufs.release()
	for {
		dgrams := bufs.dgrams
		n, err := bind.ReadBatch(dgrams)
		if err != nil {
			if e.bind() != bind {
				return // replaced by migration
			}
			if e.isClosed() || errors.Is(err, net.ErrClosed) {
				e.abortAll(net.ErrClosed)
				return
			}
			var ue *UnreachableError
			if errors.As(err, &ue) {
				e.onUnreachable(ue)
			}
			continue // not fatal for UDP
		}
		now := time.Now()
		segments := 0
		for i := range dgrams[:n] {
			d := &dgrams[i]
			segments += d.NumSegments()
			for s := 0; s < d.NumSegments(); s++ {
				e.route(d.Segment(s), d.Addr, rxMeta{d.ECN, d.Local}, now)
			}
		}
		bufs.afterRead(n, segments, now)
	}
}

// onUnreachable fails the handshakes of dialled connections to the address
// an ICMP error named, as TCP's connect fails on a refusal. Established
// connections ignore ICMP, which anyone on the path can forge.
func (e *Endpoint) onUnreachable(ue *UnreachableError) {
	// Only handshakes still dialling ue.Addr are concerned, a handful at
	// most: anyone can forge ICMP, so an error must not cost a walk over
	// every connection.
	e.mu.Lock()
	var hit []*Conn
	for c, addr := range e.dialing {
		if addr == ue.Addr {
			hit = append(hit, c)
		}
	}
	e.mu.Unlock()
	for _, c := range hit {
		go c.run(context.Background(), func(time.Time) {
			if c.state == stateHandshake && c.path.peer == ue.Addr {
				c.terminate(&net.OpError{Op: "dial", Net: "udp", Addr: net.UDPAddrFromAddrPort(ue.Addr), Err: os.NewSyscallError("connect", ue.Err)})
			}
		})
	}
}

// doneDialing forgets c among the handshakes an ICMP error may fail: its
// handshake completed, or it ended.
func (e *Endpoint) doneDialing(c *Conn) {
	e.mu.Lock()
	delete(e.dialing, c)
	e.mu.Unlock()
}

// isClosed reports whether Close was called.
func (e *Endpoint) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// route hands one datagram to the connection its destination connection ID
// names, or to the handshake workers. It runs on the reader goroutine and
// does no cryptography.
func (e *Endpoint) route(b []byte, from netip.AddrPort, meta rxMeta, now time.Time) {
	if len(b) == 0 || len(b) > maxRxDatagram {
		e.drop(&e.stats.malformed, len(b), dropInvalid)
		return
	}
	dcid, err := packet.PeekDestConnID(b, packet.DefaultConnIDLen)
	if err != nil {
		e.drop(&e.stats.malformed, len(b), dropInvalid)
		return
	}
	e.mu.Lock()
	c := e.conns[dcid]
	if c == nil && !packet.IsLongHeader(b) && len(b) >= crypto.MinStatelessResetLen {
		// A stateless reset carries random bytes where the connection ID
		// would be; its last 16 bytes are the token (section 2.4).
		var tok [packet.StatelessResetTokenLen]byte
		copy(tok[:], b[len(b)-len(tok):])
		if rc := e.resetTokens[tok]; rc != nil {
			c = rc
		}
	}
	var answer []byte
	var answerTo netip.AddrPort
	closing := false
	if c == nil {
		if cc := e.closedIDs[dcid]; cc != nil {
			closing = true
			answer, answerTo = cc.answer(from, len(b), now)
		}
	}
	e.mu.Unlock()
	if c != nil {
		c.deliver(newRxDatagram(b, from, meta, now))
		return
	}
	if closing {
		if answer != nil {
			e.send(answer, answerTo, meta.local)
		}
		return
	}
	switch {
	case e.accepting() && packet.IsLongHeader(b):
		e.routeInitial(b, dcid, from, meta, now)
		return
	case e.accepting():
		e.sendStatelessReset(dcid, len(b), from, meta.local, now)
	}
	e.drop(&e.stats.unroutable, len(b), dropConnectionUnknown)
}

// deliver queues a datagram for the connection's loop, dropping it when the
// loop is not keeping up: a lost packet, which loss recovery handles.
func (c *Conn) deliver(rx *rxDatagram) {
	c.rx.push(rx)
}

// register routes datagrams addressed to cid to c.
func (e *Endpoint) register(cid packet.ConnectionID, c *Conn) {
	e.mu.Lock()
	e.conns[cid] = c
	e.mu.Unlock()
}

// unregisterID stops routing cid to c.
func (e *Endpoint) unregisterID(cid packet.ConnectionID, c *Conn) {
	e.mu.Lock()
	if e.conns[cid] == c {
		delete(e.conns, cid)
	}
	e.mu.Unlock()
}

// addResetToken makes a stateless reset carrying token end c.
func (e *Endpoint) addResetToken(token [packet.StatelessResetTokenLen]byte, c *Conn) {
	e.mu.Lock()
	e.resetTokens[token] = c
	e.mu.Unlock()
}

// removeResetToken forgets token, which c no longer honours.
func (e *Endpoint) removeResetToken(token [packet.StatelessResetTokenLen]byte, c *Conn) {
	e.mu.Lock()
	if e.resetTokens[token] == c {
		delete(e.resetTokens, token)
	}
	e.mu.Unlock()
}

// closedConn is the closing or draining period of a connection that ended
// (RFC 9000 §10.2): until its end, packets to the connection's IDs are
// answered with its CONNECTION_CLOSE datagram, at most once per RTT
// (closing), or absorbed (draining, or no close was sent). Anyone can name
// a connection ID, so the answers obey the anti-amplification limit: to
// the peer's address, if never validated, three times what came from it
// in all; to any other address (a peer that moved as we closed, or an
// attacker's victim), three times the datagram answered.
type closedConn struct {
	packet   []byte
	to       netip.AddrPort
	until    time.Time
	interval time.Duration
	lastSent time.Time
	// budget is what may still be sent to an unvalidated peer address:
	// three times its bytes received, less those sent. Negative: no limit.
	budget int64
}

// answer says what to send for a packet of n bytes from from that reached
// the closed connection at now, and where, if anything. Endpoint.mu is
// held.
func (cc *closedConn) answer(from netip.AddrPort, n int, now time.Time) ([]byte, netip.AddrPort) {
	if cc.packet == nil || now.After(cc.until) {
		return nil, netip.AddrPort{}
	}
	size := int64(len(cc.packet))
	fits := size <= 3*int64(n)
	if from == cc.to && cc.budget >= 0 {
		cc.budget += 3 * int64(n)
		fits = size <= cc.budget
	} else if from == cc.to {
		fits = true
	}
	if !fits || now.Sub(cc.lastSent) < cc.interval {
		return nil, netip.AddrPort{}
	}
	if from == cc.to && cc.budget >= 0 {
		cc.budget -= size
	}
	cc.lastSent = now
	return cc.packet, from
}

// connDone forgets a connection whose loop has ended, keeping its closing
// or draining period. A private endpoint closes its socket with its
// connection, once that period is over.
func (e *Endpoint) connDone(c *Conn, now time.Time) {
	ids := make([]packet.ConnectionID, 0, len(c.ids.local)+2)
	ids = append(ids, c.ids.localCID)
	for _, l := range c.ids.local {
		ids = append(ids, l.cid)
	}
	if c.ids.clientDCID.Len() > 0 {
		ids = append(ids, c.ids.clientDCID)
	}
	var rec *closedConn
	if period := c.lifetime.closeUntil.Sub(now); period > 0 {
		rec = &closedConn{
			packet: c.lifetime.closePacket, to: c.path.peer, until: c.lifetime.closeUntil,
			interval: max(c.loss.rtt.Smoothed(), time.Millisecond), lastSent: now,
			budget: -1,
		}
		if !c.path.validated {
			rec.budget = max(0, 3*c.path.bytesRecv-c.path.bytesSent)
		}
	}
	e.mu.Lock()
	for _, cid := range ids {
		if e.conns[cid] == c {
			delete(e.conns, cid)
			if rec != nil {
				e.closedIDs[cid] = rec
			}
		}
	}
	for _, r := range c.ids.remote {
		if r.hasTok && e.resetTokens[r.token] == c {
			delete(e.resetTokens, r.token)
		}
	}
	if e.live[c] {
		delete(e.live, c)
		e.accept.connDone(c)
	}
	delete(e.dialing, c)
	last := e.private && len(e.live) == 0
	if last {
		e.closed = true
	}
	e.mu.Unlock()
	switch {
	case rec != nil:
		time.AfterFunc(rec.until.Sub(now), func() {
			e.mu.Lock()
			for _, cid := range ids {
				if e.closedIDs[cid] == rec {
					delete(e.closedIDs, cid)
				}
			}
			e.mu.Unlock()
			if last {
				e.bind().Close()
			}
		})
	case last:
		e.bind().Close()
	}
}

// abortAll ends every connection at once, on its own loop: the socket is
// gone.
func (e *Endpoint) abortAll(err error) {
	for _, c := range e.liveConns() {
		c.run(context.Background(), func(time.Time) { c.abort(err) })
	}
}

func (e *Endpoint) liveConns() []*Conn {
	e.mu.Lock()
	defer e.mu.Unlock()
	conns := make([]*Conn, 0, len(e.live))
	for c := range e.live {
		conns = append(conns, c)
	}
	return conns
}

// Close closes every connection of the endpoint (with NO_ERROR, and no
// closing period: the socket is going), then the socket, and waits for
// their goroutines to exit.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.closedCh)
	e.mu.Unlock()
	e.stopHandshakes()
	conns := e.liveConns()
	for _, c := range conns {
		c.closeForShutdown()
	}
	for _, c := range conns {
		<-c.done
	}
	err := e.bind().Close()
	e.mu.Lock()
	end := e.readerEnd
	e.mu.Unlock()
	<-end
	return err
}

// newConnID returns a fresh random connection ID of the length limpet
// endpoints issue.
func newConnID() packet.ConnectionID {
	var b [packet.DefaultConnIDLen]byte
	rand.Read(b[:])
	cid, _ := packet.NewConnectionID(b[:])
	return cid
}
