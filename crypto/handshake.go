package crypto

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/flynn/noise"
)

// protocolVersion is limpet version 1 ("LMP1"), bound into the handshake
// prologue. It must equal packet.Version; crypto does not import packet.
const protocolVersion uint32 = 0x4c4d5031

// maxConnIDLen is the longest connection ID on the wire (docs/PROTOCOL.md
// section 1).
const maxConnIDLen = 20

const (
	// DefaultReplayWindow is how far in the past a ClientHello timestamp may
	// lie by the server's clock (docs/PROTOCOL.md section 4.5).
	DefaultReplayWindow = 120 * time.Second
	// DefaultMaxClockAhead is how far in the future a ClientHello timestamp
	// may lie: room for a client clock that runs fast, and no more, since a
	// message 1 stays in the replay cache until its timestamp is a replay
	// window old and far-future ones would sit there longest.
	DefaultMaxClockAhead = 30 * time.Second
	// DefaultReplayCacheSize is how many recent handshakes a Server
	// remembers by default. Each is remembered until its timestamp is a
	// replay window old: about ReplayWindow for a client with a correct
	// clock, at most ReplayWindow + MaxClockAhead. At more than about
	// 65536 / 120 s ≈ 540 new handshakes per second the oldest entries are
	// forgotten early (see Server.ReplayCacheEvictions); the cache's memory
	// stays at a few megabytes. Busy servers raise it.
	DefaultReplayCacheSize = 1 << 16
)

var (
	// ErrServerKeyMismatch reports that the two sides disagree on the
	// server's static key. On the client, message 2 did not decrypt: the
	// server did not prove it holds the private half of the pinned key. On
	// the server, message 1 was not encrypted to its static key. (A client
	// that pinned the wrong key usually cannot even build an Initial packet
	// the server opens, since Initial keys derive from the server's key; the
	// transport then reports this error when the handshake times out.)
	ErrServerKeyMismatch = errors.New("crypto: server key does not match the pinned key")
	// ErrStaleTimestamp reports a ClientHello timestamp outside the replay
	// window: a replay of an old message 1, or a client whose clock is off.
	ErrStaleTimestamp = errors.New("crypto: handshake timestamp outside the replay window")
	// ErrClientKeyNotAllowed reports a client static key that the server's
	// Authorize function rejected. The transport answers with
	// CONNECTION_CLOSE UNKNOWN_CLIENT_KEY (0x0102).
	ErrClientKeyNotAllowed = errors.New("crypto: client key not allowed")
	// ErrNoCommonSuite reports that client and server support no suite in
	// common, or that a server chose a suite the client did not offer.
	ErrNoCommonSuite = errors.New("crypto: no common cipher suite")
	// ErrHandshakeDone reports a call on a ClientHandshake that already
	// finished, successfully or not.
	ErrHandshakeDone = errors.New("crypto: handshake already finished")
)

// prologue binds the protocol version and the client's Initial destination
// connection ID into the Noise transcript, so that a handshake cannot be
// transplanted into another connection's packets.
func prologue(clientDCID []byte) []byte {
	const label = "limpet v1"
	p := make([]byte, 0, len(label)+4+1+len(clientDCID))
	p = append(p, label...)
	p = binary.BigEndian.AppendUint32(p, protocolVersion)
	p = append(p, byte(len(clientDCID)))
	return append(p, clientDCID...)
}

// HandshakeResult is what a completed handshake yields to the transport.
type HandshakeResult struct {
	// Suite is the negotiated 1-RTT suite.
	Suite Suite
	// Keys protects 1-RTT packets in both directions.
	Keys *AppKeys
	// PeerStatic is the peer's authenticated static public key: the pinned
	// server key on the client, the client's key on the server.
	PeerStatic PublicKey
	// PeerTransportParams are the peer's encoded transport parameters
	// (docs/PROTOCOL.md section 6), authenticated by the handshake.
	PeerTransportParams []byte
	// HandshakeHash is Noise's final handshake hash h, a channel binding
	// that identifies this session uniquely.
	HandshakeHash [32]byte
	// ExporterSecret keys ExportKeyingMaterial: secret to the two ends,
	// unique to this connection.
	ExporterSecret [32]byte
}

// newHandshakeResult derives the application traffic secrets from Noise's
// Split output (docs/PROTOCOL.md section 4.6) and packages them.
func newHandshakeResult(suite Suite, hs *noise.HandshakeState, c1, c2 *noise.CipherState, isClient bool, peer PublicKey, peerParams []byte) (*HandshakeResult, error) {
	h := hs.ChannelBinding()
	c1Key, c2Key := c1.UnsafeKey(), c2.UnsafeKey()
	clientSecret := ExpandLabel(extract(h, c1Key[:]), "c ap", 32)
	serverSecret := ExpandLabel(extract(h, c2Key[:]), "s ap", 32)
	send, recv := clientSecret, serverSecret
	if !isClient {
		send, recv = serverSecret, clientSecret
	}
	keys, err := NewAppKeys(suite, send, recv)
	if err != nil {
		return nil, err
	}
	r := &HandshakeResult{
		Suite:               suite,
		Keys:                keys,
		PeerStatic:          peer,
		PeerTransportParams: clone(peerParams),
	}
	copy(r.HandshakeHash[:], h)
	r.ExporterSecret = newExporterSecret(h, c1Key, c2Key)
	return r, nil
}

// ClientConfig configures the client side of a handshake.
type ClientConfig struct {
	// StaticKey is the client's static key, which the server may check
	// against an allow-list. The zero key means "anonymous": a fresh random
	// key is generated for this handshake.
	StaticKey PrivateKey
	// ServerKey is the server's pinned static public key. Required.
	ServerKey PublicKey
	// Suites lists the suites to offer, preferred first; nil means
	// PreferredSuites().
	Suites []Suite
	// TransportParams are the client's encoded transport parameters, at
	// most MaxTransportParamsLen bytes.
	TransportParams []byte
	// Rand is the source of key material; nil means crypto/rand.
	Rand io.Reader
}

// ClientHandshake is the client (Noise initiator) side of the handshake. It
// is sans-IO: NewClientHandshake returns message 1 for the transport to send,
// and ReadServerHello consumes message 2.
type ClientHandshake struct {
	noiseConfig noise.Config
	// ephemeralSeed is the client's ephemeral private key. Keeping it lets
	// the handshake be rebuilt exactly after a forged message 2 has
	// disturbed the Noise state.
	ephemeralSeed [32]byte
	payload       []byte
	hs            *noise.HandshakeState
	disturbed     bool
	serverKey     PublicKey
	suites        []Suite
	done          bool
}

// NewClientHandshake starts a handshake towards the server whose key
// cfg.ServerKey pins. clientDCID is the destination connection ID of the
// client's Initial packets (the original one, or the Retry's source
// connection ID after a Retry, with a fresh handshake). It returns message 1,
// which the transport sends in CRYPTO frames at offset 0 of the Initial
// space.
func NewClientHandshake(cfg ClientConfig, clientDCID []byte, now time.Time) (*ClientHandshake, []byte, error) {
	if cfg.ServerKey.IsZero() {
		return nil, nil, errors.New("crypto: ClientConfig.ServerKey is not set")
	}
	if len(clientDCID) > maxConnIDLen {
		return nil, nil, fmt.Errorf("crypto: client DCID of %d bytes exceeds %d", len(clientDCID), maxConnIDLen)
	}
	if len(cfg.TransportParams) > MaxTransportParamsLen {
		return nil, nil, fmt.Errorf("crypto: %d bytes of transport parameters exceed %d", len(cfg.TransportParams), MaxTransportParamsLen)
	}
	suites := cfg.Suites
	if suites == nil {
		suites = PreferredSuites()
	}
	if err := checkSuites(suites); err != nil {
		return nil, nil, fmt.Errorf("crypto: ClientConfig.Suites: %w", err)
	}
	rng := cfg.Rand
	if rng == nil {
		rng = rand.Reader
	}
	static := cfg.StaticKey
	if static.IsZero() {
		var err error
		if static, err = generateKey(rng); err != nil {
			return nil, nil, err
		}
	}
	staticKey, err := ecdh.X25519().NewPrivateKey(static[:])
	if err != nil {
		return nil, nil, fmt.Errorf("crypto: ClientConfig.StaticKey: %w", err)
	}
	staticPub := staticKey.PublicKey().Bytes()
	c := &ClientHandshake{
		noiseConfig: noise.Config{
			CipherSuite:   newNoiseSuite(staticKey),
			Pattern:       noise.HandshakeIK,
			Initiator:     true,
			Prologue:      prologue(clientDCID),
			StaticKeypair: noise.DHKey{Private: static[:], Public: staticPub},
			PeerStatic:    clone(cfg.ServerKey[:]),
		},
		serverKey: cfg.ServerKey,
		suites:    slices.Clone(suites),
	}
	if _, err := io.ReadFull(rng, c.ephemeralSeed[:]); err != nil {
		return nil, nil, fmt.Errorf("crypto: generating ephemeral key: %w", err)
	}
	c.payload = ClientHello{Timestamp: now, Suites: suites, TransportParams: cfg.TransportParams}.Append(nil)
	msg1, err := c.start()
	if err != nil {
		return nil, nil, err
	}
	return c, msg1, nil
}

// start builds the Noise state and writes message 1. With the same
// ephemeral seed and payload it always produces the same state and message.
func (c *ClientHandshake) start() ([]byte, error) {
	cfg := c.noiseConfig
	cfg.Random = bytes.NewReader(c.ephemeralSeed[:])
	hs, err := noise.NewHandshakeState(cfg)
	if err != nil {
		return nil, fmt.Errorf("crypto: starting handshake: %w", err)
	}
	msg1, _, _, err := hs.WriteMessage(make([]byte, 0, minClientHelloMessageLen+len(c.payload)), c.payload)
	if err != nil {
		// X25519 fails only for a low-order peer key, which no one holds.
		return nil, fmt.Errorf("crypto: writing message 1 (%w: pinned server key %v): %v", ErrInvalidKey, c.serverKey, err)
	}
	c.hs = hs
	c.disturbed = false
	return msg1, nil
}

// ReadServerHello consumes message 2 and completes the handshake.
//
// If message 2 does not decrypt, the error wraps ErrServerKeyMismatch: the
// sender did not prove it holds the pinned key. Such a message may be a
// forgery injected by someone who knows the server's public key, so the
// ClientHandshake stays usable and a later genuine message 2 still
// completes it. Any other error (a malformed payload, ErrNoCommonSuite) comes
// from the authenticated server and ends the handshake.
func (c *ClientHandshake) ReadServerHello(msg2 []byte) (*HandshakeResult, error) {
	if c.done {
		return nil, ErrHandshakeDone
	}
	if len(msg2) < minServerHelloMessageLen || len(msg2) > MaxHandshakeMessageLen {
		return nil, fmt.Errorf("%w: message 2 of %d bytes", ErrHandshakeMessage, len(msg2))
	}
	if c.disturbed {
		if _, err := c.start(); err != nil {
			return nil, err
		}
	}
	payload, c1, c2, err := c.hs.ReadMessage(nil, msg2)
	if err != nil {
		c.disturbed = true
		return nil, fmt.Errorf("%w: message 2 failed to decrypt, so the server did not prove it holds pinned key %v", ErrServerKeyMismatch, c.serverKey)
	}
	c.done = true
	if c1 == nil || c2 == nil {
		panic("crypto: Noise IK did not finish after message 2")
	}
	hello, err := ParseServerHelloPayload(payload)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(c.suites, hello.Suite) || !hello.Suite.Known() {
		return nil, fmt.Errorf("%w: server chose %v, which the client did not offer", ErrNoCommonSuite, hello.Suite)
	}
	return newHandshakeResult(hello.Suite, c.hs, c1, c2, true, c.serverKey, hello.TransportParams)
}

// checkSuites validates a configured suite list: 1 to 16 known suites
// without repeats.
func checkSuites(suites []Suite) error {
	if len(suites) == 0 || len(suites) > maxSuites {
		return fmt.Errorf("%w: want 1 to %d suites, got %d", ErrUnknownSuite, maxSuites, len(suites))
	}
	for i, s := range suites {
		if !s.Known() {
			return fmt.Errorf("%w: %v", ErrUnknownSuite, s)
		}
		if slices.Contains(suites[:i], s) {
			return fmt.Errorf("%w: %v listed twice", ErrUnknownSuite, s)
		}
	}
	return nil
}

// ServerConfig configures a Server.
type ServerConfig struct {
	// StaticKey is the server's static key; clients pin its public half.
	// Required.
	StaticKey PrivateKey
	// Suites lists the suites the server supports; nil means
	// PreferredSuites(). The server takes the first suite in the client's
	// list that it supports, unless PreferServerSuiteOrder is set.
	Suites []Suite
	// PreferServerSuiteOrder makes the server take the first suite in its
	// own list that the client offers. When Suites is nil it is implied on
	// machines without AES instructions, which would run AES-GCM slowly.
	PreferServerSuiteOrder bool
	// ReplayWindow bounds how far a ClientHello timestamp may lie behind
	// the server's clock; zero means DefaultReplayWindow.
	ReplayWindow time.Duration
	// MaxClockAhead bounds how far it may lie ahead; zero means
	// DefaultMaxClockAhead, and it is never more than ReplayWindow.
	MaxClockAhead time.Duration
	// ReplayCacheSize bounds how many recent handshakes the server
	// remembers; zero means DefaultReplayCacheSize. When it is full, the
	// entry closest to expiry is forgotten to make room: a full cache
	// never refuses a handshake.
	ReplayCacheSize int
	// Authorize, if not nil, decides whether a client static key may
	// connect. nil accepts any client key. It must be safe for concurrent
	// use if Accept is called concurrently.
	Authorize func(PublicKey) bool
	// Rand is the source of ephemeral keys; nil means crypto/rand. It must
	// be safe for concurrent use if Accept is called concurrently.
	Rand io.Reader
}

// Server is the server (Noise responder) side of the handshake. One
// long-lived Server serves all connections of a listener, because it owns the
// replay cache. It is safe for concurrent use.
type Server struct {
	static            noise.DHKey
	staticECDH        *ecdh.PrivateKey // static, parsed once
	public            PublicKey
	suites            []Suite
	preferServerOrder bool
	window            time.Duration
	ahead             time.Duration
	authorize         func(PublicKey) bool
	rng               io.Reader

	mu     sync.Mutex
	replay *replayCache // guarded by mu
}

// NewServer validates cfg and returns a Server with an empty replay cache.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.StaticKey.IsZero() {
		return nil, errors.New("crypto: ServerConfig.StaticKey is not set")
	}
	suites, preferServer := cfg.Suites, cfg.PreferServerSuiteOrder
	if suites == nil {
		suites = PreferredSuites()
		preferServer = preferServer || !hasAESHardware()
	}
	if err := checkSuites(suites); err != nil {
		return nil, fmt.Errorf("crypto: ServerConfig.Suites: %w", err)
	}
	window := cfg.ReplayWindow
	if window == 0 {
		window = DefaultReplayWindow
	}
	if window < 0 {
		return nil, fmt.Errorf("crypto: negative ServerConfig.ReplayWindow %v", window)
	}
	ahead := cfg.MaxClockAhead
	if ahead == 0 {
		ahead = DefaultMaxClockAhead
	}
	if ahead < 0 {
		return nil, fmt.Errorf("crypto: negative ServerConfig.MaxClockAhead %v", ahead)
	}
	ahead = min(ahead, window)
	size := cfg.ReplayCacheSize
	if size == 0 {
		size = DefaultReplayCacheSize
	}
	if size < 0 {
		return nil, fmt.Errorf("crypto: negative ServerConfig.ReplayCacheSize %d", size)
	}
	rng := cfg.Rand
	if rng == nil {
		rng = rand.Reader
	}
	static := cfg.StaticKey
	staticECDH, err := ecdh.X25519().NewPrivateKey(static[:])
	if err != nil {
		return nil, fmt.Errorf("crypto: ServerConfig.StaticKey: %w", err)
	}
	var pub PublicKey
	copy(pub[:], staticECDH.PublicKey().Bytes())
	return &Server{
		static:            noise.DHKey{Private: static[:], Public: clone(pub[:])},
		staticECDH:        staticECDH,
		public:            pub,
		suites:            slices.Clone(suites),
		preferServerOrder: preferServer,
		window:            window,
		ahead:             ahead,
		authorize:         cfg.Authorize,
		rng:               rng,
		replay:            newReplayCache(size),
	}, nil
}

// PublicKey returns the server's static public key, which the server also
// needs to derive Initial keys (NewInitialKeys).
func (s *Server) PublicKey() PublicKey { return s.public }

// Accept processes message 1 from a new client and, if the handshake may
// proceed, returns message 2 and the handshake result; the server has 1-RTT
// keys as soon as it sends message 2. clientDCID is the destination
// connection ID of the client's Initial packet (the prologue binds it).
//
// transportParams, if not nil, receives the client's transport parameters,
// authenticated but not yet acted upon, and returns the server's: the
// transport validates the client's there and builds its own, including the
// server's connection IDs. An error it returns aborts the handshake and is
// returned wrapped.
//
// Checks run cheapest first, and nothing is remembered for a message that
// fails them: ErrHandshakeMessage (malformed), ErrReplay (looked up by the
// clear ephemeral key before any Diffie-Hellman work), ErrServerKeyMismatch (not encrypted to this server's
// key), ErrStaleTimestamp, ErrClientKeyNotAllowed. A message 1 that passes
// them all has its ephemeral key remembered, so a replay of it fails with
// ErrReplay even if the original then failed with ErrNoCommonSuite or a
// transport-parameter error. A client retransmitting message 1 reaches the
// connection it already created, not Accept.
func (s *Server) Accept(msg1, clientDCID []byte, now time.Time, transportParams func(clientParams []byte) ([]byte, error)) ([]byte, *HandshakeResult, error) {
	if len(msg1) < minClientHelloMessageLen || len(msg1) > MaxHandshakeMessageLen {
		return nil, nil, fmt.Errorf("%w: message 1 of %d bytes", ErrHandshakeMessage, len(msg1))
	}
	if len(clientDCID) > maxConnIDLen {
		return nil, nil, fmt.Errorf("%w: client DCID of %d bytes", ErrHandshakeMessage, len(clientDCID))
	}
	var ephemeral [noiseKeyLen]byte
	copy(ephemeral[:], msg1)
	s.mu.Lock()
	err := s.replay.check(ephemeral, now)
	s.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   newNoiseSuite(s.staticECDH),
		Random:        s.rng,
		Pattern:       noise.HandshakeIK,
		Initiator:     false,
		Prologue:      prologue(clientDCID),
		StaticKeypair: s.static,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("crypto: starting handshake: %w", err)
	}
	payload, _, _, err := hs.ReadMessage(nil, msg1)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: message 1 is not encrypted to this server's key %v (the client pinned another key, or the message was altered)", ErrServerKeyMismatch, s.public)
	}
	hello, err := ParseClientHelloPayload(payload)
	if err != nil {
		return nil, nil, err
	}
	if skew := now.Sub(hello.Timestamp); skew >= s.window || skew <= -s.ahead {
		return nil, nil, fmt.Errorf("%w: client clock differs from ours by %v, window is %v behind to %v ahead", ErrStaleTimestamp, -skew, s.window, s.ahead)
	}
	var client PublicKey
	copy(client[:], hs.PeerStatic())
	// Authorize before remembering the handshake, so that clients not on
	// the allow-list cannot fill the replay cache.
	if s.authorize != nil && !s.authorize(client) {
		return nil, nil, fmt.Errorf("%w: %v", ErrClientKeyNotAllowed, client)
	}
	s.mu.Lock()
	// The timestamp check rejects this message once now passes
	// Timestamp+window, so the cache need remember it only until then.
	err = s.replay.insert(ephemeral, hello.Timestamp.Add(s.window), now)
	s.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	suite, ok := s.chooseSuite(hello.Suites)
	if !ok {
		return nil, nil, fmt.Errorf("%w: client offered %v, server supports %v", ErrNoCommonSuite, hello.Suites, s.suites)
	}
	var serverParams []byte
	if transportParams != nil {
		if serverParams, err = transportParams(hello.TransportParams); err != nil {
			return nil, nil, fmt.Errorf("crypto: transport parameters: %w", err)
		}
		if len(serverParams) > MaxTransportParamsLen {
			return nil, nil, fmt.Errorf("crypto: %d bytes of server transport parameters exceed %d", len(serverParams), MaxTransportParamsLen)
		}
	}
	reply := ServerHello{Suite: suite, TransportParams: serverParams}.Append(nil)
	msg2, c1, c2, err := hs.WriteMessage(make([]byte, 0, minServerHelloMessageLen+len(reply)), reply)
	if err != nil {
		return nil, nil, fmt.Errorf("crypto: writing message 2: %w", err)
	}
	result, err := newHandshakeResult(suite, hs, c1, c2, false, client, hello.TransportParams)
	if err != nil {
		return nil, nil, err
	}
	return msg2, result, nil
}

func (s *Server) chooseSuite(offered []Suite) (Suite, bool) {
	if s.preferServerOrder {
		for _, mine := range s.suites {
			if slices.Contains(offered, mine) {
				return mine, true
			}
		}
		return 0, false
	}
	for _, theirs := range offered {
		if slices.Contains(s.suites, theirs) {
			return theirs, true
		}
	}
	return 0, false
}

// ReplayCacheLen returns how many handshakes the replay cache remembers,
// for metrics.
func (s *Server) ReplayCacheLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replay.len()
}

// ReplayCacheEvictions returns how many handshakes the replay cache forgot
// before their timestamps left the window, to make room for newer ones.
func (s *Server) ReplayCacheEvictions() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replay.evicted
}
