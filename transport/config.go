package transport

import (
	"time"

	"github.com/limpetnet/limpet/crypto"
)

// Config configures a Listener or a dialled Conn. The zero value of every
// field except the keys means "use the default".
type Config struct {
	// PrivateKey is this endpoint's static key. A Listener requires one.
	// A client without one uses a fresh random key (the server cannot then
	// tell it apart from any other client).
	PrivateKey crypto.PrivateKey

	// ServerKey is the server's static public key, pinned by the client.
	ServerKey crypto.PublicKey

	// AllowedClientKeys, on a Listener, admits only clients holding one of
	// these keys. Empty admits any client.
	AllowedClientKeys []crypto.PublicKey

	// HandshakeTimeout bounds Dial (default 10 s).
	HandshakeTimeout time.Duration
	// MaxIdleTimeout closes a connection that received nothing for this
	// long (default 60 s, so a 30 s blackout is ridden out).
	MaxIdleTimeout time.Duration
	// KeepAlivePeriod sends a PING after this much quiet, under the common
	// 30 s NAT UDP mapping timeout (default 15 s; negative disables).
	KeepAlivePeriod time.Duration

	// MaxIncomingStreams and MaxIncomingUniStreams cap the streams the peer
	// may have open at once (default 100 each).
	MaxIncomingStreams    int64
	MaxIncomingUniStreams int64

	// Receive windows. Initial values are advertised in the handshake; the
	// windows grow towards the maxima when the application reads faster than
	// one round trip of data (default stream 512 KiB → 16 MiB, connection
	// 768 KiB → 24 MiB).
	InitialStreamWindow uint64
	MaxStreamWindow     uint64
	InitialConnWindow   uint64
	MaxConnWindow       uint64

	// NoDelay sends each write at once, like TCP_NODELAY. By default small
	// writes are coalesced: a stream's partial packet of new data waits
	// while earlier data of that stream is unacknowledged, for at most
	// 1 ms, unless the stream is flushed (Stream.Flush) or closed.
	NoDelay bool

	// RequireAddressValidation makes a Listener answer every new client's
	// first Initial with a Retry (docs/PROTOCOL.md section 2.2): the server
	// does no Diffie-Hellman work and keeps no state until the client has
	// echoed the Retry's token from the address it was sent to, which
	// proves the client receives packets there. It costs each handshake one
	// round trip. Without it a Listener still sends Retry while half or
	// more of MaxHandshakes are taken by clients whose address it has not
	// validated, which is what a flood of Initials from spoofed addresses
	// looks like. Clients always follow a Retry; the field is ignored by
	// Dial.
	RequireAddressValidation bool

	// MaxHandshakes caps handshakes in progress on a Listener (default 256);
	// MaxConns caps its connections (default 10,000).
	MaxHandshakes int
	MaxConns      int
}

const (
	defaultHandshakeTimeout   = 10 * time.Second
	defaultMaxIdleTimeout     = 60 * time.Second
	defaultKeepAlivePeriod    = 15 * time.Second
	defaultMaxIncomingStreams = 100
	defaultInitialStreamWin   = 512 << 10
	defaultMaxStreamWin       = 16 << 20
	defaultInitialConnWin     = 768 << 10
	defaultMaxConnWin         = 24 << 20
	defaultMaxHandshakes      = 256
	defaultMaxConns           = 10000
)

// withDefaults returns a copy of c with every unset field given its default.
func (c *Config) withDefaults() Config {
	var out Config
	if c != nil {
		out = *c
	}
	setDefault(&out.HandshakeTimeout, defaultHandshakeTimeout)
	setDefault(&out.MaxIdleTimeout, defaultMaxIdleTimeout)
	setDefault(&out.KeepAlivePeriod, defaultKeepAlivePeriod)
	setDefault(&out.MaxIncomingStreams, defaultMaxIncomingStreams)
	setDefault(&out.MaxIncomingUniStreams, defaultMaxIncomingStreams)
	setDefault(&out.InitialStreamWindow, defaultInitialStreamWin)
	setDefault(&out.MaxStreamWindow, defaultMaxStreamWin)
	setDefault(&out.InitialConnWindow, defaultInitialConnWin)
	setDefault(&out.MaxConnWindow, defaultMaxConnWin)
	setDefault(&out.MaxHandshakes, defaultMaxHandshakes)
	setDefault(&out.MaxConns, defaultMaxConns)
	out.MaxStreamWindow = max(out.MaxStreamWindow, out.InitialStreamWindow)
	out.MaxConnWindow = max(out.MaxConnWindow, out.InitialConnWindow)
	return out
}

func setDefault[T int | int64 | uint64 | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}
