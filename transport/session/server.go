package session

import (
	"container/list"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/limpetnet/limpet/transport"
)

// Listener accepts sessions on a transport listener and keeps each one
// for Config.Lifetime after its connection is lost, so that the client
// can resume it.
type Listener struct {
	ln     *transport.Listener
	ownsLn bool
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc

	mu             sync.Mutex
	sessions       map[[idLen]byte]*Session
	suspended      *list.List // *Session, suspended longest ago first
	suspendedBytes int64
	acceptQ        []*Session
	wake           chan struct{}
	err            error
	stats          ListenerStats
	serving        sync.WaitGroup
}

// ListenerStats are a Listener's counters.
type ListenerStats struct {
	Sessions       int   // sessions held, carried or suspended
	Suspended      int   // sessions waiting for their client to come back
	SuspendedBytes int64 // their estimated memory, as MaxSuspendedBytes counts it
	Resumptions    int   // successful resumptions
	Refused        int   // hellos refused
	Expired        int   // suspended sessions whose lifetime passed
	Evicted        int   // suspended sessions dropped to stay within the limits
}

// acceptBacklog bounds new sessions waiting for Accept.
const acceptBacklog = 256

// Listen listens for sessions on addr. tcfg configures the transport
// listener (its PrivateKey is required).
func Listen(addr string, tcfg *transport.Config, cfg *Config) (*Listener, error) {
	c := cfg.withDefaults()
	var t transport.Config
	if tcfg != nil {
		t = *tcfg
	}
	if t.MaxIncomingStreams == 0 {
		t.MaxIncomingStreams = int64(c.MaxStreams) + 1
	}
	ln, err := transport.Listen(addr, &t)
	if err != nil {
		return nil, err
	}
	l := NewListener(ln, &c)
	l.ownsLn = true
	return l, nil
}

// NewListener serves sessions on ln, which it takes over: every
// connection ln accepts is expected to carry a session. Its
// MaxIncomingStreams must exceed cfg.MaxStreams by one.
func NewListener(ln *transport.Listener, cfg *Config) *Listener {
	l := newListener(ln, cfg)
	l.serving.Add(1)
	go l.acceptConns()
	return l
}

func newListener(ln *transport.Listener, cfg *Config) *Listener {
	ctx, cancel := context.WithCancel(context.Background())
	return &Listener{
		ln: ln, cfg: cfg.withDefaults(), ctx: ctx, cancel: cancel,
		sessions:  make(map[[idLen]byte]*Session),
		suspended: list.New(),
		wake:      make(chan struct{}),
	}
}

// Addr is the transport listener's address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Accept waits for a new session. Resumed sessions carry on where they
// were and do not come through Accept again.
func (l *Listener) Accept(ctx context.Context) (*Session, error) {
	l.mu.Lock()
	for len(l.acceptQ) == 0 {
		if l.err != nil {
			err := l.err
			l.mu.Unlock()
			return nil, err
		}
		ch := l.wake
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		l.mu.Lock()
	}
	s := l.acceptQ[0]
	l.acceptQ[0] = nil
	l.acceptQ = l.acceptQ[1:]
	l.mu.Unlock()
	return s, nil
}

// Close ends every session (the peers' end with a *ClosedError) and, if
// Listen made the transport listener, closes it.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.err != nil {
		l.mu.Unlock()
		return nil
	}
	l.err = transport.ErrListenerClosed
	all := make([]*Session, 0, len(l.sessions))
	for _, s := range l.sessions {
		all = append(all, s)
	}
	close(l.wake)
	l.mu.Unlock()
	l.cancel()
	for _, s := range all {
		s.CloseWithError(0, "listener closed")
	}
	var err error
	if l.ownsLn {
		err = l.ln.Close()
	}
	l.serving.Wait()
	return err
}

// Stats returns the listener's counters.
func (l *Listener) Stats() ListenerStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stats
	st.Sessions = len(l.sessions)
	st.Suspended = l.suspended.Len()
	st.SuspendedBytes = l.suspendedBytes
	return st
}

func (l *Listener) acceptConns() {
	defer l.serving.Done()
	for {
		conn, err := l.ln.Accept(l.ctx)
		if err != nil {
			return
		}
		l.serving.Add(1)
		go func() {
			defer l.serving.Done()
			l.serve(conn)
		}()
	}
}

// serve reads a connection's hello and starts or resumes its session.
func (l *Listener) serve(conn *transport.Conn) {
	ctx, cancel := context.WithTimeout(l.ctx, helloTimeout)
	defer cancel()
	ctrl, err := conn.AcceptStream(ctx)
	if err != nil {
		conn.CloseWithError(codeRefusedBase+transport.ApplicationErrorCode(RefusedProtocol), "no session hello")
		return
	}
	ctrl.SetReadDeadline(time.Now().Add(helloTimeout))
	var pre [1]byte
	_, err = readFull(ctrl, pre[:])
	var typ byte
	var payload []byte
	if err == nil && pre[0] == preambleControl {
		typ, payload, err = readMessage(ctrl, maxHelloLen)
	}
	ctrl.SetReadDeadline(time.Time{})
	if err != nil || pre[0] != preambleControl || typ != msgHello {
		l.refuse(conn, RefusedProtocol)
		return
	}
	h, err := parseHello(payload)
	if err != nil {
		l.refuse(conn, RefusedProtocol)
		return
	}
	if h.resume {
		l.resume(conn, ctrl, &h)
	} else {
		l.begin(conn, ctrl, &h)
	}
}

func (l *Listener) refuse(conn *transport.Conn, code RefusalCode) {
	l.mu.Lock()
	l.stats.Refused++
	l.mu.Unlock()
	conn.CloseWithError(codeRefusedBase+transport.ApplicationErrorCode(code), code.String())
}

// begin starts a new session on conn.
func (l *Listener) begin(conn *transport.Conn, ctrl *transport.Stream, h *hello) {
	s := newSession(l.cfg, false)
	s.listener = l
	s.clientKey = conn.RemoteKey()
	s.peerMaxStreams = int(min(h.maxStreams, maxStreamsLimit))
	if _, err := rand.Read(s.id[:]); err != nil {
		l.refuse(conn, RefusedBusy)
		return
	}
	secret, err := conn.ExportKeyingMaterial(labelResumption, s.id[:], 32)
	if err != nil {
		conn.CloseWithError(codeProtocol, "")
		return
	}
	s.secret = secret
	l.mu.Lock()
	if l.err != nil || len(l.acceptQ) >= acceptBacklog {
		l.mu.Unlock()
		l.refuse(conn, RefusedBusy)
		return
	}
	l.sessions[s.id] = s
	l.mu.Unlock()
	w := welcome{id: s.id, maxStreams: uint64(l.cfg.MaxStreams)}
	msg := appendMessage(nil, msgWelcome, w.append(nil))
	if _, err := ctrl.Write(msg); err != nil {
		l.remove(s)
		return
	}
	s.mu.Lock()
	gen := s.attachLocked(conn, ctrl, int64(len(msg)))
	s.mu.Unlock()
	s.start(conn, gen)
	l.mu.Lock()
	if l.err == nil {
		l.acceptQ = append(l.acceptQ, s)
		close(l.wake)
		l.wake = make(chan struct{})
	}
	l.mu.Unlock()
}

// resume carries an existing session on conn, if the client proves it
// holds the session: the same static key that opened it, and its
// resumption secret, bound to this connection.
func (l *Listener) resume(conn *transport.Conn, ctrl *transport.Stream, h *hello) {
	l.mu.Lock()
	s := l.sessions[h.id]
	l.mu.Unlock()
	if s == nil || s.clientKey != conn.RemoteKey() {
		l.refuse(conn, RefusedUnknown)
		return
	}
	want, err := resumptionProof(conn, s.id, s.secret)
	if err != nil {
		conn.CloseWithError(codeProtocol, "")
		return
	}
	if !hmac.Equal(want, h.proof[:]) {
		l.refuse(conn, RefusedProof)
		return
	}
	s.resumeMu.Lock()
	defer s.resumeMu.Unlock()
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		l.refuse(conn, RefusedUnknown)
		return
	}
	old := s.conn
	lostAt := s.lostAt
	if old != nil {
		// The client saw the old connection die before this one did.
		s.detachLocked()
		s.stats.ConnectionLosses++
		lostAt = time.Now()
	}
	s.mu.Unlock()
	if old != nil {
		old.CloseWithError(codeSessionMoved, "session resumed on another connection")
		s.mu.Lock()
		s.collectWireLocked()
		s.mu.Unlock()
		s.event(Event{Kind: EventConnectionLost, Err: errors.New("limpet/session: the client resumed on another connection")})
	}
	l.unsuspend(s)
	state := s.stateForResume()
	if len(state.streams) > maxStateStreams {
		s.protocolError(fmt.Errorf("%d streams held, more than a resumption lists", len(state.streams)))
		conn.CloseWithError(codeProtocol, "")
		return
	}
	// The client's state first, before anything can fail: once this end
	// has read it, the client's receipts say so, and it may forget what
	// the state told.
	s.mu.Lock()
	if err := s.applyPeerStateLocked(h.state); err != nil {
		s.mu.Unlock()
		s.protocolError(err)
		return
	}
	s.mu.Unlock()
	w := welcome{id: s.id, maxStreams: uint64(l.cfg.MaxStreams), state: state}
	msg := appendMessage(nil, msgWelcome, w.append(nil))
	if _, err := ctrl.Write(msg); err != nil {
		l.suspend(s)
		return
	}
	s.mu.Lock()
	s.peerMaxStreams = int(min(h.maxStreams, maxStreamsLimit))
	resent := s.resentLocked()
	gen := s.attachLocked(conn, ctrl, int64(len(msg)))
	// The welcome told the client which streams this end finished
	// reading; they are known there once it has read the welcome.
	for _, e := range state.streams {
		if st := s.streams[e.id]; st != nil && e.recvDone && !st.doneAcked {
			st.doneAckGen, st.doneAckAt = gen, int64(len(msg))
		}
	}
	s.stats.Resumptions++
	s.stats.BytesResent += resent
	s.mu.Unlock()
	l.mu.Lock()
	l.stats.Resumptions++
	l.mu.Unlock()
	s.start(conn, gen)
	s.event(Event{Kind: EventResumed, Resent: resent, Outage: time.Since(lostAt)})
}

// streamFootprint estimates a stream's memory beyond its data, for
// MaxSuspendedBytes.
const (
	sessionFootprint = 4 << 10
	streamFootprint  = 1 << 10
)

// suspend keeps a session whose connection was lost, for its lifetime,
// evicting the longest-suspended sessions past the limits.
func (l *Listener) suspend(s *Session) {
	s.mu.Lock()
	fp := int64(sessionFootprint) + int64(len(s.streams))*streamFootprint + s.buffered
	s.mu.Unlock()
	l.mu.Lock()
	if l.err != nil || l.sessions[s.id] != s || s.suspElem != nil {
		l.mu.Unlock()
		return
	}
	s.suspendedAt = time.Now()
	s.suspFootprint = fp
	s.suspElem = l.suspended.PushBack(s)
	l.suspendedBytes += fp
	s.expiry = time.AfterFunc(l.cfg.Lifetime, func() { l.expire(s) })
	evict := l.evictLocked()
	l.mu.Unlock()
	for _, old := range evict {
		old.lose(ErrEvicted)
	}
}

// evictLocked drops the sessions suspended longest ago until the
// suspended ones are within the limits, and returns them to be ended.
func (l *Listener) evictLocked() []*Session {
	var evict []*Session
	for l.suspended.Len() > l.cfg.MaxSuspended || l.suspendedBytes > l.cfg.MaxSuspendedBytes {
		old := l.suspended.Front().Value.(*Session)
		l.unsuspendLocked(old)
		delete(l.sessions, old.id)
		l.stats.Evicted++
		evict = append(evict, old)
	}
	return evict
}

// grew accounts for n more bytes held by a session, if it is
// suspended: the server application may write to it meanwhile.
func (l *Listener) grew(s *Session, n int64) {
	l.mu.Lock()
	if s.suspElem == nil {
		l.mu.Unlock()
		return
	}
	s.suspFootprint += n
	l.suspendedBytes += n
	evict := l.evictLocked()
	l.mu.Unlock()
	for _, old := range evict {
		old.lose(ErrEvicted)
	}
}

// expire ends a session whose lifetime passed while suspended.
func (l *Listener) expire(s *Session) {
	l.mu.Lock()
	if s.suspElem == nil {
		l.mu.Unlock()
		return
	}
	l.unsuspendLocked(s)
	delete(l.sessions, s.id)
	l.stats.Expired++
	l.mu.Unlock()
	s.lose(ErrExpired)
}

func (l *Listener) unsuspend(s *Session) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unsuspendLocked(s)
}

func (l *Listener) unsuspendLocked(s *Session) {
	if s.suspElem == nil {
		return
	}
	l.suspended.Remove(s.suspElem)
	s.suspElem = nil
	l.suspendedBytes -= s.suspFootprint
	s.expiry.Stop()
}

// remove forgets an ended session.
func (l *Listener) remove(s *Session) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unsuspendLocked(s)
	if l.sessions[s.id] == s {
		delete(l.sessions, s.id)
	}
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}
