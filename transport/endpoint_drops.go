package transport

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/transport/qlog"
)

// Triggers of the endpoint's packet_dropped events (qlog's
// PacketDroppedTrigger values).
const (
	dropInvalid           = "invalid"            // unreadable header, wrong size or version
	dropConnectionUnknown = "connection_unknown" // no connection, and none can start
	dropRejected          = "rejected"           // full, closing, shed, or a bad token
	dropDecryptionFailure = "decryption_failure" // a first Initial that did not open
)

// maxDropEvents bounds the endpoint's packet_dropped events per second:
// junk aimed at a traced server must not fill its disk or slow its
// reader. The rest are counted in one limpet:drops_suppressed event.
const maxDropEvents = 100

// dropTrace rate-limits the endpoint's packet_dropped events.
type dropTrace struct {
	mu         sync.Mutex
	second     time.Time // start of the current one-second window
	logged     int       // events in it
	suppressed int       // events left out in it
}

// allow reports whether a drop at now may be logged, and how many were
// suppressed in the window that just ended (to be reported first).
func (d *dropTrace) allow(now time.Time) (ok bool, suppressed int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if now.Sub(d.second) >= time.Second {
		suppressed = d.suppressed
		d.second, d.logged, d.suppressed = now, 0, 0
	}
	if d.logged >= maxDropEvents {
		d.suppressed++
		return false, suppressed
	}
	d.logged++
	return true, suppressed
}

// drop counts a datagram that reached no connection in counter and, when
// the accepting configuration traces (Config.QLogLogger at
// qlog.LevelEndpoint), logs it to the endpoint's trace.
func (e *Endpoint) drop(counter *atomic.Uint64, size int, trigger string) {
	counter.Add(1)
	if e.lcfg == nil || e.lcfg.QLogLogger == nil {
		return
	}
	h := e.lcfg.QLogLogger.Handler()
	ctx := context.Background()
	if !h.Enabled(ctx, qlog.LevelEndpoint) {
		return
	}
	now := time.Now()
	ok, suppressed := e.dropTrace.allow(now)
	if suppressed > 0 {
		r := slog.NewRecord(now, qlog.LevelEndpoint, qlog.DropsSuppressed, 0)
		r.AddAttrs(slog.Int("count", suppressed))
		_ = h.Handle(ctx, r)
	}
	if ok {
		r := slog.NewRecord(now, qlog.LevelEndpoint, qlog.PacketDropped, 0)
		r.AddAttrs(slog.Group("raw", slog.Int("length", size)), slog.String("trigger", trigger))
		_ = h.Handle(ctx, r)
	}
}
