package flood

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
)

// attackEnv is what an attack knows about its target.
type attackEnv struct {
	plan       *Plan
	addr       netip.AddrPort // the listener
	addrB      netip.AddrPort // the second listener, for ResetOracle
	serverKey  crypto.PrivateKey
	serverPub  crypto.PublicKey
	legitKey   crypto.PrivateKey // the legitimate clients' static key
	clientConn int               // connections the legitimate clients hold open

	// pool holds the message 1s the prepare step crafted, and crafted
	// how long that took.
	pool    []hello
	crafted time.Duration
}

// attackResult is what an attack reports when it stops.
type attackResult struct {
	// sent counts what the attacker sent while it flooded (datagrams or
	// handshakes, as unit says), over active.
	sent   int64
	unit   string
	active time.Duration
	// offered overrides the rate cell ("1,000 conns").
	offered string
	notes   []string
	err     error
}

func (r *attackResult) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// attackSpec is one row: how its server is configured and what the
// attack does.
type attackSpec struct {
	name Attack
	// server adjusts the row's server.
	server func(*serverConfig, *attackEnv)
	// prepare, if not nil, crafts what the attack sends before the
	// server starts, on every core.
	prepare func(ctx context.Context, env *attackEnv) error
	// check marks a row without legitimate measurements.
	check bool
	// run attacks until ctx ends. It calls ready once the attack is in
	// full swing (after any set-up); the measurements start then.
	run func(ctx context.Context, env *attackEnv, ready func()) attackResult
}

// specs maps each Attack to its row.
func specs() map[Attack]attackSpec {
	return map[Attack]attackSpec{
		Baseline:     {name: Baseline, run: runBaseline},
		UnknownKey:   {name: UnknownKey, server: allowListServer, prepare: craftPool(unknownKeyHellos), run: runUnknownKey},
		StaleReplay:  {name: StaleReplay, prepare: craftPool(staleHellos), run: runStaleReplay},
		StaleToken:   {name: StaleToken, server: validatingServer, prepare: craftPool(staleHellos), run: runStaleToken},
		RetryAbandon: {name: RetryAbandon, server: validatingServer, prepare: craftPool(freshHellos), run: runRetryAbandon},
		ReplayFill:   {name: ReplayFill, prepare: prepareReplayFill, run: runReplayFill},
		ConnExhaust:  {name: ConnExhaust, server: limitedServer, run: runConnExhaust},
		Slowloris:    {name: Slowloris, run: runSlowloris},
		JunkInitials: {name: JunkInitials, run: runJunkInitials},
		ResetOracle:  {name: ResetOracle, server: twinServer, check: true, run: runResetOracle},
	}
}

func allowListServer(c *serverConfig, env *attackEnv) {
	c.AllowedClientKeys = append(c.AllowedClientKeys, env.legitKey.Public())
}

func validatingServer(c *serverConfig, _ *attackEnv) { c.RequireAddressValidation = true }

func limitedServer(c *serverConfig, env *attackEnv) { c.MaxConns = env.plan.MaxConns }

func twinServer(c *serverConfig, _ *attackEnv) { c.SecondListener = true }

func runBaseline(ctx context.Context, _ *attackEnv, ready func()) attackResult {
	ready()
	<-ctx.Done()
	return attackResult{}
}

// Each attacker sends from an address of its own in 127/8, so that a
// server with per-source limits tells it from the legitimate clients at
// 127.0.0.1 and from the other attackers.
var (
	unknownKeyAddr   = netip.MustParseAddr("127.0.0.2")
	staleAddr        = netip.MustParseAddr("127.0.0.3")
	retryAbandonAddr = netip.MustParseAddr("127.0.0.4")
	replayFillAddr   = netip.MustParseAddr("127.0.0.5")
	exhaustAddr      = netip.MustParseAddr("127.0.0.6")
	slowlorisAddr    = netip.MustParseAddr("127.0.0.7")
	oracleProxyAddr  = netip.MustParseAddr("127.0.0.8")
	oracleAddr       = netip.MustParseAddr("127.0.0.9")
)

// attackerSocketBuffer is the send and receive buffer of attackers'
// sockets, so that bursts of answers are not lost while the attacker is
// busy crafting.
const attackerSocketBuffer = 4 << 20

// listenFrom opens a UDP socket on addr, any port.
func listenFrom(addr netip.Addr) (*net.UDPConn, error) {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
	if err != nil {
		return nil, fmt.Errorf("attacker socket on %v: %w", addr, err)
	}
	c.SetReadBuffer(attackerSocketBuffer)
	c.SetWriteBuffer(attackerSocketBuffer)
	return c, nil
}

// answerCounts counts what the server sent an attacker.
type answerCounts struct {
	initials atomic.Int64 // Initial packets: CONNECTION_CLOSE or message 2
	retries  atomic.Int64
	other    atomic.Int64
}

// readAnswers reads sock until it is closed, counting the server's
// answers and passing each parsed one to handle (if not nil).
func readAnswers(sock *net.UDPConn, counts *answerCounts, handle func(serverAnswer, []byte)) {
	buf := make([]byte, 65536)
	for {
		n, _, err := sock.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		a, ok := parseAnswer(buf[:n])
		switch {
		case !ok:
			counts.other.Add(1)
			continue
		case a.typ == packet.LongTypeInitial:
			counts.initials.Add(1)
		default:
			counts.retries.Add(1)
		}
		if handle != nil {
			handle(a, buf[:n])
		}
	}
}

// answerSample is how many of a flood's answers the attacker opens: the
// first answerSample and one in answerSample after, enough to say what
// they were without spending the attacker's core on every one.
const answerSample = 64

// poolAnswers returns a readAnswers handler that opens a sample of the
// server's Initials to the SCIDs of pool and tallies what they carried.
func poolAnswers(server crypto.PublicKey, pool []hello, tally *answerTally) func(serverAnswer, []byte) {
	dcids := make(map[packet.ConnectionID]packet.ConnectionID, len(pool))
	for _, h := range pool {
		dcids[h.scid] = h.dcid
	}
	var n int64
	return func(a serverAnswer, b []byte) {
		if a.typ != packet.LongTypeInitial {
			return
		}
		n++
		if n > answerSample && n%answerSample != 0 {
			return
		}
		if dcid, ok := dcids[a.dcid]; ok {
			tally.add(openAnswer(server, dcid, b))
		}
	}
}

// answersNote describes the answers a flood drew.
func answersNote(counts *answerCounts, tally *answerTally) string {
	return fmt.Sprintf("%s Initials answered; of those opened (the first %d and 1 in %d after): %v",
		formatCount(float64(counts.initials.Load())), answerSample, answerSample, tally)
}

// floodInitials sends the pool's Initials round robin at rate from sock
// to addr until ctx ends; token, if not nil, gives the token each one
// carries. It returns how many it sent and for how long.
func floodInitials(ctx context.Context, sock *net.UDPConn, addr netip.AddrPort, pool []hello, rate float64, token func() []byte) (int64, time.Duration) {
	start := time.Now()
	// A burst of 100 ms of sends lets the attacker catch up after the
	// scheduler kept it off its core (the bulk transfer shares it).
	p := newPacer(rate, max(1, int(rate/10)), start)
	buf := make([]byte, 0, 2048)
	var sent int64
	i := 0
	for ctx.Err() == nil {
		n := p.due(time.Now())
		var tok []byte
		if token != nil {
			tok = token()
		}
		for range n {
			h := &pool[i%len(pool)]
			i++
			b := h.appendInitial(buf[:0], tok, 0)
			sock.WriteToUDPAddrPort(b, addr)
		}
		p.sent(n)
		sent += int64(n)
		sleepUntil(ctx, p.next())
	}
	return sent, time.Since(start)
}
