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
	bucket tokenBucket
}

const (
	resetsPerSecond = 100
	resetBurst      = 20
)

func (l *resetLimiter) allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bucket.take(now, resetsPerSecond, resetBurst)
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
