package flood

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// This file holds the floods of client Initials: message 1s the server
// refuses after its Diffie-Hellman work (UnknownKey, StaleReplay,
// StaleToken), handshakes abandoned after a Retry (RetryAbandon), and
// message 1s that fill the replay cache (ReplayFill).

// staleAge is how old a stale replay's timestamp is: beyond the server's
// replay window of ±2 minutes (docs/PROTOCOL.md section 4.5).
const staleAge = 3 * time.Minute

// futureSkew is how far ahead the ReplayFill timestamps are: inside the
// replay window, so the server records them, and nearly as far ahead as
// it allows (30 s since issue 17; ±120 s before, when the before table's
// run stamped them 115 s ahead), so each entry lives longest.
const futureSkew = 25 * time.Second

// tokenRefresh is how often the StaleToken attacker asks for a fresh
// Retry token, within the token's 10 s lifetime (section 4.7).
const tokenRefresh = 5 * time.Second

// tokenKeeper keeps the latest Retry token the server sent an attacker.
// An attacker at its real address can always get one, and the floods put
// it in every Initial they send after it: a server that answers a flood
// with Retries, as a limpet server does when its handshake slots fill
// with unvalidated clients, then sees the token again and again.
type tokenKeeper struct {
	token   atomic.Pointer[[]byte]
	retries atomic.Int64
}

// keep stores a Retry's token; it reports whether a was a Retry.
func (k *tokenKeeper) keep(a serverAnswer) bool {
	if a.typ != packet.LongTypeRetry {
		return false
	}
	t := bytes.Clone(a.token)
	k.token.Store(&t)
	k.retries.Add(1)
	return true
}

// latest returns the latest token, nil before the first Retry.
func (k *tokenKeeper) latest() []byte {
	if t := k.token.Load(); t != nil {
		return *t
	}
	return nil
}

// note describes the Retries, if there were any.
func (k *tokenKeeper) note(r *attackResult) {
	if n := k.retries.Load(); n > 0 {
		r.note("the server answered with %s Retries; each token was reused in every Initial after it", formatCount(float64(n)))
	}
}

// craftPool is the prepare step of the handshake floods: a pool of
// plan.Pool message 1s crafted as spec says.
func craftPool(spec func(*attackEnv) (helloSpec, error)) func(context.Context, *attackEnv) error {
	return func(ctx context.Context, env *attackEnv) error {
		hs, err := spec(env)
		if err != nil {
			return err
		}
		env.pool, err = newHelloPool(ctx, env.plan.Pool, hs)
		return err
	}
}

// unknownKeyHellos come from one key not on the allow-list.
func unknownKeyHellos(env *attackEnv) (helloSpec, error) {
	key, err := crypto.GenerateKey()
	return helloSpec{server: env.serverPub, client: key}, err
}

// staleHellos were stamped 3 minutes ago.
func staleHellos(env *attackEnv) (helloSpec, error) {
	return helloSpec{server: env.serverPub, skew: -staleAge}, nil
}

// freshHellos are valid now.
func freshHellos(env *attackEnv) (helloSpec, error) {
	return helloSpec{server: env.serverPub}, nil
}

func runUnknownKey(ctx context.Context, env *attackEnv, ready func()) attackResult {
	return floodPool(ctx, env, ready, unknownKeyAddr, env.plan.Rates[UnknownKey], "from one key not on the allow-list")
}

func runStaleReplay(ctx context.Context, env *attackEnv, ready func()) attackResult {
	return floodPool(ctx, env, ready, staleAddr, env.plan.Rates[StaleReplay], "stamped 3 min ago")
}

// floodPool sends the prepared pool's Initials round robin from addr at
// rate, putting in each the latest Retry token the server sent, if any.
func floodPool(ctx context.Context, env *attackEnv, ready func(), addr netip.Addr, rate float64, what string) attackResult {
	r := attackResult{unit: "dgram"}
	pool := env.pool
	ps, err := openPoolSocket(env, addr)
	if err != nil {
		r.err = err
		return r
	}
	defer ps.sock.Close()
	ready()
	r.sent, r.active = floodInitials(ctx, ps.sock, env.addr, pool, rate, ps.tokens.latest)
	r.note("%s message 1s %s, round robin, from %v", formatCount(float64(len(pool))), what, addr)
	r.note("%s", answersNote(&ps.counts, &ps.tally))
	ps.tokens.note(&r)
	return r
}

// poolSocket is a socket that floods the prepared pool's Initials, and
// what it learns from the server's answers: counts of each kind, the
// sampled answers opened, the latest Retry token.
type poolSocket struct {
	sock   *net.UDPConn
	counts answerCounts
	tally  answerTally
	tokens tokenKeeper
}

// openPoolSocket opens a poolSocket at addr and starts reading the
// server's answers.
func openPoolSocket(env *attackEnv, addr netip.Addr) (*poolSocket, error) {
	sock, err := listenFrom(addr)
	if err != nil {
		return nil, err
	}
	ps := &poolSocket{sock: sock}
	sample := poolAnswers(env.serverPub, env.pool, &ps.tally)
	go readAnswers(sock, &ps.counts, func(a serverAnswer, b []byte) {
		if !ps.tokens.keep(a) {
			sample(a, b)
		}
	})
	return ps, nil
}

func runStaleToken(ctx context.Context, env *attackEnv, ready func()) attackResult {
	r := attackResult{unit: "dgram"}
	pool := env.pool
	ps, err := openPoolSocket(env, staleAddr)
	if err != nil {
		r.err = err
		return r
	}
	defer ps.sock.Close()
	sock, tokens := ps.sock, &ps.tokens
	// A tokenless Initial from this socket gets a Retry whose token is
	// bound to the socket's address and port; any message 1 will do, as
	// the server checks nothing else before it sends a Retry.
	buf := make([]byte, 0, 2048)
	askToken := func() { sock.WriteToUDPAddrPort(pool[0].appendInitial(buf[:0], nil, 0), env.addr) }
	for range 10 {
		askToken()
		if waitFor(ctx, time.Second, func() bool { return tokens.latest() != nil }) {
			break
		}
	}
	if tokens.latest() == nil {
		r.err = errors.New("the server sent no Retry token in 10 tries")
		return r
	}
	ready()
	lastAsk := time.Now()
	r.sent, r.active = floodInitials(ctx, sock, env.addr, pool, env.plan.Rates[StaleToken], func() []byte {
		if time.Since(lastAsk) >= tokenRefresh {
			lastAsk = time.Now()
			askToken()
		}
		return tokens.latest()
	})
	r.note("%s message 1s stamped 3 min ago, each with a Retry token obtained at %v and reused; Retries: %s (a fresh token asked for every %v)",
		formatCount(float64(len(pool))), staleAddr, formatCount(float64(tokens.retries.Load())), tokenRefresh)
	r.note("%s (each answer means the token was accepted)", answersNote(&ps.counts, &ps.tally))
	return r
}

func runRetryAbandon(ctx context.Context, env *attackEnv, ready func()) attackResult {
	r := attackResult{unit: "hs"}
	// The first Initial of each handshake only has to earn a Retry.
	pool := env.pool
	sock, err := listenFrom(retryAbandonAddr)
	if err != nil {
		r.err = err
		return r
	}
	defer sock.Close()
	var (
		counts          answerCounts
		tally           answerTally
		followed, fails atomic.Int64
	)
	buf := make([]byte, 0, 2048)
	// The DCIDs of the handshakes that followed a Retry, by their SCIDs,
	// to open the server's answers (the reader goroutine's alone).
	dcids := make(map[packet.ConnectionID]packet.ConnectionID)
	go readAnswers(sock, &counts, func(a serverAnswer, b []byte) {
		if a.typ != packet.LongTypeRetry {
			// Message 2 of a handshake we abandon, or a refusal.
			if dcid, ok := dcids[a.dcid]; ok {
				tally.add(openAnswer(env.serverPub, dcid, b))
			}
			return
		}
		// Follow the Retry: a valid message 1 for the DCID the server
		// chose, with its token, from the same socket.
		h, err := newHelloFor(helloSpec{server: env.serverPub}, a.scid, randomConnID())
		if err != nil {
			fails.Add(1)
			return
		}
		sock.WriteToUDPAddrPort(h.appendInitial(buf[:0], a.token, 1), env.addr)
		dcids[h.scid] = h.dcid
		followed.Add(1)
	})
	ready()
	r.sent, r.active = floodInitials(ctx, sock, env.addr, pool, env.plan.Rates[RetryAbandon], nil)
	r.note("from %v: %s Retries followed with a fresh valid message 1 and the token; the answers to those: %v (a message 2 is never answered)",
		retryAbandonAddr, formatCount(float64(followed.Load())), &tally)
	if n := fails.Load(); n > 0 {
		r.note("%d message 1s could not be crafted", n)
	}
	return r
}

// Bounds of the ReplayFill attacker's sending: at most fillWindow message
// 1s unanswered at once; one unanswered for fillTimeout is given up; no
// answer at all for fillStall ends the fill (a full replay cache answers
// nothing).
const (
	fillWindow  = 64
	fillTimeout = 500 * time.Millisecond
	fillStall   = 2 * time.Second
	// fillBudget ends a fill that the server keeps answering (with
	// Retries and refusals) before the row's set-up time runs out, so the
	// row still measures what the legitimate clients see.
	fillBudget = time.Minute
)

// prepareReplayFill crafts plan.FillCount valid message 1s stamped
// futureSkew ahead, each with a fresh ephemeral key.
func prepareReplayFill(ctx context.Context, env *attackEnv) error {
	n := env.plan.FillCount
	env.plan.progress("%s: crafting %s message 1s stamped %v ahead", ReplayFill, formatCount(float64(n)), futureSkew)
	start := time.Now()
	var err error
	env.pool, err = newHelloPool(ctx, n, helloSpec{server: env.serverPub, skew: futureSkew, mismatchSCID: true})
	env.crafted = time.Since(start)
	return err
}

func runReplayFill(ctx context.Context, env *attackEnv, ready func()) attackResult {
	r := attackResult{unit: "hs"}
	pool, n := env.pool, len(env.pool)
	env.pool = nil // sent once each, then freed
	sock, err := listenFrom(replayFillAddr)
	if err != nil {
		r.err = err
		return r
	}
	defer sock.Close()
	var (
		counts answerCounts
		tally  answerTally
	)
	type answer struct {
		scid  packet.ConnectionID
		b     []byte
		retry bool
		token []byte
	}
	answered := make(chan answer, 4*fillWindow)
	go readAnswers(sock, &counts, func(a serverAnswer, b []byte) {
		ans := answer{scid: a.dcid, b: bytes.Clone(b)}
		switch a.typ {
		case packet.LongTypeInitial:
		case packet.LongTypeRetry:
			ans.retry, ans.token = true, bytes.Clone(a.token)
		default:
			return
		}
		select {
		case answered <- ans:
		default: // the fill is over
		}
	})
	env.plan.progress("%s: filling the replay cache", ReplayFill)

	type pending struct {
		at    time.Time
		h     hello
		token []byte
	}
	start := time.Now()
	outstanding := make(map[packet.ConnectionID]*pending, fillWindow)
	var (
		next, answers, recorded, lost, retries int
		lastAnswer                             = start
		stalled                                bool
		buf                                    = make([]byte, 0, 2048)
	)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		for len(outstanding) < fillWindow && next < len(pool) {
			p := &pending{at: time.Now(), h: pool[next]}
			pool[next] = hello{} // sent once (or again with a token): free it
			next++
			sock.WriteToUDPAddrPort(p.h.appendInitial(buf[:0], nil, 0), env.addr)
			outstanding[p.h.scid] = p
		}
		if len(outstanding) == 0 {
			break
		}
		if time.Since(lastAnswer) > fillStall {
			stalled = true
			break
		}
		if time.Since(start) > fillBudget {
			r.note("the fill stopped after %v with %s of %s message 1s sent", fillBudget, formatCount(float64(next)), formatCount(float64(n)))
			break
		}
		select {
		case <-ctx.Done():
			r.err = ctx.Err()
			return r
		case a := <-answered:
			p, ok := outstanding[a.scid]
			if !ok {
				continue
			}
			lastAnswer = time.Now()
			if a.retry {
				// Follow the Retry once: the same message 1, with the
				// token, from the same socket.
				if p.token == nil {
					retries++
					p.token, p.at = a.token, time.Now()
					sock.WriteToUDPAddrPort(p.h.appendInitial(buf[:0], p.token, 1), env.addr)
				}
				continue
			}
			delete(outstanding, a.scid)
			answers++
			c, err := openAnswer(env.serverPub, p.h.dcid, a.b)
			tally.add(c, err)
			if err == nil && c.close != nil && !c.close.Application && packet.TransportErrorCode(c.close.ErrorCode) == packet.TransportParameterError {
				recorded++
			}
		case now := <-tick.C:
			for id, p := range outstanding {
				if now.Sub(p.at) > fillTimeout {
					delete(outstanding, id)
					lost++
				}
			}
		}
	}
	fillTime := lastAnswer.Sub(start)
	r.sent, r.active = int64(answers), fillTime
	r.note("%s valid message 1s stamped +%v (crafted in %v) from %v, made to be refused only after the server records them (an initial_source_connection_id mismatch: TRANSPORT_PARAMETER_ERROR)",
		formatCount(float64(n)), futureSkew, env.crafted.Round(100*time.Millisecond), replayFillAddr)
	if retries > 0 {
		r.note("%s Retries followed with the same message 1 and the token", formatCount(float64(retries)))
	}
	switch {
	case stalled && recorded > 0:
		r.note("%s recorded in %v, then no answer to the next %s (what a full replay cache does)",
			formatCount(float64(recorded)), fillTime.Round(100*time.Millisecond), formatCount(float64(next-answers)))
	case stalled:
		r.note("none recorded; after %s answers in %v the server answered nothing more", formatCount(float64(answers)), fillTime.Round(100*time.Millisecond))
	default:
		r.note("%s recorded in %v, %s unanswered: the server answered to the end", formatCount(float64(recorded)), fillTime.Round(100*time.Millisecond), formatCount(float64(lost)))
	}
	r.note("answers: %v", &tally)
	ready()
	<-ctx.Done()
	return r
}

// waitFor polls cond every 10 ms for up to d.
func waitFor(ctx context.Context, d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for !cond() {
		if ctx.Err() != nil || time.Now().After(end) {
			return false
		}
		sleepUntil(ctx, time.Now().Add(10*time.Millisecond))
	}
	return true
}
