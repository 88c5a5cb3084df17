package transport

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/streams"
)

// streamsState is the connection's streams: their state, stream-ID limits
// both ways, connection-level flow control, and the scheduler that picks
// which stream sends next.
type streamsState struct {
	// mu guards byID, which the loop writes and Stats and close read.
	mu   sync.Mutex
	byID map[packet.StreamID]*Stream

	// openMu guards localBidi, localUni, openWaiters and openErr:
	// OpenStream allocates IDs on the caller's goroutine, without a round
	// trip through the loop.
	openMu                sync.Mutex
	localBidi, localUni   *streams.LocalStreamIDs  // streams we open
	openWaiters           chan struct{}            // closed and replaced when MAX_STREAMS grows
	openErr               error                    // set when the connection ends: no more opens
	remoteBidi, remoteUni *streams.RemoteStreamIDs // streams the peer opens

	sched    *streams.Scheduler
	connSend *streams.SendWindow
	connRecv *streams.RecvWindow

	// unsent is the stream bytes written and not yet sent once, over all
	// streams; bytes of a reset stream that will never be sent are taken
	// off.
	unsent atomic.Int64
	// unsentCap bounds unsent (sendRoom), and roomCh wakes writers waiting
	// for room under it: closed and cleared when room frees up. roomMu
	// guards roomCh; waiting mirrors roomCh != nil for the loop.
	unsentCap atomic.Int64
	aheadCap  atomic.Int64 // how far a stream may write past its credit
	roomMu    sync.Mutex
	roomCh    chan struct{}
	waiting   atomic.Bool
	// unsentMu makes a change of unsent and of the endpoint's count one
	// step, so that detached, set when the connection ended and took its
	// unsent bytes off the endpoint's count, cannot fall between them.
	unsentMu sync.Mutex
	detached bool

	ctrl         []*Stream   // streams with control frames due
	held         []*Stream   // streams whose partial packet waits to coalesce
	holdUntil    time.Time   // when the first held stream must be sent anyway
	lostReceipts []sentFrame // final CONSUMED frames of finished streams, to resend
	receipts     []*Stream   // streams whose receipt waits for an ACK to ride with
	receiptsAt   time.Time   // when they go anyway; zero while none waits

	// acceptMu guards the queues of peer-opened streams.
	acceptMu    sync.Mutex
	acceptBidi  []*Stream
	acceptUni   []*Stream
	acceptReady chan struct{} // closed and replaced when a queue grows
}

func (st *streamsState) init(isServer bool, cfg Config) {
	st.byID = make(map[packet.StreamID]*Stream)
	st.remoteBidi = streams.NewRemoteStreamIDs(isServer, true, uint64(cfg.MaxIncomingStreams))
	st.remoteUni = streams.NewRemoteStreamIDs(isServer, false, uint64(cfg.MaxIncomingUniStreams))
	st.openWaiters = make(chan struct{})
	st.sched = streams.NewScheduler(packet.DefaultMaxUDPPayload) // round robin per packet
	st.connRecv = streams.NewRecvWindow(int64(cfg.InitialConnWindow), int64(cfg.MaxConnWindow))
	st.acceptReady = make(chan struct{})
	st.unsentCap.Store(minUnsentCap)
	st.aheadCap.Store(aheadOfCredit)
}

// sendBufferSize caps the bytes a stream buffers unacknowledged: enough
// to fill the largest stream window.
func (c *Conn) sendBufferSize() int { return int(c.cfg.MaxStreamWindow) }

// A connection's send buffers are bounded three ways (docs/SECURITY.md),
// so that a peer cannot make a server hold its writes without limit by
// granting no credit or acknowledging nothing: each stream buffers at most
// sendBufferSize, and at most max(aheadOfCredit, the congestion window)
// past the peer's MAX_STREAM_DATA, so that a window is ready to go when
// credit comes (as TCP's send buffer holds data beyond the receive
// window: with less, a flow the receiver's window limits turns
// application-limited and loses its share); and the bytes written and not
// yet sent, over all
// streams, stay under max(minUnsentCap, 2 × the congestion window), which
// leaves room for what the path can carry next and no more (TCP's send
// buffer grows to about the same). Bytes sent and unacknowledged are
// bounded by the congestion window.
const (
	aheadOfCredit = 16 << 10
	// minUnsentCap leaves room for a hundred streams to run aheadOfCredit
	// past a peer that stopped reading, and as much again for the others.
	minUnsentCap = 2 << 20
)

// connRoom is how many more bytes the connection's own cap allows unsent.
func (c *Conn) connRoom() int64 {
	return c.streams.unsentCap.Load() - c.streams.unsent.Load()
}

// sendRoom is how many more bytes the connection's streams may buffer
// unsent now: under the connection's cap and the endpoint's
// (Config.MaxUnsentBytes).
func (c *Conn) sendRoom() int64 {
	return max(min(c.connRoom(), c.ep.sendRoom()), 0)
}

// reserveUnsent takes up to want bytes of room for a write about to copy
// them, counting them as unsent at once, so that writers on several
// streams or connections cannot each take the same room; the writer gives
// back, with addUnsent, what it did not copy. It returns the bytes taken.
func (c *Conn) reserveUnsent(want int64) int64 {
	st := &c.streams
	st.unsentMu.Lock()
	defer st.unsentMu.Unlock()
	take := max(min(want, c.connRoom()), 0)
	if take == 0 || st.detached {
		if take > 0 {
			st.unsent.Add(take)
		}
		return take
	}
	for {
		cur := c.ep.unsent.Load()
		take = max(min(take, c.ep.room.limit-cur), 0)
		if take == 0 {
			return 0
		}
		if c.ep.unsent.CompareAndSwap(cur, cur+take) {
			break
		}
	}
	st.unsent.Add(take)
	return take
}

// addUnsent counts n more (or, negative, fewer) bytes written and not yet
// sent, on the connection and, until it ended, its endpoint.
func (c *Conn) addUnsent(n int64) {
	st := &c.streams
	st.unsentMu.Lock()
	st.unsent.Add(n)
	if !st.detached {
		c.ep.unsent.Add(n)
	}
	st.unsentMu.Unlock()
}

// detachUnsent takes the ended connection's unsent bytes off its
// endpoint's count and wakes writers waiting for the endpoint's room.
func (c *Conn) detachUnsent() {
	st := &c.streams
	st.unsentMu.Lock()
	st.detached = true
	c.ep.unsent.Add(-st.unsent.Load())
	st.unsentMu.Unlock()
	c.ep.wakeRoomWaiters()
}

// waitRoom returns a channel closed when sendRoom may have grown, or nil
// if there is room now. The waiter is registered before room is checked
// again, so the loop that frees room either sees it or is seen.
func (c *Conn) waitRoom() <-chan struct{} {
	if c.ep.sendRoom() <= 0 {
		return c.ep.waitRoom()
	}
	st := &c.streams
	st.roomMu.Lock()
	if st.roomCh == nil {
		st.roomCh = make(chan struct{})
		st.waiting.Store(true)
	}
	ch := st.roomCh
	st.roomMu.Unlock()
	if c.sendRoom() > 0 {
		return nil // the channel stays for the loop to close
	}
	return ch
}

// updateSendRoom sets the unsent cap from the congestion window and wakes
// writers waiting for room: the connection's once half of its cap is
// free, the endpoint's as soon as it has any. It runs on the loop.
func (c *Conn) updateSendRoom() {
	st := &c.streams
	cwnd := int64(c.loss.cc.Window())
	st.unsentCap.Store(max(minUnsentCap, 2*cwnd))
	st.aheadCap.Store(max(aheadOfCredit, cwnd))
	c.ep.wakeRoomWaiters()
	if !st.waiting.Load() || 2*c.connRoom() < st.unsentCap.Load() {
		return
	}
	st.roomMu.Lock()
	if st.roomCh != nil {
		close(st.roomCh)
		st.roomCh = nil
		st.waiting.Store(false)
	}
	st.roomMu.Unlock()
}

// makeStream builds the state of stream id with the windows the handshake
// agreed (docs/PROTOCOL.md section 6). It runs on the loop.
func (c *Conn) makeStream(id packet.StreamID) *Stream {
	s := c.newStreamFor(id)
	c.registerStream(s)
	return s
}

// registerStream makes s known to the loop (and to Stats and close).
func (c *Conn) registerStream(s *Stream) {
	c.streams.mu.Lock()
	c.streams.byID[s.id] = s
	c.streams.mu.Unlock()
}

// newStreamFor builds stream id's state from the configuration and the
// peer's transport parameters, both fixed once the handshake is done, so
// any goroutine may call it after that.
func (c *Conn) newStreamFor(id packet.StreamID) *Stream {
	local := id.ServerInitiated() == c.isServer
	var send *streams.SendStream
	var recv *streams.RecvStream
	if id.Bidirectional() || local {
		peerMax := c.peerParams.InitialMaxStreamDataUni
		if id.Bidirectional() {
			if local {
				peerMax = c.peerParams.InitialMaxStreamDataBidiRemote
			} else {
				peerMax = c.peerParams.InitialMaxStreamDataBidiLocal
			}
		}
		send = streams.NewSendStream(streams.SendStreamConfig{
			MaxBuffered:      c.sendBufferSize(),
			MaxAheadOfCredit: aheadOfCredit,
			PeerMaxData:      peerMax,
		})
	}
	if id.Bidirectional() || !local {
		recv = streams.NewRecvStream(int64(c.cfg.InitialStreamWindow), int64(c.cfg.MaxStreamWindow))
	}
	return newStream(c, id, send, recv)
}

// streamForFrame finds the stream a frame refers to, opening peer-initiated
// streams implicitly (RFC 9000 §3.2). It returns nil, nil for a stream that
// existed and has been fully closed: late frames for it are ignored.
// sendSide says the frame concerns our sending half (MAX_STREAM_DATA,
// STOP_SENDING, CONSUMED), which a peer-initiated uni stream lacks.
func (c *Conn) streamForFrame(id packet.StreamID, ft packet.FrameType, sendSide bool) (*Stream, error) {
	local := id.ServerInitiated() == c.isServer
	if !id.Bidirectional() && local != sendSide {
		return nil, protoErr(packet.StreamStateError, ft, "frame for the wrong direction of a unidirectional stream")
	}
	if s := c.streams.byID[id]; s != nil {
		return s, nil
	}
	if local {
		c.streams.openMu.Lock()
		ids := c.streams.localUni
		if id.Bidirectional() {
			ids = c.streams.localBidi
		}
		err := ids.CheckOpened(id)
		c.streams.openMu.Unlock()
		if err != nil {
			return nil, protoErr(packet.StreamStateError, ft, err.Error())
		}
		// Closed already, or opened by the application and not yet taken
		// in. Nothing of the latter has been sent, so only a peer guessing
		// IDs gets here with it; its frame is ignored as for a closed
		// stream rather than answered with STREAM_STATE_ERROR.
		return nil, nil
	}
	ids := c.streams.remoteUni
	if id.Bidirectional() {
		ids = c.streams.remoteBidi
	}
	first, count, err := ids.Open(id)
	if err != nil {
		if errors.Is(err, streams.ErrStreamLimitExceeded) {
			return nil, protoErr(packet.StreamLimitError, ft, err.Error())
		}
		return nil, protoErr(packet.StreamStateError, ft, err.Error())
	}
	if count == 0 {
		return nil, nil // opened before and already closed
	}
	var s *Stream
	for i := 0; i < count; i++ {
		sid := first + packet.StreamID(4*i)
		s = c.makeStream(sid)
		c.streams.acceptMu.Lock()
		if sid.Bidirectional() {
			c.streams.acceptBidi = append(c.streams.acceptBidi, s)
		} else {
			c.streams.acceptUni = append(c.streams.acceptUni, s)
		}
		close(c.streams.acceptReady)
		c.streams.acceptReady = make(chan struct{})
		c.streams.acceptMu.Unlock()
	}
	return s, nil
}

func (c *Conn) onStreamFrame(f packet.StreamFrame, now time.Time) error {
	s, err := c.streamForFrame(f.StreamID, packet.FrameStream, false)
	if err != nil || s == nil {
		return err
	}
	s.mu.Lock()
	err = s.recv.HandleFrame(f.Offset, f.Data, f.Fin, c.streams.connRecv)
	done := s.recv.Done()
	s.mu.Unlock()
	if err != nil {
		return c.streamErr(err, packet.FrameStream)
	}
	signal(s.readable)
	c.notePeerResumed(s, false, now)
	if done {
		c.queueCtrl(s) // the last data of a stream nobody reads any more
	}
	return nil
}

// streamErr maps a streams package error to the transport error to close with.
func (c *Conn) streamErr(err error, ft packet.FrameType) error {
	code := packet.InternalError
	switch {
	case errors.Is(err, streams.ErrFlowControl):
		code = packet.FlowControlError
	case errors.Is(err, streams.ErrFinalSize):
		code = packet.FinalSizeError
	case errors.Is(err, streams.ErrStreamState):
		code = packet.StreamStateError
	case errors.Is(err, streams.ErrConsumedBeyondSent):
		code = packet.ProtocolViolation
	case errors.Is(err, streams.ErrStreamsValue):
		code = packet.FrameEncodingError
	case errors.Is(err, streams.ErrStreamLimitExceeded):
		code = packet.StreamLimitError
	}
	return protoErr(code, ft, err.Error())
}

func (c *Conn) onResetStream(f packet.ResetStreamFrame, now time.Time) error {
	s, err := c.streamForFrame(f.StreamID, packet.FrameResetStream, false)
	if err != nil || s == nil {
		return err
	}
	s.mu.Lock()
	err = s.recv.HandleReset(f.ErrorCode, f.FinalSize, c.streams.connRecv)
	if err == nil && s.recvErr == nil {
		if code, ok := s.recv.ResetCode(); ok {
			s.recvErr = &StreamError{StreamID: s.id, Code: ApplicationErrorCode(code), Remote: true}
		}
	}
	s.mu.Unlock()
	if err != nil {
		return c.streamErr(err, packet.FrameResetStream)
	}
	signal(s.readable)
	c.notePeerResumed(s, true, now) // it stopped waiting for our credit
	c.queueCtrl(s)
	return nil
}

func (c *Conn) onStopSending(f packet.StopSendingFrame) error {
	s, err := c.streamForFrame(f.StreamID, packet.FrameStopSending, true)
	if err != nil || s == nil {
		return err
	}
	s.mu.Lock()
	// The peer's application stopped reading: data not yet acknowledged
	// is abandoned with RESET_STREAM, and writes fail; so does WaitConsumed
	// beyond what the peer read, saying how far the data got.
	unsent := s.send.Unsent()
	reset := s.send.OnStopSending(f.ErrorCode)
	if reset {
		c.addUnsent(-unsent) // never to be sent now
	}
	if s.sendErr == nil && (reset || s.send.PeerConsumed() < s.send.Written()) {
		s.sendErr = &StreamError{StreamID: s.id, Code: ApplicationErrorCode(f.ErrorCode), Remote: true}
		s.wakeConsumedLocked()
	}
	s.mu.Unlock()
	signal(s.writable)
	c.queueCtrl(s)
	return nil
}

func (c *Conn) onMaxStreamData(f packet.MaxStreamDataFrame) error {
	s, err := c.streamForFrame(f.StreamID, packet.FrameMaxStreamData, true)
	if err != nil || s == nil {
		return err
	}
	s.mu.Lock()
	grew := s.send.SetPeerMaxData(f.Max)
	has := s.send.HasData()
	s.mu.Unlock()
	if grew {
		delete(c.limit.creditBlocked, s)
		signal(s.writable)
	}
	if grew && has {
		c.streams.sched.Push(s.id)
	}
	return nil
}

func (c *Conn) onMaxStreams(f packet.MaxStreamsFrame) error {
	c.streams.openMu.Lock()
	defer c.streams.openMu.Unlock()
	ids := c.streams.localUni
	if f.Bidirectional {
		ids = c.streams.localBidi
	}
	grew, err := ids.SetPeerMax(f.Max)
	if err != nil {
		return c.streamErr(err, f.Type())
	}
	if grew {
		close(c.streams.openWaiters)
		c.streams.openWaiters = make(chan struct{})
	}
	return nil
}

func (c *Conn) onConsumed(f packet.ConsumedFrame) error {
	s, err := c.streamForFrame(f.StreamID, packet.FrameConsumed, true)
	if err != nil || s == nil {
		return err
	}
	s.mu.Lock()
	before := s.send.PeerConsumed()
	err = s.send.OnPeerConsumed(f.Offset)
	if err == nil && s.send.PeerConsumed() > before {
		s.wakeConsumedLocked()
	}
	s.mu.Unlock()
	if err != nil {
		return c.streamErr(err, packet.FrameConsumed)
	}
	signal(s.writable)
	c.maybeFinishStream(s)
	return nil
}

// wakeAllSenders reschedules every stream with data after MAX_DATA grew.
func (c *Conn) wakeAllSenders() {
	for id, s := range c.streams.byID {
		if s.send == nil {
			continue
		}
		s.mu.Lock()
		has := s.send.HasData()
		s.mu.Unlock()
		if has {
			c.streams.sched.Push(id)
		}
	}
}

// maybeFinishStream forgets a stream whose both halves are done, and lets
// the peer open another in its place.
func (c *Conn) maybeFinishStream(s *Stream) {
	if s.finished {
		return
	}
	s.mu.Lock()
	// The send half stays until the peer's receipt covers everything sent
	// (or the stream was reset), so WaitConsumed sees the final CONSUMED.
	sendDone := s.send == nil || (s.send.Done() &&
		(s.send.PeerConsumed() >= s.send.BytesSent() || s.sendErr != nil))
	done := sendDone && (s.recv == nil || s.recv.Done())
	s.mu.Unlock()
	if !done {
		return
	}
	s.finished = true
	c.forgetStreamLimits(s, c.limit.since)
	c.streams.mu.Lock()
	delete(c.streams.byID, s.id)
	c.streams.mu.Unlock()
	c.streams.sched.Remove(s.id)
	if s.id.ServerInitiated() != c.isServer {
		if s.id.Bidirectional() {
			c.streams.remoteBidi.StreamClosed()
		} else {
			c.streams.remoteUni.StreamClosed()
		}
	}
	s.readDeadline.Stop()
	s.writeDeadline.Stop()
}

// OpenStream opens a bidirectional stream, waiting while the peer's stream
// limit is reached.
func (c *Conn) OpenStream(ctx context.Context) (*Stream, error) {
	return c.openStream(ctx, true)
}

// OpenUniStream opens a unidirectional (send-only) stream.
func (c *Conn) OpenUniStream(ctx context.Context) (*Stream, error) {
	return c.openStream(ctx, false)
}

func (c *Conn) openStream(ctx context.Context, bidi bool) (*Stream, error) {
	select {
	case <-c.established:
	case <-c.done:
		return nil, c.closeErr
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		s, wait, err := c.openLocal(bidi)
		if err != nil {
			return nil, err
		}
		if s != nil {
			return s, nil
		}
		select {
		case <-wait:
		case <-c.done:
			return nil, c.closeErr
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// openLocal opens our next stream on the caller's goroutine and hands it
// to the loop, which takes it in before anything else queued for it. At
// the peer's stream limit it returns a channel closed when MAX_STREAMS
// raises it.
func (c *Conn) openLocal(bidi bool) (*Stream, <-chan struct{}, error) {
	c.streams.openMu.Lock()
	defer c.streams.openMu.Unlock()
	if c.streams.openErr != nil {
		return nil, nil, c.streams.openErr
	}
	ids := c.streams.localUni
	if bidi {
		ids = c.streams.localBidi
	}
	id, err := ids.OpenNext()
	if err != nil {
		return nil, c.streams.openWaiters, nil
	}
	s := c.newStreamFor(id)
	c.pend.mu.Lock()
	c.pend.opened = append(c.pend.opened, s)
	c.pend.mu.Unlock()
	c.wake()
	return s, nil, nil
}

// stopOpening makes OpenStream fail with err from now on and takes in the
// streams opened before, so that the connection's end reaches them too.
func (c *Conn) stopOpening(err error) {
	c.streams.openMu.Lock()
	if c.streams.openErr == nil {
		c.streams.openErr = err
	}
	c.streams.openMu.Unlock()
	c.pend.mu.Lock()
	c.takeOpenedLocked()
	c.pend.mu.Unlock()
}

// takeOpenedLocked registers the streams OpenStream made; c.pend.mu is
// held.
func (c *Conn) takeOpenedLocked() {
	for i, s := range c.pend.opened {
		c.registerStream(s)
		c.pend.opened[i] = nil
	}
	c.pend.opened = c.pend.opened[:0]
}

// AcceptStream waits for the peer to open a bidirectional stream.
func (c *Conn) AcceptStream(ctx context.Context) (*Stream, error) {
	return c.acceptStream(ctx, true)
}

// AcceptUniStream waits for the peer to open a unidirectional stream.
func (c *Conn) AcceptUniStream(ctx context.Context) (*Stream, error) {
	return c.acceptStream(ctx, false)
}

func (c *Conn) acceptStream(ctx context.Context, bidi bool) (*Stream, error) {
	for {
		c.streams.acceptMu.Lock()
		q := &c.streams.acceptUni
		if bidi {
			q = &c.streams.acceptBidi
		}
		if len(*q) > 0 {
			s := (*q)[0]
			(*q)[0] = nil
			*q = (*q)[1:]
			c.streams.acceptMu.Unlock()
			return s, nil
		}
		ready := c.streams.acceptReady
		c.streams.acceptMu.Unlock()
		select {
		case <-ready:
		case <-c.done:
			return nil, c.closeErr
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
