package transport

import (
	"net/netip"
	"sync"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// resetLimiter bounds the stateless resets an endpoint sends, so it cannot
// be made to flood anyone (RFC 9000 §10.3).
type resetLimiter struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

const (
	resetsPerSecond = 100
	resetBurst      = 20
)

func (l *resetLimiter) allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last.IsZero() {
		l.tokens = resetBurst
	} else {
		l.tokens = min(resetBurst, l.tokens+now.Sub(l.last).Seconds()*resetsPerSecond)
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}

// sendStatelessReset answers a short-header packet for a connection this
// server does not know (it restarted, or forgot it) so the client fails
// fast (docs/PROTOCOL.md section 2.4). Runs on the reader goroutine.
func (e *Endpoint) sendStatelessReset(dcid packet.ConnectionID, triggerLen int, to netip.AddrPort, local netip.Addr, now time.Time) {
	if triggerLen <= crypto.MinStatelessResetLen || !e.resets.allow(now) {
		return
	}
	token := e.resetKey.StatelessResetToken(dcid.Bytes())
	b, err := crypto.AppendStatelessReset(make([]byte, 0, triggerLen), token, triggerLen, nil)
	if err != nil {
		return
	}
	e.send(b, to, local)
	e.stats.resetsSent.Add(1)
}
