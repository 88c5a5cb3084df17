package flood

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"
)

// junkSize is the size of a junk Initial: the least a server reads.
const junkSize = 1200

// junkBatch is how many junk datagrams go out per system call.
const junkBatch = 64

// junkSender sends batches of junk Initials to the server, each from a
// source of its own where it can.
type junkSender interface {
	// send sends n junk Initials, a fresh DCID each.
	send(n int) error
	describe() string
	close()
}

func runJunkInitials(ctx context.Context, env *attackEnv, ready func()) attackResult {
	r := attackResult{unit: "dgram"}
	s, err := newRawJunkSender(env.addr)
	if err != nil { // not root: real sources, a few
		fallback, ferr := newBoundJunkSender(env.addr)
		if ferr != nil {
			r.err = fmt.Errorf("raw socket: %v; bound sockets: %w", err, ferr)
			return r
		}
		r.note("no raw socket (%v)", err)
		s = fallback
	}
	defer s.close()
	ready()
	start := time.Now()
	p := newPacer(env.plan.Rates[JunkInitials], 8*junkBatch, start)
	var sendErr error
	for ctx.Err() == nil {
		for n := p.due(time.Now()); n > 0; {
			k := min(n, junkBatch)
			if err := s.send(k); err != nil {
				sendErr = cmpErr(sendErr, err)
			}
			p.sent(k)
			r.sent += int64(k)
			n -= k
		}
		sleepUntil(ctx, p.next())
	}
	r.active = time.Since(start)
	r.note("%d-byte random datagrams behind a valid Initial header, %s", junkSize, s.describe())
	if sendErr != nil {
		r.note("send error: %v", sendErr)
	}
	return r
}

// boundJunkSender sends from UDP sockets bound to boundJunkSources
// loopback addresses, a batch from each in turn: the sources are real,
// not spoofed, and few.
type boundJunkSender struct {
	conns []*ipv4.PacketConn
	socks []*net.UDPConn
	msgs  []ipv4.Message
	rng   *rand.ChaCha8
	turn  int
}

const boundJunkSources = 64

func newBoundJunkSender(to netip.AddrPort) (*boundJunkSender, error) {
	s := &boundJunkSender{rng: newRNG()}
	for i := range boundJunkSources {
		c, err := listenFrom(netip.AddrFrom4([4]byte{127, 0, 1, byte(i + 1)}))
		if err != nil {
			s.close()
			return nil, err
		}
		s.socks = append(s.socks, c)
		s.conns = append(s.conns, ipv4.NewPacketConn(c))
	}
	dst := net.UDPAddrFromAddrPort(to)
	s.msgs = make([]ipv4.Message, junkBatch)
	for i := range s.msgs {
		s.msgs[i] = ipv4.Message{Buffers: [][]byte{appendJunkInitial(nil, junkSize, s.rng)}, Addr: dst}
	}
	return s, nil
}

func (s *boundJunkSender) send(n int) error {
	for i := range n {
		s.rng.Read(s.msgs[i].Buffers[0][junkDCIDOffset : junkDCIDOffset+8])
	}
	c := s.conns[s.turn%len(s.conns)]
	s.turn++
	_, err := c.WriteBatch(s.msgs[:n], 0)
	return err
}

func (s *boundJunkSender) describe() string {
	return fmt.Sprintf("from %d bound sources 127.0.1.1–127.0.1.%d, a batch of %d from each in turn", boundJunkSources, boundJunkSources, junkBatch)
}

func (s *boundJunkSender) close() {
	for _, c := range s.socks {
		c.Close()
	}
}

// newRNG returns a fast random source for junk; it need not be
// unpredictable.
func newRNG() *rand.ChaCha8 {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rand.Uint32())
	}
	return rand.NewChaCha8(seed)
}
