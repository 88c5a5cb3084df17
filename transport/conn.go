package transport

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/limpetnet/limpet/ackframes"
	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/streams"
)

// connState is where a connection is in its life.
type connState uint8

const (
	stateHandshake connState = iota // client: waiting for message 2
	stateActive                     // 1-RTT keys in hand
	stateClosed                     // loop has exited
)

// Conn is a limpet connection. It is safe for concurrent use.
//
// One goroutine, the loop, owns the protocol state, grouped by concern into
// the sub-states below (each with its own file). User goroutines reach it
// only through msgCh, the pend lists, a stream's own lock, or the lock of
// the stream IDs we open (streamsState.openMu).
type Conn struct {
	ep       *Endpoint
	isServer bool
	cfg      Config

	// Cross-goroutine plumbing. rx carries datagrams from the endpoint's
	// reader; msgCh carries closures from API calls to run on the loop;
	// wakeCh says a stream has something to send.
	rx     rxQueue
	msgCh  chan func(now time.Time)
	wakeCh chan struct{}
	pend   pendingState

	// established is closed when the handshake has completed (1-RTT keys);
	// done when the loop has exited, after closeErr is set.
	established chan struct{}
	done        chan struct{}
	closeErr    error
	ctx         context.Context
	cancelCtx   context.CancelCauseFunc

	// Owned by the loop. peerParams is set before established is closed
	// and never after, so OpenStream reads it too.
	state      connState
	hs         handshakeState // conn_handshake.go
	keys       *crypto.AppKeys
	peerParams packet.TransportParameters
	ids        connIDs           // conn_ids.go
	path       pathState         // conn_path.go
	acks       ackState          // conn_loss.go: what we received and owe ACKs for
	ackFreq    ackFrequencyState // conn_ack_frequency.go: how often we ask the peer to acknowledge
	loss       lossState         // conn_loss.go: what we sent, loss recovery, congestion
	streams    streamsState      // conn_streams.go
	idle       idleState         // conn_timers.go
	lifetime   lifetimeState
	fec        fecState   // conn_fec.go
	tx         txState    // conn_send.go
	qlog       qlogState  // conn_qlog.go
	limit      limitState // conn_limits.go
	mtu        mtuState   // conn_mtu.go
	ecn        ecnState   // conn_ecn.go

	// Statistics, written by the loop, read atomically by Stats.
	stats connStats
}

// pendingState holds what user goroutines hand to the loop between its
// iterations, under mu.
type pendingState struct {
	mu      sync.Mutex
	opened  []*Stream // streams OpenStream made, for the loop to take in
	streams []*Stream // streams with new data or control frames to send
	reads   []*Stream // streams the application read from
	read    int64     // bytes read by the application, for MAX_DATA
	// loop-owned: the other halves of the double buffers
	spare, spareReads []*Stream
}

func newConn(ep *Endpoint, isServer bool, cfg Config, peer netip.AddrPort, now time.Time) *Conn {
	c := &Conn{
		ep:          ep,
		isServer:    isServer,
		cfg:         cfg,
		msgCh:       make(chan func(time.Time), 1),
		wakeCh:      make(chan struct{}, 1),
		done:        make(chan struct{}),
		established: make(chan struct{}),
	}
	c.ctx, c.cancelCtx = context.WithCancelCause(context.Background())
	c.rx.init()
	c.setPeerAddr(peer)
	c.path.maxPacket = baseDatagramSize
	c.stats.datagramSize.Store(baseDatagramSize)
	c.ecn.init(cfg.sendsNotECT())
	c.stats.ecnState.Store(uint32(c.ecn.v.State()))
	c.ids.localCID = newConnID()
	c.ids.resetKey = ep.resetKey
	c.hs.largestRx = packet.InvalidPacketNumber
	c.hs.deadline = now.Add(cfg.HandshakeTimeout)
	c.acks.init()
	c.loss.init(now, &cfg)
	c.streams.init(isServer, cfg)
	c.idle.init(cfg.MaxIdleTimeout, now)
	c.fec.init(cfg.FEC)
	c.limit.since = now
	c.stats.socketDrops.rebase(nil, ep.bind())
	return c
}

// localParams are the transport parameters we announce.
func (c *Conn) localParams() packet.TransportParameters {
	p := packet.DefaultTransportParameters()
	p.MaxIdleTimeout = c.cfg.MaxIdleTimeout
	p.MaxUDPPayloadSize = maxRxDatagram
	p.InitialMaxData = int64(c.cfg.InitialConnWindow)
	p.InitialMaxStreamDataBidiLocal = int64(c.cfg.InitialStreamWindow)
	p.InitialMaxStreamDataBidiRemote = int64(c.cfg.InitialStreamWindow)
	p.InitialMaxStreamDataUni = int64(c.cfg.InitialStreamWindow)
	p.InitialMaxStreamsBidi = uint64(c.cfg.MaxIncomingStreams)
	p.InitialMaxStreamsUni = uint64(c.cfg.MaxIncomingUniStreams)
	p.AckDelayExponent = 3
	p.MaxAckDelay = ackframes.DefaultMaxAckDelay
	p.ActiveConnIDLimit = activeConnIDLimit
	p.InitialSrcConnID = c.ids.localCID
	p.HasInitialSrcConnID = true
	p.FECMaxRepairSymbols = c.fec.announce()
	p.MinAckDelay, p.HasMinAckDelay = minAckDelay, true
	if c.isServer {
		if c.hs.appProto != "" {
			p.ApplicationProtocols = []string{c.hs.appProto}
		}
	} else {
		p.ApplicationProtocols = c.cfg.ApplicationProtocols
	}
	if c.isServer {
		p.StatelessResetToken = c.resetToken(c.ids.localCID)
		p.HasStatelessResetToken = true
		if c.hs.retried {
			p.OriginalDstConnID, p.HasOriginalDstConnID = c.hs.origDCID, true
			p.RetrySrcConnID, p.HasRetrySrcConnID = c.hs.retrySrcCID, true
		}
	}
	return p
}

// applyPeerParams sets up flow control and stream limits from the peer's
// transport parameters once the handshake has authenticated them.
func (c *Conn) applyPeerParams(p packet.TransportParameters, now time.Time) {
	c.peerParams = p
	c.streams.connSend = streams.NewSendWindow(p.InitialMaxData)
	c.streams.localBidi = streams.NewLocalStreamIDs(c.isServer, true, p.InitialMaxStreamsBidi)
	c.streams.localUni = streams.NewLocalStreamIDs(c.isServer, false, p.InitialMaxStreamsUni)
	c.qlogParameters("local", c.localParams())
	c.qlogParameters("remote", p)
	c.loss.SetPeerMaxAckDelay(p.MaxAckDelay)
	// RTT samples take off at most the peer's max_ack_delay of its ACK
	// Delay (RFC 9002 §5.3), not the 25 ms default whatever it announced.
	c.loss.rtt.SetMaxAckDelay(p.MaxAckDelay)
	c.ackFreq.init(p)
	if p.MaxIdleTimeout > 0 && p.MaxIdleTimeout < c.idle.timeout {
		c.idle.timeout = p.MaxIdleTimeout
	}
	c.fec.startSending(c.cfg.FEC, p.FECMaxRepairSymbols)
	c.startMTUDiscovery(now)
}

// loop is the connection's goroutine: the only one that touches its
// protocol state.
func (c *Conn) loop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for c.state != stateClosed {
		var msg func(time.Time)
		if c.rx.pending() {
			// A backlog of datagrams: do not wait, but let API calls in.
			select {
			case msg = <-c.msgCh:
			default:
			}
		} else {
			select {
			case <-c.rx.ready:
			case msg = <-c.msgCh:
			case <-c.wakeCh:
			case <-timer.C:
			}
		}
		// The clock is read once per iteration; everything below works
		// at this now (a datagram at its arrival time).
		now := time.Now()
		// A burst is handled before sending, so one ACK covers it.
		for range rxBurst {
			rx := c.rx.pop()
			if rx == nil {
				break
			}
			c.handleDatagram(rx)
		}
		if msg != nil {
			msg(now)
		}
		c.collectPending(now)
		c.onTimers(now)
		if c.state == stateClosed {
			break
		}
		if c.hs.acceptDue {
			c.hs.acceptDue = false
			c.ep.enqueue(c)
		}
		c.send(now)
		c.updateSendRoom()
		c.publishStats()
		c.qlogMetrics(now)
		timer.Reset(max(0, c.nextDeadline(now).Sub(now)))
	}
	c.finish()
}

// run executes f on the loop and waits for it. It fails once the
// connection has ended.
func (c *Conn) run(ctx context.Context, f func(now time.Time)) error {
	ran := make(chan struct{})
	select {
	case c.msgCh <- func(now time.Time) { f(now); close(ran) }:
	case <-c.done:
		return c.closeErr
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ran:
		return nil
	case <-c.done:
		// The loop may have run f just before exiting.
		select {
		case <-ran:
			return nil
		default:
		}
		return c.closeErr
	}
}

func (c *Conn) wake() {
	select {
	case c.wakeCh <- struct{}{}:
	default:
	}
}

// onWrite and onControl are called by streams when the application gave
// them something to send.
func (c *Conn) onWrite(s *Stream)   { c.queueStream(s) }
func (c *Conn) onControl(s *Stream) { c.queueStream(s) }

func (c *Conn) queueStream(s *Stream) {
	c.pend.mu.Lock()
	c.pend.streams = append(c.pend.streams, s)
	c.pend.mu.Unlock()
	c.wake()
}

// onRead accounts for n bytes the application read from s: connection
// credit, and perhaps MAX_STREAM_DATA and CONSUMED frames.
func (c *Conn) onRead(s *Stream, n int) {
	c.stats.streamBytesRead.Add(uint64(n))
	c.pend.mu.Lock()
	c.pend.read += int64(n)
	c.pend.reads = append(c.pend.reads, s)
	c.pend.mu.Unlock()
	c.wake()
}

// onDiscard accounts for bytes CancelRead threw away.
func (c *Conn) onDiscard(s *Stream, n int64) {
	c.pend.mu.Lock()
	c.pend.read += n
	c.pend.streams = append(c.pend.streams, s)
	c.pend.mu.Unlock()
	c.wake()
}

// collectPending moves what user goroutines queued into loop state.
func (c *Conn) collectPending(now time.Time) {
	c.pend.mu.Lock()
	// Opened streams are registered before this iteration sends: a write
	// or close queued with them must find them in byID.
	c.takeOpenedLocked()
	// Swap the two lists so neither is reallocated in steady state.
	pend := c.pend.streams
	c.pend.streams = c.pend.spare[:0]
	reads := c.pend.reads
	c.pend.reads = c.pend.spareReads[:0]
	read := c.pend.read
	c.pend.read = 0
	c.pend.mu.Unlock()
	if read > 0 {
		c.streams.connRecv.Consume(read)
	}
	for _, s := range reads {
		c.queueAfterRead(s, now)
	}
	clear(reads)
	c.pend.spareReads = reads[:0]
	for _, s := range pend {
		if s.send != nil {
			s.mu.Lock()
			has := s.send.HasData()
			s.mu.Unlock()
			if has {
				c.streams.sched.Push(s.id)
			}
		}
		c.queueCtrl(s)
	}
	clear(pend)
	c.pend.spare = pend[:0]
}

func (c *Conn) queueCtrl(s *Stream) {
	if !s.queuedCtrl {
		s.queuedCtrl = true
		c.streams.ctrl = append(c.streams.ctrl, s)
	}
}

// setPeerAddr records the peer's address for the loop and for RemoteAddr.
func (c *Conn) setPeerAddr(a netip.AddrPort) {
	c.path.peer = a
	p := new(netip.AddrPort)
	*p = a
	c.path.peerV.Store(p)
}

// LocalAddr is the local UDP address.
func (c *Conn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.ep.bind().LocalAddr()) }

// RemoteAddr is the peer's current address.
func (c *Conn) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(*c.path.peerV.Load()) }

// Done is closed when the connection has ended; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended, or nil while it is open.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.closeErr
	default:
		return nil
	}
}
