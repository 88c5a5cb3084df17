package transport

import (
	"net/netip"
	"time"
)

// Admission control for new connections on an accepting Endpoint
// (docs/SECURITY.md): per-source limits on handshake slots and
// connections, so that one client address cannot take them all, and the
// load signal that makes every new client prove its address with a Retry
// before the server does Diffie-Hellman work for it.

const (
	// While handshakes that cost Diffie-Hellman work (not replays, which
	// the replay cache catches before it) fail faster than failureRate per
	// second (after a burst of failureBurst), the endpoint
	// is under attack: honest clients almost never fail a handshake, and a
	// flood of unknown client keys or stale message 1s fails every one.
	failureRate  = 50
	failureBurst = 50
	// loadHold is how long the endpoint stays under load after the last
	// sign of it.
	loadHold = 2 * time.Second
	// Under load, each source (sourceOf) gets at most sourceWorkRate
	// handshakes per second after a burst of sourceWorkBurst, counted before
	// any Diffie-Hellman work; the meters of at most maxMeteredSources
	// sources are kept.
	sourceWorkRate    = 10
	sourceWorkBurst   = 10
	maxMeteredSources = 4096
	// A Retry is sent instead of a handshake while the workers' queue holds
	// more than deepQueue Initials, so that a handshake never waits behind
	// more than deepQueue others' Diffie-Hellman work.
	deepQueue = 32
)

// sourceOf is the unit per-source limits count: an IPv4 address, or the
// /64 an IPv6 address belongs to (what one subscriber is given).
func sourceOf(a netip.AddrPort) netip.Addr {
	ip := a.Addr().Unmap()
	if ip.Is4() {
		return ip
	}
	p, _ := ip.Prefix(64)
	return p.Addr()
}

// sourceUse is what one source holds.
type sourceUse struct {
	handshakes int // queued first Initials and unconfirmed connections
	conns      int // connections not yet ended, confirmed or not
}

// admission is the accepting state shared by all sources. Endpoint.mu
// guards it.
type admission struct {
	bySource   map[netip.Addr]*sourceUse
	failures   tokenBucket
	retryUntil time.Time // under load until then
	work       map[netip.Addr]*tokenBucket
}

func (a *admission) use(src netip.Addr) *sourceUse {
	if a.bySource == nil {
		a.bySource = make(map[netip.Addr]*sourceUse)
	}
	u := a.bySource[src]
	if u == nil {
		u = &sourceUse{}
		a.bySource[src] = u
	}
	return u
}

// tidy forgets src once it holds nothing, so the map stays the size of
// the sources holding something.
func (a *admission) tidy(src netip.Addr) {
	if u := a.bySource[src]; u != nil && u.handshakes <= 0 && u.conns <= 0 {
		delete(a.bySource, src)
	}
}

// underLoad reports whether new clients must come through a Retry.
func (a *admission) underLoad(now time.Time) bool { return now.Before(a.retryUntil) }

// handshakeFailed counts a handshake that cost Diffie-Hellman work and
// failed.
func (a *admission) handshakeFailed(now time.Time) {
	if !a.failures.take(now, failureRate, failureBurst) {
		a.retryUntil = now.Add(loadHold)
	}
}

// allowWork reports whether the endpoint does a handshake's work for a
// client at the validated source src now: always, unless under load.
func (a *admission) allowWork(src netip.Addr, now time.Time) bool {
	if !a.underLoad(now) {
		return true
	}
	if a.work == nil {
		a.work = make(map[netip.Addr]*tokenBucket)
	}
	b := a.work[src]
	if b == nil {
		if len(a.work) >= maxMeteredSources {
			for s, m := range a.work {
				if now.Sub(m.last) > time.Second {
					delete(a.work, s)
				}
			}
			for s := range a.work {
				if len(a.work) < maxMeteredSources {
					break
				}
				delete(a.work, s) // forgetting a meter grants a fresh burst, never a lockout
			}
		}
		b = &tokenBucket{}
		a.work[src] = b
	}
	return b.take(now, sourceWorkRate, sourceWorkBurst)
}

// tokenBucket is a rate limiter: take succeeds at rate per second on
// average, after a burst.
type tokenBucket struct {
	tokens float64
	last   time.Time
}

func (b *tokenBucket) take(now time.Time, rate, burst float64) bool {
	if b.last.IsZero() {
		b.tokens = burst
	} else {
		b.tokens = min(burst, b.tokens+max(now.Sub(b.last).Seconds(), 0)*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
