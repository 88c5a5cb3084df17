package transport

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/ackframes"
	"github.com/limpetnet/limpet/congestion"
	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/streams"
)

// connState is where a connection is in its life.
type connState uint8

const (
	stateHandshake connState = iota // client: waiting for message 2
	stateActive                     // 1-RTT keys in hand
	stateClosing                    // we sent CONNECTION_CLOSE; answer packets with it
	stateDraining                   // the peer closed; send nothing
	stateClosed                     // loop has exited
)

// maxPTOInterval caps the probe timeout's exponential backoff.
const maxPTOInterval = time.Second

// Conn is a limpet connection. It is safe for concurrent use.
type Conn struct {
	ep       *endpoint
	isServer bool
	cfg      Config

	// Cross-goroutine plumbing. rxCh carries datagrams from the endpoint's
	// reader; msgCh carries closures from API calls to run on the loop;
	// wakeCh says a stream has something to send.
	rxCh      chan *rxDatagram
	msgCh     chan func()
	wakeCh    chan struct{}
	done      chan struct{} // closed when the loop has exited
	rxDropped atomic.Uint64

	// pendMu guards the lists that user goroutines append to for the loop.
	pendMu      sync.Mutex
	pendStreams []*Stream // streams with new data or control frames to send
	pendRead    int64     // bytes read by the application, for MAX_DATA
	pendSpare   []*Stream // loop-owned: the other half of pendStreams' double buffer

	// established is closed when the handshake has completed (1-RTT keys).
	established chan struct{}
	// closeErr is why the connection ended; set before done is closed.
	closeErr error

	peerAddrV atomic.Pointer[netip.AddrPort]
	// peerKey is the peer's authenticated static key, written once before
	// established is closed.
	peerKey crypto.PublicKey

	// Everything below is owned by the loop goroutine.
	state     connState
	localCID  packet.ConnectionID // what the peer puts in DCID
	remoteCID packet.ConnectionID // what we put in DCID
	// origDCID is the DCID of the client's first Initial. It seeds the
	// Initial keys and the handshake prologue unless a Retry intervened;
	// a Retry's integrity tag covers it, and a server that sent a Retry
	// echoes it in original_destination_connection_id.
	origDCID packet.ConnectionID
	peerAddr netip.AddrPort
	// addrValidated lifts the anti-amplification limit (docs/PROTOCOL.md
	// section 9): a server may send 3× what it received until then.
	addrValidated bool
	bytesRecvPath int64
	bytesSentPath int64

	// Handshake.
	initSeal          *crypto.Sealer
	initOpen          *crypto.Opener
	clientHS          *crypto.ClientHandshake
	cryptoOut         []byte // our handshake message (msg1 or msg2), resent as needed
	cryptoIn          []byte // the peer's handshake message, reassembled
	initialResendAt   time.Time
	initialBackoff    time.Duration
	resendInitial     bool // server: a duplicate msg1 arrived; send msg2 again
	pnInitial         packet.PacketNumber
	largestRxInit     packet.PacketNumber
	keys              *crypto.AppKeys
	confirmed         bool // handshake confirmed (docs/PROTOCOL.md section 4.6)
	sendHSDone        bool // server: HANDSHAKE_DONE due
	peerParams        packet.TransportParameters
	handshakeDeadline time.Time
	// Retry (docs/PROTOCOL.md section 2.2). retried says the client
	// followed a Retry, or the server accepted the token of one; then
	// retrySrcCID is that Retry's SCID, which the server announces in
	// retry_source_connection_id, and the client repeats retryToken in
	// every Initial. Set before the loop starts (server) or on it (client).
	retried     bool
	retrySrcCID packet.ConnectionID
	retryToken  []byte

	// Loss recovery and congestion control (Application space).
	pnGen    *ackframes.PacketNumberGenerator
	recv     *ackframes.Receiver
	loss     *ackframes.LossDetector[sentFrames]
	rtt      congestion.RTTStats
	cc       congestion.Controller
	pacer    *congestion.Pacer
	ackBuf   []packet.AckRange
	ackedBuf []ackframes.SentPacket[sentFrames]
	lostBuf  []ackframes.SentPacket[sentFrames]
	pingDue  bool // send an ack-eliciting packet even without data (PTO probe, keepalive)
	probes   int  // PTO probes still to send

	// Streams.
	streamsMu    sync.Mutex // guards streams for Stats and accept, loop writes
	streams      map[packet.StreamID]*Stream
	localBidi    *streams.LocalStreamIDs
	localUni     *streams.LocalStreamIDs
	remoteBidi   *streams.RemoteStreamIDs
	remoteUni    *streams.RemoteStreamIDs
	sched        *streams.Scheduler
	connSend     *streams.SendWindow
	connRecv     *streams.RecvWindow
	ctrlStreams  []*Stream
	held         []*Stream      // streams whose partial packet waits to coalesce
	holdUntil    time.Time      // when the first held stream must be sent anyway
	rxFrom       netip.AddrPort // source of the packet being processed
	lostReceipts []sentFrame    // final CONSUMED frames of finished streams, to resend
	openWaiters  chan struct{}  // closed and replaced when MAX_STREAMS grows

	// acceptMu guards the queues of peer-opened streams.
	acceptMu    sync.Mutex
	acceptBidi  []*Stream
	acceptUni   []*Stream
	acceptReady chan struct{} // closed and replaced when a queue grows

	// Timers.
	idleTimeout time.Duration
	lastRecv    time.Time
	// lastAckProgress is when an ACK last acknowledged something new: a
	// path the peer still receives on, even if it still sends on it.
	lastAckProgress time.Time
	idleBase        time.Time // the idle timer runs from here (RFC 9000 §10.1)
	lastAckElicit   time.Time // last ack-eliciting packet sent
	closeUntil      time.Time // end of closing/draining
	closeFrame      []byte    // CONNECTION_CLOSE payload to resend while closing
	closeSentAt     time.Time

	// Connection IDs and the network path (migration).
	ids     connIDs
	path    pathState
	newBind func(network, addr string) (Bind, error) // client: opens a socket to migrate to; nil disables

	// Forward error correction (docs/PROTOCOL.md section 10; conn_fec.go).
	fec fecState

	// Statistics, written by the loop, read atomically by Stats.
	stats connStats

	txBufs   []Datagram
	buildRec sentFrames // scratch record of the packet being built

	// testDropPacket, set only by tests, drops a built packet as if the
	// network lost it (it still counts as sent and is recovered).
	testDropPacket func(rec *sentFrames) bool
	dropBuilt      bool
}

func newConn(ep *endpoint, isServer bool, cfg Config, peer netip.AddrPort, now time.Time) *Conn {
	c := &Conn{
		ep:            ep,
		isServer:      isServer,
		cfg:           cfg,
		rxCh:          make(chan *rxDatagram, 1024),
		msgCh:         make(chan func(), 1),
		wakeCh:        make(chan struct{}, 1),
		done:          make(chan struct{}),
		established:   make(chan struct{}),
		peerAddr:      peer,
		localCID:      newConnID(),
		largestRxInit: packet.InvalidPacketNumber,
		pnGen:         ackframes.NewPacketNumberGenerator(rand.NewPCG(rand.Uint64(), rand.Uint64()), ackframes.DefaultSkipPeriod),
		recv:          ackframes.NewReceiver(ackframes.DefaultMaxAckDelay, ackframes.DefaultMaxAckRanges),
		// Probe at least every second during an outage, so a path that
		// comes back is noticed within about a second (docs/PROTOCOL.md 9).
		loss:            ackframes.NewLossDetector[sentFrames](ackframes.LossConfig{MaxPTOInterval: maxPTOInterval}),
		streams:         make(map[packet.StreamID]*Stream),
		sched:           streams.NewScheduler(maxDatagramSize), // round robin per packet
		connRecv:        streams.NewRecvWindow(int64(cfg.InitialConnWindow), int64(cfg.MaxConnWindow)),
		openWaiters:     make(chan struct{}),
		acceptReady:     make(chan struct{}),
		idleTimeout:     cfg.MaxIdleTimeout,
		lastRecv:        now,
		lastAckProgress: now,
		idleBase:        now,
	}
	c.setPeerAddr(peer)
	c.ids.resetKey = ep.resetKey
	cubic := congestion.NewCubic(congestion.CubicOptions{MaxDatagramSize: maxDatagramSize})
	c.cc = cubic
	c.pacer = congestion.NewPacer(maxDatagramSize)
	c.remoteBidi = streams.NewRemoteStreamIDs(isServer, true, uint64(cfg.MaxIncomingStreams))
	c.remoteUni = streams.NewRemoteStreamIDs(isServer, false, uint64(cfg.MaxIncomingUniStreams))
	c.handshakeDeadline = now.Add(cfg.HandshakeTimeout)
	c.fec.init(cfg.FEC)
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
	p.InitialSrcConnID = c.localCID
	p.HasInitialSrcConnID = true
	p.FECMaxRepairSymbols = c.fec.announce()
	if c.isServer {
		p.StatelessResetToken = c.resetToken(c.localCID)
		p.HasStatelessResetToken = true
		if c.retried {
			p.OriginalDstConnID, p.HasOriginalDstConnID = c.origDCID, true
			p.RetrySrcConnID, p.HasRetrySrcConnID = c.retrySrcCID, true
		}
	}
	return p
}

// applyPeerParams sets up flow control and stream limits from the peer's
// transport parameters once the handshake has authenticated them.
func (c *Conn) applyPeerParams(p packet.TransportParameters) {
	c.peerParams = p
	c.connSend = streams.NewSendWindow(p.InitialMaxData)
	c.localBidi = streams.NewLocalStreamIDs(c.isServer, true, p.InitialMaxStreamsBidi)
	c.localUni = streams.NewLocalStreamIDs(c.isServer, false, p.InitialMaxStreamsUni)
	c.loss.SetPeerMaxAckDelay(p.MaxAckDelay)
	if p.MaxIdleTimeout > 0 && p.MaxIdleTimeout < c.idleTimeout {
		c.idleTimeout = p.MaxIdleTimeout
	}
	c.fec.startSending(c.cfg.FEC, p.FECMaxRepairSymbols)
}

// loop is the connection's goroutine: the only one that touches its
// protocol state.
func (c *Conn) loop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for c.state != stateClosed {
		select {
		case rx := <-c.rxCh:
			c.handleDatagram(rx)
			// Drain what else is queued before sending, so one ACK covers
			// a burst.
			for i := 0; i < 64; i++ {
				select {
				case rx = <-c.rxCh:
					c.handleDatagram(rx)
					continue
				default:
				}
				break
			}
		case f := <-c.msgCh:
			f()
		case <-c.wakeCh:
		case <-timer.C:
		}
		now := time.Now()
		c.collectPending(now)
		c.onTimers(now)
		if c.state == stateClosed {
			break
		}
		c.send(now)
		c.publishStats()
		next := c.nextDeadline(now)
		d := next.Sub(time.Now())
		if d < 0 {
			d = 0
		}
		timer.Reset(d)
	}
	c.finish()
}

// run executes f on the loop and waits for it. It fails once the
// connection has ended.
func (c *Conn) run(ctx context.Context, f func()) error {
	ran := make(chan struct{})
	select {
	case c.msgCh <- func() { f(); close(ran) }:
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
	c.pendMu.Lock()
	c.pendStreams = append(c.pendStreams, s)
	c.pendMu.Unlock()
	c.wake()
}

// onRead accounts for n bytes the application read from s: connection
// credit, and perhaps MAX_STREAM_DATA and CONSUMED frames.
func (c *Conn) onRead(s *Stream, n int) {
	c.pendMu.Lock()
	c.pendRead += int64(n)
	c.pendStreams = append(c.pendStreams, s)
	c.pendMu.Unlock()
	c.wake()
}

// onDiscard accounts for bytes CancelRead threw away.
func (c *Conn) onDiscard(s *Stream, n int64) {
	c.pendMu.Lock()
	c.pendRead += n
	c.pendStreams = append(c.pendStreams, s)
	c.pendMu.Unlock()
	c.wake()
}

// collectPending moves what user goroutines queued into loop state.
func (c *Conn) collectPending(now time.Time) {
	c.pendMu.Lock()
	// Swap the two lists so neither is reallocated in steady state.
	pend := c.pendStreams
	c.pendStreams = c.pendSpare[:0]
	read := c.pendRead
	c.pendRead = 0
	c.pendMu.Unlock()
	if read > 0 {
		c.connRecv.Consume(read)
	}
	for _, s := range pend {
		if s.send != nil {
			s.mu.Lock()
			has := s.send.HasData()
			s.mu.Unlock()
			if has {
				c.sched.Push(s.id)
			}
		}
		c.queueCtrl(s)
	}
	clear(pend)
	c.pendSpare = pend[:0]
}

func (c *Conn) queueCtrl(s *Stream) {
	if !s.queuedCtrl {
		s.queuedCtrl = true
		c.ctrlStreams = append(c.ctrlStreams, s)
	}
}

// setPeerAddr records the peer's address for the loop and for RemoteAddr.
func (c *Conn) setPeerAddr(a netip.AddrPort) {
	c.peerAddr = a
	p := new(netip.AddrPort)
	*p = a
	c.peerAddrV.Store(p)
}

// LocalAddr is the local UDP address.
func (c *Conn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.ep.bind().LocalAddr()) }

// RemoteAddr is the peer's current address.
func (c *Conn) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(*c.peerAddrV.Load()) }

// RemoteKey is the peer's static public key, proven in the handshake: the
// pinned server key on a client, the client's key on a server (a random one
// when the client has no PrivateKey). Servers use it to tell clients apart
// across addresses and connections.
func (c *Conn) RemoteKey() crypto.PublicKey {
	select {
	case <-c.established:
	case <-c.done:
	}
	select {
	case <-c.established:
		return c.peerKey
	default:
		return crypto.PublicKey{} // closed before the handshake completed
	}
}

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
