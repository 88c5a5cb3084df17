package crypto

import (
	"container/heap"
	"errors"
	"time"
)

// ErrReplay reports a message 1 whose client ephemeral key the server has
// already seen within the replay window: a replay, or a duplicate. The
// server answers nothing and keeps no state for it.
var ErrReplay = errors.New("crypto: replayed handshake message")

// replayCache remembers the ephemeral public keys of accepted message 1s
// until their timestamps fall out of the replay window, after which the
// timestamp check alone rejects a replay. It holds at most capacity entries.
//
// A full cache forgets the entry closest to expiry rather than refuse new
// handshakes (docs/PROTOCOL.md section 4.5): refusing would let anyone who
// can complete handshakes fill it and lock every client out, while
// forgetting lets one recorded message 1 be answered again, which gains its
// replayer no keys and no more than a fresh message 1 of its own would.
// It is not safe for concurrent use; Server guards it with a mutex.
type replayCache struct {
	capacity int
	seen     map[[noiseKeyLen]byte]struct{}
	byExpiry expiryHeap
	evicted  uint64 // entries forgotten before expiry because the cache was full
}

type replayEntry struct {
	key    [noiseKeyLen]byte
	expiry time.Time
}

func newReplayCache(capacity int) *replayCache {
	return &replayCache{capacity: capacity, seen: make(map[[noiseKeyLen]byte]struct{})}
}

// check reports, without recording anything, whether insert(key) would fail
// now. It lets the server reject replays before doing any Diffie-Hellman
// work: the ephemeral key is the first, unencrypted, 32 bytes of message 1.
func (c *replayCache) check(key [noiseKeyLen]byte, now time.Time) error {
	c.expire(now)
	if _, ok := c.seen[key]; ok {
		return ErrReplay
	}
	return nil
}

// insert records key until expiry. It fails with ErrReplay if key is
// present. With no room after dropping entries that expired by now, it
// forgets the one that expires first.
func (c *replayCache) insert(key [noiseKeyLen]byte, expiry, now time.Time) error {
	if err := c.check(key, now); err != nil {
		return err
	}
	for len(c.seen) >= c.capacity && len(c.byExpiry) > 0 {
		e := heap.Pop(&c.byExpiry).(replayEntry)
		delete(c.seen, e.key)
		c.evicted++
	}
	if c.capacity <= 0 {
		return nil
	}
	c.seen[key] = struct{}{}
	heap.Push(&c.byExpiry, replayEntry{key: key, expiry: expiry})
	return nil
}

// expire forgets entries whose expiry is not after now.
func (c *replayCache) expire(now time.Time) {
	for len(c.byExpiry) > 0 && !c.byExpiry[0].expiry.After(now) {
		e := heap.Pop(&c.byExpiry).(replayEntry)
		delete(c.seen, e.key)
	}
}

func (c *replayCache) len() int { return len(c.seen) }

// expiryHeap is a min-heap of entries by expiry. Entries do not expire in
// insertion order because expiry derives from the client's timestamp.
type expiryHeap []replayEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expiry.Before(h[j].expiry) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(replayEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
