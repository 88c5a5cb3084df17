package session

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
)

// helloTimeout bounds the wait for the answer to a hello, and a server's
// wait for the hello.
const helloTimeout = 10 * time.Second

// Dial opens a session to the server at addr (a Listener of this
// package). tcfg configures every connection of the session, as for
// transport.Dial: ServerKey is required. A client without a PrivateKey
// gets a fresh one for the life of the session, since only the key that
// opened a session can resume it. Dial returns once the first connection
// carries the session.
func Dial(ctx context.Context, addr string, tcfg *transport.Config, cfg *Config) (*Session, error) {
	if tcfg == nil {
		return nil, fmt.Errorf("%w: a session needs a transport.Config with the ServerKey", transport.ErrInvalidConfig)
	}
	c := cfg.withDefaults()
	t := *tcfg
	if t.PrivateKey == (crypto.PrivateKey{}) {
		k, err := crypto.GenerateKey()
		if err != nil {
			return nil, err
		}
		t.PrivateKey = k
	}
	if t.MaxIncomingStreams == 0 {
		t.MaxIncomingStreams = int64(c.MaxStreams) + 1
	}
	if c.Dial == nil {
		c.Dial = func(ctx context.Context, tc *transport.Config) (*transport.Conn, error) {
			return transport.Dial(ctx, addr, tc)
		}
	}
	s := newSession(c, true)
	s.tcfg = &t
	conn, err := c.Dial(ctx, &t)
	if err != nil {
		return nil, err
	}
	if err := s.begin(ctx, conn); err != nil {
		conn.CloseWithError(codeProtocol, "")
		s.cancel()
		return nil, err
	}
	return s, nil
}

// begin opens a new session on conn.
func (s *Session) begin(ctx context.Context, conn *transport.Conn) error {
	ctrl, err := conn.OpenStream(ctx)
	if err != nil {
		return err
	}
	h := hello{version: protocolVersion, maxStreams: uint64(s.cfg.MaxStreams)}
	w, sent, err := exchangeHello(ctx, conn, ctrl, &h)
	if err != nil {
		return err
	}
	w.maxStreams = min(w.maxStreams, maxStreamsLimit)
	secret, err := conn.ExportKeyingMaterial(labelResumption, w.id[:], 32)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.id, s.secret, s.clientKey = w.id, secret, s.tcfg.PrivateKey.Public()
	s.peerMaxStreams = int(w.maxStreams)
	gen := s.attachLocked(conn, ctrl, sent)
	s.mu.Unlock()
	s.start(conn, gen)
	return nil
}

// exchangeHello sends h on a new control stream and reads the answer: a
// welcome, or the connection closed with a refusal. sent is the bytes it
// wrote on ctrl.
func exchangeHello(ctx context.Context, conn *transport.Conn, ctrl *transport.Stream, h *hello) (w welcome, sent int64, err error) {
	msg := append([]byte{preambleControl}, appendMessage(nil, msgHello, h.append(nil))...)
	if _, err := ctrl.Write(msg); err != nil {
		return welcome{}, 0, refusal(conn, err)
	}
	sent = int64(len(msg))
	ctrl.SetReadDeadline(time.Now().Add(helloTimeout))
	stop := context.AfterFunc(ctx, func() { ctrl.SetReadDeadline(time.Now()) })
	typ, payload, err := readMessage(ctrl, maxControlMessage)
	stop()
	ctrl.SetReadDeadline(time.Time{})
	if err != nil {
		if ctx.Err() != nil {
			return welcome{}, 0, ctx.Err()
		}
		return welcome{}, 0, refusal(conn, err)
	}
	if typ != msgWelcome {
		return welcome{}, 0, fmt.Errorf("%w: control message %#x before welcome", errProtocol, typ)
	}
	w, err = parseWelcome(payload)
	if err != nil {
		return welcome{}, 0, fmt.Errorf("%w: %w", errProtocol, err)
	}
	return w, sent, nil
}

// refusal turns a connection the server closed with a refusal code into
// a *RefusedError; other errors pass through.
func refusal(conn *transport.Conn, err error) error {
	for _, e := range []error{err, conn.Err()} {
		var ae *transport.ApplicationError
		if errors.As(e, &ae) && ae.Remote && ae.Code >= codeRefusedBase && ae.Code < codeRefusedBase+0x100 {
			return &RefusedError{Code: RefusalCode(ae.Code - codeRefusedBase), Reason: ae.Reason}
		}
	}
	return err
}

// reconnect tries to resume the session on a new connection until it
// succeeds, the server refuses, or the lifetime passes.
func (s *Session) reconnect() {
	s.mu.Lock()
	end := s.lostAt.Add(s.cfg.Lifetime)
	s.mu.Unlock()
	step := s.cfg.ReconnectMin
	var last error
	for attempt := 1; ; attempt++ {
		if s.ctx.Err() != nil {
			return
		}
		if !time.Now().Before(end) {
			if last == nil {
				s.lose(ErrExpired)
			} else {
				s.lose(fmt.Errorf("%w (last attempt: %w)", ErrExpired, last))
			}
			return
		}
		s.mu.Lock()
		s.stats.ReconnectAttempts++
		s.mu.Unlock()
		s.event(Event{Kind: EventReconnecting, Attempt: attempt, Err: last})
		ctx, cancel := context.WithDeadline(s.ctx, end)
		err := s.tryResume(ctx, attempt)
		cancel()
		if err == nil {
			return
		}
		var re *RefusedError
		if errors.As(err, &re) || errors.Is(err, errProtocol) {
			s.lose(err)
			return
		}
		last = err
		wait := step/2 + rand.N(step/2+1)
		step = min(2*step, s.cfg.ReconnectMax)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return
		}
	}
}

// tryResume dials once and resumes the session on the connection.
func (s *Session) tryResume(ctx context.Context, attempt int) error {
	conn, err := s.cfg.Dial(ctx, s.tcfg)
	if err != nil {
		return err
	}
	if err := s.resumeOn(ctx, conn, attempt); err != nil {
		conn.CloseWithError(codeProtocol, "")
		return err
	}
	return nil
}

// resumeOn asks the server to carry the session on conn.
func (s *Session) resumeOn(ctx context.Context, conn *transport.Conn, attempt int) error {
	s.resumeMu.Lock()
	defer s.resumeMu.Unlock()
	if err := s.Err(); err != nil {
		return err
	}
	ctrl, err := conn.OpenStream(ctx)
	if err != nil {
		return err
	}
	proof, err := resumptionProof(conn, s.id, s.secret)
	if err != nil {
		return err
	}
	h := hello{version: protocolVersion, resume: true, id: s.id, maxStreams: uint64(s.cfg.MaxStreams), state: s.stateForResume()}
	if len(h.state.streams) > maxStateStreams {
		return fmt.Errorf("%w: %d streams held, more than a resumption lists", errProtocol, len(h.state.streams))
	}
	copy(h.proof[:], proof)
	w, sent, err := exchangeHello(ctx, conn, ctrl, &h)
	if err != nil {
		return err
	}
	if w.id != s.id {
		return fmt.Errorf("%w: welcome for another session", errProtocol)
	}
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return s.err
	}
	if err := s.applyPeerStateLocked(w.state); err != nil {
		s.mu.Unlock()
		return err
	}
	s.peerMaxStreams = int(min(w.maxStreams, maxStreamsLimit))
	// The server took in this end's state before it welcomed it.
	for _, e := range h.state.streams {
		if st := s.streams[e.id]; st != nil && e.recvDone {
			st.doneAcked = true
			st.maybeRetireLocked()
		}
	}
	resent := s.resentLocked()
	outage := time.Since(s.lostAt)
	gen := s.attachLocked(conn, ctrl, sent)
	s.stats.Resumptions++
	s.stats.BytesResent += resent
	s.mu.Unlock()
	s.start(conn, gen)
	s.event(Event{Kind: EventResumed, Attempt: attempt, Resent: resent, Outage: outage})
	return nil
}

// Labels of the values sessions export from connections
// (docs/PROTOCOL.md section 13.3).
const (
	labelResumption = "session resumption"
	labelBinding    = "session binding"
)

// resumptionProof proves, on conn, knowledge of the session's resumption
// secret: an HMAC of a value only this connection's two ends can export,
// so that it cannot be replayed on another connection.
func resumptionProof(conn *transport.Conn, id [idLen]byte, secret []byte) ([]byte, error) {
	binding, err := conn.ExportKeyingMaterial(labelBinding, id[:], 32)
	if err != nil {
		return nil, err
	}
	return hmacSHA256(secret, binding), nil
}
