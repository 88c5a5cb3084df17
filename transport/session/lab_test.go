package session

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
	"github.com/limpetnet/limpet/transport/netsim"
)

// lab is an in-memory network with one session server, for tests run in
// a synctest bubble: a blackout cuts every socket on it, and each
// connection a client dials comes from a new address, as after a change
// of network.
type lab struct {
	t       *testing.T
	net     *netsim.Network
	delay   time.Duration
	srvAddr netip.AddrPort
	srvKey  crypto.PrivateKey
	srvNet  *netsim.Conn
	ln      *Listener
	tln     *transport.Listener

	mu       sync.Mutex
	down     bool
	socks    []*netsim.Conn
	nextHost int
	conns    []*transport.Conn // every connection a client dialled, in order
}

// labTransport is the transport configuration of both ends.
func labTransport() transport.Config {
	return transport.Config{}
}

func newLab(t *testing.T, srvCfg *Config) *lab {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{t: t, net: netsim.NewNetwork(), delay: 5 * time.Millisecond, srvKey: key,
		srvAddr: netip.MustParseAddrPort("198.18.0.1:4433")}
	l.startServer(srvCfg)
	return l
}

// startServer starts (or, after stopServer, restarts) the server on the
// same address and key, with no sessions.
func (l *lab) startServer(cfg *Config) {
	l.t.Helper()
	pc, err := l.net.Listen(l.srvAddr)
	if err != nil {
		l.t.Fatal(err)
	}
	l.srvNet = l.impair(pc)
	tc := labTransport()
	tc.PrivateKey = l.srvKey
	tc.MaxIncomingStreams = 101
	tln, err := transport.ListenBind(transport.NewPacketConnBind(l.srvNet), &tc)
	if err != nil {
		l.t.Fatal(err)
	}
	l.tln = tln
	l.ln = NewListener(tln, cfg)
}

// stopServer closes the server as a crash would: its sessions vanish,
// and nothing reaches the clients.
func (l *lab) stopServer() {
	l.srvNet.SetBlackhole(true)
	l.ln.Close()
	l.tln.Close()
	l.srvNet.Close()
}

func (l *lab) impair(pc *netsim.Socket) *netsim.Conn {
	c := netsim.Impair(pc, netsim.Config{Delay: l.delay, MTU: 1472})
	l.mu.Lock()
	defer l.mu.Unlock()
	c.SetBlackhole(l.down)
	l.socks = append(l.socks, c)
	return c
}

// blackout cuts (or restores) every path on the network.
func (l *lab) blackout(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = on
	for _, c := range l.socks {
		c.SetBlackhole(on)
	}
}

// dial is the clients' Config.Dial: a new socket at a new address for
// every connection.
func (l *lab) dial(ctx context.Context, tc *transport.Config) (*transport.Conn, error) {
	l.mu.Lock()
	l.nextHost++
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(l.nextHost >> 8), byte(2 + l.nextHost&0xff)}), 5000)
	l.mu.Unlock()
	pc, err := l.net.Listen(addr)
	if err != nil {
		return nil, err
	}
	c, err := transport.DialBind(ctx, transport.NewPacketConnBind(l.impair(pc)), l.srvAddr, tc)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.conns = append(l.conns, c)
	l.mu.Unlock()
	return c, nil
}

// lastConn is the connection a client dialled last.
func (l *lab) lastConn() *transport.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns[len(l.conns)-1]
}

// client opens a session from a new client.
func (l *lab) client(cfg *Config) *Session {
	l.t.Helper()
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	c.Dial = l.dial
	tc := labTransport()
	tc.ServerKey = l.srvKey.Public()
	s, err := Dial(context.Background(), "", &tc, &c)
	if err != nil {
		l.t.Fatalf("Dial: %v", err)
	}
	return s
}

// accept takes the server's next session.
func (l *lab) accept() *Session {
	l.t.Helper()
	s, err := l.ln.Accept(context.Background())
	if err != nil {
		l.t.Fatalf("Accept: %v", err)
	}
	return s
}

// close ends the lab: the server and every socket.
func (l *lab) close() {
	l.ln.Close()
	l.tln.Close()
	l.mu.Lock()
	socks := l.socks
	l.mu.Unlock()
	for _, c := range socks {
		c.Close()
	}
}

func randomData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// events records a session's events.
type events struct {
	mu      sync.Mutex
	list    []Event
	changed chan struct{} // closed and replaced by add; nil until waitFor
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, ev)
	if e.changed != nil {
		close(e.changed)
		e.changed = nil
	}
}

// waitFor waits until an event of kind k was recorded: OnEvent for a
// session's end runs after Done is closed.
func (e *events) waitFor(t *testing.T, k EventKind) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		e.mu.Lock()
		for _, ev := range e.list {
			if ev.Kind == k {
				e.mu.Unlock()
				return
			}
		}
		if e.changed == nil {
			e.changed = make(chan struct{})
		}
		ch := e.changed
		e.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("no %v event within 10 s", k)
		}
	}
}

func (e *events) count(k EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.list {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

func (e *events) last(k EventKind) Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.list) - 1; i >= 0; i-- {
		if e.list[i].Kind == k {
			return e.list[i]
		}
	}
	return Event{}
}
