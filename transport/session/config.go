package session

import (
	"context"
	"time"

	"github.com/limpetnet/limpet/transport"
)

// Config configures a session's client or a Listener's sessions. The zero
// value of every field means "use the default".
type Config struct {
	// Lifetime is how long a session outlives its connection: how long
	// the client keeps trying to reconnect, and how long a server keeps a
	// suspended session for it (default 10 minutes).
	Lifetime time.Duration
	// MaxBuffered bounds, per session, the bytes written but not yet read
	// by the peer application, which the session keeps to send again
	// after a reconnect. Writes block once it is reached, as flow control
	// blocks them (default 16 MiB).
	MaxBuffered int64
	// MaxStreams caps the peer's streams in a session that this end has
	// not finished reading (default 100, at most 16,384, and at most the
	// transport's MaxIncomingStreams minus one for the control stream).
	MaxStreams int

	// ReconnectMin and ReconnectMax bound the client's backoff between
	// attempts to reconnect (default 100 ms and 5 s); each wait is drawn
	// at random from the upper half of the current step.
	ReconnectMin, ReconnectMax time.Duration

	// MaxSuspended caps the suspended sessions a Listener keeps (default
	// 10,000) and MaxSuspendedBytes the data they hold (default 1 GiB);
	// past either, the session suspended longest ago is evicted.
	MaxSuspended      int
	MaxSuspendedBytes int64

	// OnEvent, if set, is called for each session event (connection lost,
	// reconnecting, resumed, lost for good). It must not block.
	OnEvent func(Event)

	// Dial, on a client, replaces transport.Dial for every connection of
	// the session, e.g. to use a Bind of the program's own or an
	// Endpoint. It must dial with the client's static key in cfg.
	Dial func(ctx context.Context, cfg *transport.Config) (*transport.Conn, error)
}

const (
	defaultLifetime     = 10 * time.Minute
	defaultMaxBuffered  = 16 << 20
	defaultMaxStreams   = 100
	defaultReconnectMin = 100 * time.Millisecond
	defaultReconnectMax = 5 * time.Second
	defaultMaxSuspended = 10_000
	defaultMaxSuspBytes = 1 << 30
)

func (c *Config) withDefaults() Config {
	var d Config
	if c != nil {
		d = *c
	}
	if d.Lifetime <= 0 {
		d.Lifetime = defaultLifetime
	}
	if d.MaxBuffered <= 0 {
		d.MaxBuffered = defaultMaxBuffered
	}
	if d.MaxStreams <= 0 {
		d.MaxStreams = defaultMaxStreams
	}
	d.MaxStreams = min(d.MaxStreams, maxStreamsLimit)
	if d.ReconnectMin <= 0 {
		d.ReconnectMin = defaultReconnectMin
	}
	if d.ReconnectMax <= 0 {
		d.ReconnectMax = defaultReconnectMax
	}
	if d.ReconnectMax < d.ReconnectMin {
		d.ReconnectMax = d.ReconnectMin
	}
	if d.MaxSuspended <= 0 {
		d.MaxSuspended = defaultMaxSuspended
	}
	if d.MaxSuspendedBytes <= 0 {
		d.MaxSuspendedBytes = defaultMaxSuspBytes
	}
	return d
}
