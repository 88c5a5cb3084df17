package crypto

import (
	"sync"
	"time"
)

// SpentTokens remembers the Retry tokens a server has accepted until they
// expire, so that each token starts one handshake (docs/PROTOCOL.md section
// 2.2). Without it, a client at a real address could fetch one token and
// make the server do the Diffie-Hellman work of a handshake for every copy
// of its Initial it sends. It holds at most capacity tokens; when full it
// forgets the one closest to expiry, so a flood of tokens can never lock
// honest clients out. It is safe for concurrent use.
type SpentTokens struct {
	mu    sync.Mutex
	cache *replayCache
}

// NewSpentTokens returns an empty set of at most capacity tokens.
func NewSpentTokens(capacity int) *SpentTokens {
	return &SpentTokens{cache: newReplayCache(capacity)}
}

// Spend records token t, valid for lifetime from its issue, and reports
// whether it was unspent.
func (s *SpentTokens) Spend(t RetryToken, lifetime time.Duration, now time.Time) bool {
	var key [noiseKeyLen]byte
	copy(key[:], t.ID[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cache.insert(key, t.Issued.Add(lifetime), now) == nil
}

// Len is how many tokens are remembered, for metrics.
func (s *SpentTokens) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cache.len()
}
