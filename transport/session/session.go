package session

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
)

// Session is a set of streams that outlives the connections carrying it.
// It is carried by one connection at a time; when that connection ends,
// the client reconnects by itself and every stream carries on at the
// byte the peer application had read, nothing lost and nothing delivered
// twice (docs/PROTOCOL.md section 13). Meanwhile reads wait, and writes
// are buffered up to Config.MaxBuffered.
type Session struct {
	cfg      Config
	isClient bool
	listener *Listener // on a server

	id        [idLen]byte
	secret    []byte // resumption secret, exported from the first connection
	clientKey crypto.PublicKey

	// resumeMu serialises resumptions, and a resumption with Close.
	resumeMu sync.Mutex
	// ctrlMu serialises writes to the control stream.
	ctrlMu sync.Mutex
	// ctrlReadMu is held across reading a control message and acting on
	// it, so that a resumption, which waits for it, sees every message
	// the peer was told this end read.
	ctrlReadMu sync.Mutex

	mu   sync.Mutex
	conn *transport.Conn // nil while no connection carries the session
	// lastStats are the statistics of the last connection that carried
	// the session, kept when it ends (not the connection, whose buffers
	// a suspended session must not hold).
	lastStats transport.ConnStats
	ctrl      *control
	// ctrlConsumed is how much of what this end wrote on ctrl the peer's
	// session has read.
	ctrlConsumed int64
	// gen numbers the connections: it grows when one starts or ends to
	// carry the session, and carriers of an older generation are dead.
	gen uint64
	// wake is closed and replaced when anything session-wide changes:
	// a connection comes or goes, buffer space or a stream slot frees,
	// a stream arrives, the session ends.
	wake chan struct{}

	streams      map[uint64]*Stream
	opened, seen uint64 // see endState
	myOpen       int    // this end's streams not yet finished
	// peerReading counts the peer's streams this end has not finished
	// reading. The peer counts its open streams against max_streams
	// until it has this end's RECV_DONE, so this is the count the limit
	// binds: a stream finished here may still be open there, and the
	// peer may have forgotten one this end still holds for writing.
	peerReading    int
	peerMaxStreams int
	acceptQ        []*Stream
	pendingOpen    []*Stream // this end's streams waiting for a carrier
	buffered       int64

	lostAt     time.Time // when the last connection ended
	localAddr  net.Addr
	remoteAddr net.Addr
	err        error // why the session ended; nil while it lives
	done       chan struct{}
	ctx        context.Context // cancelled when the session ends
	cancel     context.CancelFunc
	stats      Stats

	// Client only: the configuration every connection is dialled with.
	tcfg *transport.Config

	// Server only, guarded by the listener's mu: the suspended-session
	// list's bookkeeping.
	suspendedAt   time.Time
	suspElem      *list.Element
	suspFootprint int64
	expiry        *time.Timer
}

func newSession(cfg Config, isClient bool) *Session {
	ctx, cancel := context.WithCancel(context.Background())
	return &Session{
		cfg:      cfg,
		isClient: isClient,
		wake:     make(chan struct{}),
		streams:  make(map[uint64]*Stream),
		done:     make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
	}
}

// wakeLocked wakes every goroutine waiting on s.wake.
func (s *Session) wakeLocked() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// ID identifies the session; it is the same on both ends.
func (s *Session) ID() [16]byte { return s.id }

// Done is closed when the session ends.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is why the session ended: a *ClosedError, a *LostError; nil while
// it lives.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Connected says whether a connection carries the session now.
func (s *Session) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil
}

// RemoteKey is the peer's static public key: the client's on a server,
// the pinned server key on a client.
func (s *Session) RemoteKey() crypto.PublicKey {
	if s.isClient {
		return s.tcfg.ServerKey
	}
	return s.clientKey
}

// ConnStats are the statistics of the connection that carries the
// session now, or carried it last.
func (s *Session) ConnStats() transport.ConnStats {
	s.mu.Lock()
	c, last := s.conn, s.lastStats
	s.mu.Unlock()
	if c == nil {
		return last
	}
	return c.Stats()
}

// LocalAddr and RemoteAddr are the addresses of the connection that
// carries the session now, or carried it last.
func (s *Session) LocalAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.localAddr
}

func (s *Session) RemoteAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.remoteAddr
}

// streamID is the ID of a session stream: opener's sequence number
// shifted left, low bit set when the server opened it.
func streamID(seq uint64, byServer bool) uint64 {
	id := seq << 1
	if byServer {
		id |= 1
	}
	return id
}

// mine says this end opened stream id.
func (s *Session) mine(id uint64) bool { return (id&1 == 0) == s.isClient }

// OpenStream opens a stream. It waits while the peer's limit on open
// streams is reached; it does not wait for a connection, and the stream
// reaches the peer when one carries the session.
func (s *Session) OpenStream(ctx context.Context) (*Stream, error) {
	s.mu.Lock()
	for s.err == nil && s.myOpen >= s.peerMaxStreams {
		ch := s.wake
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		s.mu.Lock()
	}
	if s.err != nil {
		s.mu.Unlock()
		return nil, s.err
	}
	st := newStream(s, streamID(s.opened, !s.isClient))
	s.opened++
	s.myOpen++
	s.streams[st.id] = st
	if s.conn != nil {
		s.pendingOpen = append(s.pendingOpen, st)
		s.wakeLocked()
	}
	suspended := s.listener != nil && s.conn == nil
	s.mu.Unlock()
	if suspended {
		s.listener.grew(s, streamFootprint)
	}
	return st, nil
}

// AcceptStream waits for the peer's next stream.
func (s *Session) AcceptStream(ctx context.Context) (*Stream, error) {
	s.mu.Lock()
	for len(s.acceptQ) == 0 {
		if s.err != nil {
			err := s.err
			s.mu.Unlock()
			return nil, err
		}
		ch := s.wake
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		s.mu.Lock()
	}
	st := s.acceptQ[0]
	s.acceptQ[0] = nil
	s.acceptQ = s.acceptQ[1:]
	s.mu.Unlock()
	return st, nil
}

// Close ends the session on both ends, as CloseWithError(0, "").
func (s *Session) Close() error { return s.CloseWithError(0, "") }

// CloseWithError ends the session: its connection closes with code and
// reason, the peer's session ends with a *ClosedError, and data the peer
// application has not read is dropped (wait for it with
// Stream.WaitConsumed first). A client whose session has no connection
// closes only its own end; the server forgets the session when its
// lifetime passes.
func (s *Session) CloseWithError(code transport.ApplicationErrorCode, reason string) error {
	s.cancel() // ends a resumption in progress, which holds resumeMu
	s.resumeMu.Lock()
	defer s.resumeMu.Unlock()
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return nil
	}
	conn := s.conn
	s.endLocked(&ClosedError{Code: code, Reason: reason})
	s.mu.Unlock()
	if conn != nil {
		conn.CloseWithError(codeSessionClosed, encodeCloseReason(code, reason))
	}
	s.forget()
	return nil
}

// encodeCloseReason carries the application's code in the connection's
// close reason, since the connection's own code says "session closed".
func encodeCloseReason(code transport.ApplicationErrorCode, reason string) string {
	return strconv.FormatUint(uint64(code), 10) + ":" + reason
}

func decodeCloseReason(r string) (transport.ApplicationErrorCode, string) {
	num, reason, ok := strings.Cut(r, ":")
	code, err := strconv.ParseUint(num, 10, 64)
	if !ok || err != nil {
		return 0, r
	}
	return transport.ApplicationErrorCode(code), reason
}

// forget removes an ended session from its listener.
func (s *Session) forget() {
	if s.listener != nil {
		s.listener.remove(s)
	}
}

// endLocked ends the session with err.
func (s *Session) endLocked(err error) {
	if s.err != nil {
		return
	}
	s.err = err
	s.detachLocked()
	for _, st := range s.streams {
		st.wakeLocked()
	}
	s.pendingOpen = nil
	close(s.done)
	s.cancel()
	s.wakeLocked()
}

// lose ends the session with a *LostError carrying every stream's
// figures.
func (s *Session) lose(cause error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	conn := s.conn
	s.detachLocked()
	s.mu.Unlock()
	if conn != nil {
		conn.CloseWithError(codeProtocol, cause.Error())
	}
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.collectWireLocked()
	le := &LostError{Err: cause, Streams: s.deliveriesLocked()}
	s.endLocked(le)
	s.mu.Unlock()
	s.forget()
	s.event(Event{Kind: EventLost, Err: le})
}

// deliveriesLocked lists how far every unfinished stream got.
func (s *Session) deliveriesLocked() []StreamDelivery {
	var out []StreamDelivery
	for _, st := range s.streams {
		out = append(out, st.deliveryLocked())
	}
	slices.SortFunc(out, func(a, b StreamDelivery) int { return cmpUint(a.StreamID, b.StreamID) })
	return out
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Session) event(e Event) {
	if s.cfg.OnEvent == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Session = s
	s.cfg.OnEvent(e)
}

// snapshotLocked is this end's state for a resumption. The session must
// be detached, so that no read moves an offset until the state is
// applied on both ends.
func (s *Session) snapshotLocked() endState {
	es := endState{opened: s.opened, seen: s.seen}
	for _, st := range s.streams {
		es.streams = append(es.streams, streamState{
			id:       st.id,
			readOff:  uint64(st.readOff),
			recvDone: st.recvDone,
			stop:     st.stop,
		})
	}
	slices.SortFunc(es.streams, func(a, b streamState) int { return cmpUint(a.id, b.id) })
	return es
}

// applyPeerStateLocked takes in the peer's state at a resumption:
// drops what the peer application has read, and finishes what it has
// finished.
func (s *Session) applyPeerStateLocked(ps endState) error {
	if ps.seen > s.opened {
		return fmt.Errorf("%w: peer has seen %d of this end's %d streams", errProtocol, ps.seen, s.opened)
	}
	if ps.opened < s.seen {
		return fmt.Errorf("%w: peer opened %d streams, this end saw %d", errProtocol, ps.opened, s.seen)
	}
	listed := make(map[uint64]streamState, len(ps.streams))
	for _, e := range ps.streams {
		listed[e.id] = e
		if st := s.streams[e.id]; st == nil {
			seq := e.id >> 1
			if s.mine(e.id) && seq >= s.opened {
				return fmt.Errorf("%w: peer lists stream %d, never opened", errProtocol, e.id)
			}
		}
	}
	for id, st := range s.streams {
		e, ok := listed[id]
		switch {
		case ok:
			if int64(e.readOff) > st.buf.end || int64(e.readOff) < st.consumed {
				return fmt.Errorf("%w: peer read stream %d to %d, outside [%d, %d]", errProtocol, id, e.readOff, st.consumed, st.buf.end)
			}
			st.onConsumedLocked(int64(e.readOff))
			if e.recvDone {
				st.onPeerRecvDoneLocked(e.stop, int64(e.readOff))
			}
		case s.mine(id) && id>>1 >= ps.seen:
			// The peer never heard of it: it gets all of it.
		default:
			// The peer finished it both ways and forgot it, which it
			// does only once it knows this end read its RECV_DONE and
			// it read this end's: so this end knows how the peer
			// finished reading, and the peer knows this end finished.
			if !st.recvDone || !st.sendDone {
				return fmt.Errorf("%w: peer forgot stream %d that this end has not finished", errProtocol, id)
			}
			st.doneAcked = true
		}
	}
	for _, st := range s.streams {
		st.maybeRetireLocked()
	}
	return nil
}

// stateForResume is this end's state for a resumption, taken once every
// read from a carrier of the ended connection has been counted.
func (s *Session) stateForResume() endState {
	s.mu.Lock()
	sts := make([]*Stream, 0, len(s.streams))
	for _, st := range s.streams {
		sts = append(sts, st)
	}
	s.mu.Unlock()
	for _, st := range sts {
		st.readMu.Lock()
		//lint:ignore SA2001 a barrier: waits for a read in progress
		st.readMu.Unlock()
	}
	s.ctrlReadMu.Lock()
	//lint:ignore SA2001 a barrier: waits for a control message being acted on
	s.ctrlReadMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshotLocked()
}

// resentLocked is the data a resumption sends again: sent before, not
// read by the peer application.
func (s *Session) resentLocked() int64 {
	var n int64
	for _, st := range s.streams {
		if !st.hasReset && !st.sendDone {
			n += max(0, st.wireSent-st.consumed)
		}
	}
	return n
}

// attachLocked makes conn carry the session, with ctrl its control
// stream on which this end has written sent bytes. The caller starts the
// connection's goroutines with start afterwards.
func (s *Session) attachLocked(conn *transport.Conn, ctrl *transport.Stream, sent int64) uint64 {
	s.gen++
	s.conn = conn
	s.ctrl = &control{st: ctrl, gen: s.gen, sent: sent}
	s.ctrlConsumed = 0
	s.localAddr, s.remoteAddr = conn.LocalAddr(), conn.RemoteAddr()
	s.pendingOpen = s.pendingOpen[:0]
	for _, st := range s.streams {
		if s.mine(st.id) {
			s.pendingOpen = append(s.pendingOpen, st)
		}
	}
	slices.SortFunc(s.pendingOpen, func(a, b *Stream) int { return cmpUint(a.id, b.id) })
	s.stats.Connections++
	s.wakeLocked()
	return s.gen
}

// collectWireLocked takes in how far every stream got on the wire on
// the connection that ended.
func (s *Session) collectWireLocked() {
	for _, st := range s.streams {
		st.collectWireLocked()
	}
}

// detachLocked stops the current connection carrying the session.
func (s *Session) detachLocked() {
	if s.conn == nil {
		return
	}
	s.gen++
	s.lastStats = s.conn.Stats()
	s.conn, s.ctrl = nil, nil
	s.pendingOpen = nil
	s.lostAt = time.Now()
	for _, st := range s.streams {
		st.detachLocked()
	}
	s.wakeLocked()
}

// watch waits for the connection to end.
func (s *Session) watch(conn *transport.Conn, gen uint64) {
	<-conn.Done()
	s.connLost(conn, gen, conn.Err())
}

// connLost handles the end of a connection that carried the session.
func (s *Session) connLost(conn *transport.Conn, gen uint64, cause error) {
	s.mu.Lock()
	if s.gen != gen || s.err != nil {
		s.mu.Unlock()
		return
	}
	var ae *transport.ApplicationError
	if errors.As(cause, &ae) && ae.Remote && ae.Code == codeSessionClosed {
		code, reason := decodeCloseReason(ae.Reason)
		s.endLocked(&ClosedError{Code: code, Reason: reason, Remote: true})
		s.mu.Unlock()
		s.forget()
		return
	}
	s.detachLocked()
	s.collectWireLocked()
	s.stats.ConnectionLosses++
	s.mu.Unlock()
	s.event(Event{Kind: EventConnectionLost, Err: cause})
	if s.isClient {
		go s.reconnect()
	} else if s.listener != nil {
		// A resumption may have carried the session on meanwhile.
		s.resumeMu.Lock()
		s.mu.Lock()
		idle := s.conn == nil && s.err == nil
		s.mu.Unlock()
		if idle {
			s.listener.suspend(s)
		}
		s.resumeMu.Unlock()
	}
}

// protocolError ends the session for a peer's breach of the protocol.
func (s *Session) protocolError(err error) {
	if !errors.Is(err, errProtocol) {
		err = fmt.Errorf("%w: %w", errProtocol, err)
	}
	s.lose(err)
}

// openCarriers opens a carrier for each of this end's streams in turn,
// on one connection.
func (s *Session) openCarriers(conn *transport.Conn, gen uint64) {
	ctx := conn.Context()
	for {
		s.mu.Lock()
		for s.gen == gen && len(s.pendingOpen) == 0 {
			ch := s.wake
			s.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return
			}
			s.mu.Lock()
		}
		if s.gen != gen {
			s.mu.Unlock()
			return
		}
		st := s.pendingOpen[0]
		s.pendingOpen = s.pendingOpen[1:]
		retired := st.retired
		s.mu.Unlock()
		if retired {
			continue
		}
		c, err := conn.OpenStream(ctx)
		if err != nil {
			return
		}
		if _, err := c.Write(appendCarrierHeader(nil, st.id)); err != nil {
			return
		}
		st.attach(c, gen, carrierHeaderLen)
	}
}

// preambleTimeout bounds the wait for a carrier's first bytes.
const preambleTimeout = 10 * time.Second

// acceptCarriers takes the peer's carriers on one connection.
func (s *Session) acceptCarriers(conn *transport.Conn, gen uint64) {
	ctx := conn.Context()
	for {
		c, err := conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		go s.takeCarrier(c, gen)
	}
}

// takeCarrier reads a carrier's preamble and attaches it to its stream,
// opening the stream (and any lower-numbered ones of the peer's not yet
// seen) if it is new.
func (s *Session) takeCarrier(c *transport.Stream, gen uint64) {
	var hdr [carrierHeaderLen]byte
	c.SetReadDeadline(time.Now().Add(preambleTimeout))
	_, err := readFull(c, hdr[:])
	c.SetReadDeadline(time.Time{})
	if err != nil {
		c.CancelRead(0)
		c.CancelWrite(0)
		return
	}
	id, err := parseCarrierHeader(hdr[:])
	if err != nil {
		s.protocolError(err)
		return
	}
	s.mu.Lock()
	if s.gen != gen {
		s.mu.Unlock()
		c.CancelRead(0)
		c.CancelWrite(0)
		return
	}
	if s.mine(id) {
		s.mu.Unlock()
		s.protocolError(fmt.Errorf("peer opened a carrier for this end's stream %d", id))
		return
	}
	st, err := s.streamForPeerLocked(id)
	if st == nil {
		s.mu.Unlock()
		c.CancelRead(0)
		c.CancelWrite(0)
		if err != nil {
			s.protocolError(err)
		}
		return
	}
	s.mu.Unlock()
	st.attach(c, gen, 0)
}

// Stats are a session's counters.
type Stats struct {
	// Connections counts the connections that have carried the session.
	Connections int
	// ConnectionLosses counts those that ended under it.
	ConnectionLosses int
	// Resumptions counts successful resumptions, ReconnectAttempts every
	// attempt (client).
	Resumptions       int
	ReconnectAttempts int
	// BytesResent is data sent again after resumptions: sent on an
	// earlier connection, not read by the peer application before it
	// ended.
	BytesResent int64
	// Buffered is the data written and not yet read by the peer
	// application, kept for a resend.
	Buffered int64
	// Streams counts the streams not yet finished.
	Streams int
}

// Stats returns the session's counters.
func (s *Session) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Buffered = s.buffered
	st.Streams = len(s.streams)
	return st
}
