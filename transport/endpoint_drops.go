package transport

import (
	"context"
	"log/slog"
	"sync/atomic"

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

// drop counts a datagram that reached no connection in counter and, when
// the accepting configuration traces (Config.QLogLogger at
// qlog.LevelEndpoint), logs it to the endpoint's trace.
func (e *Endpoint) drop(counter *atomic.Uint64, size int, trigger string) {
	counter.Add(1)
	if e.lcfg == nil || e.lcfg.QLogLogger == nil {
		return
	}
	log := e.lcfg.QLogLogger
	if !log.Enabled(context.Background(), qlog.LevelEndpoint) {
		return
	}
	log.LogAttrs(context.Background(), qlog.LevelEndpoint, qlog.PacketDropped,
		slog.Group("raw", slog.Int("length", size)), slog.String("trigger", trigger))
}
