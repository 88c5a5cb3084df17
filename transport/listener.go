package transport

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// acceptQueue is an accepting endpoint's handshakes in progress and
// confirmed connections not yet accepted; Endpoint.mu guards it.
type acceptQueue struct {
	queue []*Conn       // confirmed connections not yet accepted
	ready chan struct{} // closed and replaced when queue grows
	// handshakes counts server connections not yet confirmed, and those a
	// handshake worker is creating. Initials waiting for the workers do not
	// count (the queue bounds them), so that a flood of junk in the queue
	// takes no slot from the clients behind it.
	handshakes int
	// unvalidated counts the handshakes in progress that did not come
	// through a Retry: the ones a spoofed source address can create. While
	// they fill half of MaxHandshakes, new clients get a Retry.
	unvalidated int
	admission
}

// handshakeDone gives back an accepted connection's handshake slot, once:
// the handshake was confirmed, or the connection ended, whichever came
// first (a connection can end in the loop iteration that confirmed it,
// before it reaches the accept queue).
func (q *acceptQueue) handshakeDone(c *Conn) {
	if !c.hs.holdsSlot {
		return
	}
	c.hs.holdsSlot = false
	q.handshakes--
	if !c.hs.retried {
		q.unvalidated--
	}
	q.use(c.hs.source).handshakes--
	q.tidy(c.hs.source)
}

// connDone forgets a connection of the accepting endpoint that ended.
func (q *acceptQueue) connDone(c *Conn) {
	q.handshakeDone(c)
	if c.isServer {
		q.use(c.hs.source).conns--
		q.tidy(c.hs.source)
	}
}

// handshakeQueueLen is how many Initials wait for the handshake workers.
// Beyond it they are dropped: under a flood, established connections keep
// their reader and new clients retransmit message 1. Deep enough to ride
// out the bursts of a flood of junk, which a worker sheds at a few
// microseconds each (1024 of them wait about 7 ms, in 1.5 MB of buffers);
// Diffie-Hellman work waits behind at most deepQueue others.
const handshakeQueueLen = 1024

// spentTokensCap bounds the Retry tokens remembered as used: more than a
// token lifetime's worth of handshakes at thousands per second.
const spentTokensCap = 1 << 16

// maxDuplicateInitials bounds the copies of one client's first Initial held
// while its handshake is queued or running (a network that duplicates
// datagrams, or a client retransmitting).
const maxDuplicateInitials = 4

// pendingInitial is a client's first Initial on its way through the
// handshake workers, and the copies of it that arrived meanwhile. Each copy
// gets the same answer as the first: message 2 from the new connection, or
// the same Retry or refusal (docs/PROTOCOL.md section 4.5).
type pendingInitial struct {
	dups []*rxDatagram
}

// handshakeJob is a client's first Initial for a handshake worker. full
// says the endpoint, or the client's source, has no room for another
// connection: the client is told so once its address is validated.
type handshakeJob struct {
	rx   *rxDatagram
	full bool
}

// serverFull is the refusal a client over a connection limit gets.
var serverFull = packet.ConnectionCloseFrame{ErrorCode: uint64(packet.ConnectionRefused), Reason: []byte("server full: too many connections")}

// initAccept makes e accept connections configured by cfg.
func (e *Endpoint) initAccept(cfg *Config) error {
	conf := cfg.withDefaults()
	if conf.PrivateKey.IsZero() {
		return fmt.Errorf("%w: an accepting endpoint needs Config.PrivateKey", ErrInvalidConfig)
	}
	if err := conf.validate(); err != nil {
		return err
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
		return fmt.Errorf("limpet: listen: %w", err)
	}
	e.lcfg = &conf
	e.room.limit = conf.MaxUnsentBytes
	e.hs = hs
	e.pub = conf.PrivateKey.Public()
	// Derived from the static key, so that every server holding it, and a
	// restarted one, honours its Retry tokens; reset tokens also depend on
	// the instance, so that a restarted server resets connections it has
	// forgotten but never another's (docs/PROTOCOL.md 4.7).
	var k [32]byte
	copy(k[:], crypto.ExpandLabel(conf.PrivateKey[:], "stateless reset key", 32))
	e.retryKey = crypto.NewTokenProtector(k)
	e.resetKey = crypto.NewTokenProtector(crypto.InstanceSecret(k, e.instanceID(conf.InstanceID)))
	e.hsJobs = make(chan handshakeJob, handshakeQueueLen)
	e.spentTokens = crypto.NewSpentTokens(spentTokensCap)
	workers := max(1, runtime.GOMAXPROCS(0)/2)
	e.workers.Add(workers)
	for range workers {
		go e.handshakeWorker()
	}
	return nil
}

// instanceID names this listener among those holding its key: the
// configured one, or else the host's name and the socket's address, which
// a server restarted in place keeps and another server does not share.
func (e *Endpoint) instanceID(configured string) string {
	if configured != "" {
		return configured
	}
	host, _ := os.Hostname()
	return host + " " + e.bind().LocalAddr().String()
}

// stopHandshakes ends the handshake workers; Initials still queued are
// dropped.
func (e *Endpoint) stopHandshakes() {
	if e.hsJobs == nil {
		return
	}
	close(e.hsJobs)
	e.workers.Wait()
}

// Accept waits for a connection whose handshake has been confirmed.
func (e *Endpoint) Accept(ctx context.Context) (*Conn, error) {
	if !e.accepting() {
		return nil, fmt.Errorf("%w: Accept on an endpoint made without a configuration for accepted connections", ErrInvalidConfig)
	}
	for {
		e.mu.Lock()
		if len(e.accept.queue) > 0 {
			c := e.accept.queue[0]
			e.accept.queue[0] = nil
			e.accept.queue = e.accept.queue[1:]
			e.mu.Unlock()
			if c.Err() != nil {
				continue // it ended before anyone accepted it
			}
			return c, nil
		}
		if e.closed {
			e.mu.Unlock()
			return nil, ErrListenerClosed
		}
		ready := e.accept.ready
		e.mu.Unlock()
		select {
		case <-ready:
		case <-e.closedCh:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// enqueue makes a confirmed connection available to Accept.
func (e *Endpoint) enqueue(c *Conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.live[c] {
		return
	}
	e.accept.handshakeDone(c)
	e.accept.queue = append(e.accept.queue, c)
	close(e.accept.ready)
	e.accept.ready = make(chan struct{})
}

// routeInitial queues a long-header datagram that matches no connection for
// the handshake workers, after the checks that cost nothing: its size, its
// header, and room for another handshake. Copies of an Initial already on
// its way join it (docs/PROTOCOL.md section 4.5).
func (e *Endpoint) routeInitial(b []byte, dcid packet.ConnectionID, from netip.AddrPort, meta rxMeta, now time.Time) {
	if len(b) < packet.MinInitialDatagramSize {
		e.drop(&e.stats.badInitials, len(b), dropInvalid)
		return
	}
	h, err := packet.ParseLongHeader(b)
	if err != nil || h.Type != packet.LongTypeInitial || h.Version != packet.Version || h.DstConnID.Len() < packet.DefaultConnIDLen {
		e.drop(&e.stats.badInitials, len(b), dropInvalid)
		return
	}
	e.mu.Lock()
	if p := e.pending[dcid]; p != nil {
		if len(p.dups) < maxDuplicateInitials {
			p.dups = append(p.dups, newRxDatagram(b, from, meta, now))
		}
		e.mu.Unlock()
		return
	}
	cfg := e.lcfg
	var use sourceUse
	if u := e.accept.bySource[sourceOf(from)]; u != nil {
		use = *u
	}
	if e.closed || e.accept.handshakes >= cfg.MaxHandshakes || use.handshakes >= cfg.MaxHandshakesPerSource {
		// Slots free up within a few seconds; the client retransmits.
		e.mu.Unlock()
		e.drop(&e.stats.refused, len(b), dropRejected)
		return
	}
	// Only connections count against a source: a queued Initial may come
	// from a spoofed address, and must not use up its owner's share.
	full := len(e.live) >= cfg.MaxConns || use.conns >= cfg.MaxConnsPerSource
	// Sent under the lock that Close takes to mark the endpoint closed
	// before it closes the queue.
	select {
	case e.hsJobs <- handshakeJob{rx: newRxDatagram(b, from, meta, now), full: full}:
		e.pending[dcid] = &pendingInitial{}
		deep := len(e.hsJobs) > deepQueue
		e.mu.Unlock()
		if deep {
			// On a busy core the reader would run its whole time slice
			// and fill the queue before a worker ran: let one drain it.
			runtime.Gosched()
		}
	default:
		e.mu.Unlock()
		e.drop(&e.stats.handshakesShed, len(b), dropRejected)
	}
}

// finishPending ends the pending handshake for dcid. With c, the handshake
// created c: copies of the Initial that arrived meanwhile go to it. Without
// c, each copy gets answer, if any, as the first did.
func (e *Endpoint) finishPending(dcid packet.ConnectionID, c *Conn, answer []byte) {
	e.mu.Lock()
	p := e.pending[dcid]
	delete(e.pending, dcid)
	e.mu.Unlock()
	if p == nil {
		return
	}
	for _, rx := range p.dups {
		switch {
		case c != nil:
			c.deliver(rx)
			continue
		case answer != nil && len(answer) < rx.n:
			e.bind().WriteBatch([]Datagram{{Buf: answer, N: len(answer), Addr: rx.from}})
		}
		rx.release()
	}
}

func (e *Endpoint) handshakeWorker() {
	defer e.workers.Done()
	n := 0
	for job := range e.hsJobs {
		e.handshakeInitial(job)
		job.rx.release()
		if n++; n%16 == 0 {
			// A deep queue of junk would hold the core for a whole time
			// slice (10 ms); established connections go first.
			runtime.Gosched()
		}
	}
}

// handshakeInitial answers a client's first Initial (docs/PROTOCOL.md
// section 4.5) on a handshake worker: it opens the packet, checks a Retry
// token or sends a Retry (section 2.2), and otherwise runs the server's
// half of the handshake, which creates the connection. The Noise work
// happens only after one AEAD check, and before it the connection has no
// state. Under load (admission.go) it is done only for clients that came
// through a Retry, each token once, and at a bounded rate per source.
func (e *Endpoint) handshakeInitial(job handshakeJob) {
	rx := job.rx
	b := rx.buf[:rx.n]
	h, _ := packet.ParseLongHeader(b) // parsed by routeInitial
	dcid := h.DstConnID
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		e.finishPending(dcid, nil, nil)
		return
	}
	in, err := openFirstInitial(e.pub, b[:h.PacketLen], h)
	if err != nil {
		e.drop(&e.stats.badInitials, len(b), dropDecryptionFailure)
		e.finishPending(dcid, nil, nil)
		return
	}
	in.from, in.now, in.datagramLen = rx.from, rx.at, rx.n
	in.local = rx.local
	if in.refusal != nil {
		// The Initial opened, so its sender knows our key; it is told why
		// it failed, in a datagram far smaller than its own.
		e.stats.badInitials.Add(1)
		e.answerInitial(in, dcid, in.refusal)
		return
	}
	src := sourceOf(rx.from)
	reserved := false
	e.mu.Lock()
	wantRetry := e.lcfg.RequireAddressValidation || 2*e.accept.unvalidated >= e.lcfg.MaxHandshakes ||
		e.accept.underLoad(rx.at) || len(e.hsJobs) > deepQueue || job.full
	e.mu.Unlock()
	if len(h.Token) > 0 {
		token, odcid, ok := e.checkRetryToken(h.Token, rx.from, rx.at)
		if !ok {
			e.drop(&e.stats.tokensRejected, len(b), dropRejected)
			e.finishPending(dcid, nil, nil)
			return
		}
		if job.full {
			// The address is validated, so the refusal goes where the
			// client is and cannot be aimed at anyone else.
			e.stats.refused.Add(1)
			e.answerInitial(in, dcid, &serverFull)
			return
		}
		e.mu.Lock()
		allowed := e.accept.allowWork(src, rx.at)
		e.mu.Unlock()
		if !allowed {
			e.drop(&e.stats.handshakesShed, len(b), dropRejected)
			e.finishPending(dcid, nil, nil)
			return
		}
		// The slot first: a token spent on an Initial then dropped for
		// want of a slot would strand its client, whose retransmissions
		// carry the same token.
		if !e.reserveHandshake(src) {
			e.drop(&e.stats.refused, len(b), dropRejected)
			e.finishPending(dcid, nil, nil)
			return
		}
		reserved = true
		if !e.spentTokens.Spend(token, crypto.DefaultRetryTokenLifetime, rx.at) {
			e.releaseHandshake(src)
			e.drop(&e.stats.tokensRejected, len(b), dropRejected)
			e.finishPending(dcid, nil, nil)
			return
		}
		in.origDCID, in.retried = odcid, true
	} else if wantRetry {
		// Only an Initial that opened with this server's keys gets a
		// Retry, so the server stays silent towards anyone who does not
		// know its key.
		retry := e.retryPacket(h, rx.from, rx.at)
		e.send(retry, rx.from, rx.local)
		e.stats.retriesSent.Add(1)
		e.finishPending(dcid, nil, retry)
		return
	}
	if !reserved && !e.reserveHandshake(src) {
		e.drop(&e.stats.refused, len(b), dropRejected)
		e.finishPending(dcid, nil, nil)
		return
	}
	c, refusal := acceptConn(e, in)
	if c == nil {
		e.stats.handshakesRejected.Add(1)
		e.releaseHandshake(src)
		if !in.replayed {
			// Only failures that cost the Diffie-Hellman work signal
			// load; a replay is caught before it.
			e.mu.Lock()
			e.accept.handshakeFailed(rx.at)
			e.mu.Unlock()
		}
		if l := e.lcfg.Logger; l != nil && l.Enabled(context.Background(), slog.LevelDebug) {
			reason := "replayed or unreadable client hello"
			if refusal != nil {
				reason = string(refusal.Reason)
			}
			l.LogAttrs(context.Background(), slog.LevelDebug, "limpet: handshake refused",
				slog.String("from", rx.from.String()), slog.String("reason", reason))
		}
		if refusal != nil {
			e.answerInitial(in, dcid, refusal)
		} else {
			e.finishPending(dcid, nil, nil)
		}
		return
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		e.releaseHandshake(src)
		e.finishPending(dcid, nil, nil)
		c.qlogClosed(ErrListenerClosed) // its loop never runs to end the trace
		return
	}
	if full := len(e.live) >= e.lcfg.MaxConns || e.accept.bySource[src] != nil && e.accept.bySource[src].conns >= e.lcfg.MaxConnsPerSource; full {
		// The limits were checked when the Initial was queued; Initials
		// queued together may since have filled them.
		e.mu.Unlock()
		e.releaseHandshake(src)
		c.qlogClosed(ErrListenerClosed)
		e.stats.refused.Add(1)
		if in.retried {
			e.answerInitial(in, dcid, &serverFull)
		} else {
			retry := e.retryPacket(h, rx.from, rx.at)
			e.send(retry, rx.from, rx.local)
			e.stats.retriesSent.Add(1)
			e.finishPending(dcid, nil, retry)
		}
		return
	}
	e.live[c] = true
	c.hs.holdsSlot = true // the one reserved above
	if !c.hs.retried {
		e.accept.unvalidated++
	}
	e.accept.use(c.hs.source).conns++
	c.ids.clientDCID = dcid
	e.conns[c.ids.localCID] = c
	e.conns[dcid] = c
	e.mu.Unlock()
	e.finishPending(dcid, c, nil)
	go c.loop()
	c.wake()
}

// reserveHandshake takes a handshake slot, the listener's and one of src's,
// for a connection about to be created, if both have room.
func (e *Endpoint) reserveHandshake(src netip.Addr) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	use := e.accept.use(src)
	if e.accept.handshakes >= e.lcfg.MaxHandshakes || use.handshakes >= e.lcfg.MaxHandshakesPerSource {
		e.accept.tidy(src)
		return false
	}
	e.accept.handshakes++
	use.handshakes++
	return true
}

// releaseHandshake gives back a slot reserveHandshake took, for a
// connection that was not created.
func (e *Endpoint) releaseHandshake(src netip.Addr) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.accept.handshakes--
	e.accept.use(src).handshakes--
	e.accept.tidy(src)
}

// answerInitial sends a CONNECTION_CLOSE in an Initial packet to the client
// whose first Initial in carried, and to each copy of it.
func (e *Endpoint) answerInitial(in *firstInitial, dcid packet.ConnectionID, f *packet.ConnectionCloseFrame) {
	h := packet.LongHeader{
		Type: packet.LongTypeInitial, Version: packet.Version,
		DstConnID: in.hdr.SrcConnID, SrcConnID: newConnID(),
	}
	// The answer must be smaller than what provoked it (no amplification),
	// and a reason may quote the client (its application protocols).
	cf := *f
	cf.Reason = cf.Reason[:min(len(cf.Reason), maxCloseReason)]
	var b []byte
	for {
		b = appendInitialClose(make([]byte, 0, 128+len(cf.Reason)), h, in.seal, 0, cf)
		if len(b) < in.datagramLen || len(cf.Reason) == 0 {
			break
		}
		cf.Reason = cf.Reason[:max(0, len(cf.Reason)-(len(b)-in.datagramLen+1))]
	}
	if len(b) >= in.datagramLen {
		e.finishPending(dcid, nil, nil)
		return
	}
	e.send(b, in.from, in.local)
	e.finishPending(dcid, nil, b)
}

// send writes one datagram outside any connection, from local (the
// address the datagram it answers came to; zero lets the system choose).
func (e *Endpoint) send(b []byte, to netip.AddrPort, local netip.Addr) {
	e.bind().WriteBatch([]Datagram{{Buf: b, N: len(b), Addr: to, Local: local}})
}
