package transport

import (
	"context"
	"errors"
	"time"

	"github.com/limpetnet/limpet/packet"
	"github.com/limpetnet/limpet/streams"
)

// sendBufferSize caps the bytes a stream buffers unacknowledged: enough
// to fill the largest stream window.
func (c *Conn) sendBufferSize() int { return int(c.cfg.MaxStreamWindow) }

// makeStream builds the state of stream id with the windows the handshake
// agreed (docs/PROTOCOL.md section 6). It runs on the loop.
func (c *Conn) makeStream(id packet.StreamID) *Stream {
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
			MaxBuffered: c.sendBufferSize(),
			PeerMaxData: peerMax,
		})
	}
	if id.Bidirectional() || !local {
		recv = streams.NewRecvStream(int64(c.cfg.InitialStreamWindow), int64(c.cfg.MaxStreamWindow))
	}
	s := newStream(c, id, send, recv)
	c.streamsMu.Lock()
	c.streams[id] = s
	c.streamsMu.Unlock()
	return s
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
	if s := c.streams[id]; s != nil {
		return s, nil
	}
	if local {
		ids := c.localUni
		if id.Bidirectional() {
			ids = c.localBidi
		}
		if err := ids.CheckOpened(id); err != nil {
			return nil, protoErr(packet.StreamStateError, ft, err.Error())
		}
		return nil, nil // closed already
	}
	ids := c.remoteUni
	if id.Bidirectional() {
		ids = c.remoteBidi
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
		c.acceptMu.Lock()
		if sid.Bidirectional() {
			c.acceptBidi = append(c.acceptBidi, s)
		} else {
			c.acceptUni = append(c.acceptUni, s)
		}
		close(c.acceptReady)
		c.acceptReady = make(chan struct{})
		c.acceptMu.Unlock()
	}
	return s, nil
}

func (c *Conn) onStreamFrame(f packet.StreamFrame, now time.Time) error {
	s, err := c.streamForFrame(f.StreamID, packet.FrameStream, false)
	if err != nil || s == nil {
		return err
	}
	s.mu.Lock()
	err = s.recv.HandleFrame(f.Offset, f.Data, f.Fin, c.connRecv)
	s.mu.Unlock()
	if err != nil {
		return c.streamErr(err, packet.FrameStream)
	}
	signal(s.readable)
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

func (c *Conn) onResetStream(f packet.ResetStreamFrame) error {
	s, err := c.streamForFrame(f.StreamID, packet.FrameResetStream, false)
	if err != nil || s == nil {
		return err
	}
	s.mu.Lock()
	err = s.recv.HandleReset(f.ErrorCode, f.FinalSize, c.connRecv)
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
	c.queueCtrl(s)
	return nil
}

func (c *Conn) onStopSending(f packet.StopSendingFrame) error {
	s, err := c.streamForFrame(f.StreamID, packet.FrameStopSending, true)
	if err != nil || s == nil {
		return err
	}
	s.mu.Lock()
	if s.send.OnStopSending(f.ErrorCode) && s.sendErr == nil {
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
	if grew && has {
		c.sched.Push(s.id)
	}
	return nil
}

func (c *Conn) onMaxStreams(f packet.MaxStreamsFrame) error {
	ids := c.localUni
	if f.Bidirectional {
		ids = c.localBidi
	}
	grew, err := ids.SetPeerMax(f.Max)
	if err != nil {
		return c.streamErr(err, f.Type())
	}
	if grew {
		close(c.openWaiters)
		c.openWaiters = make(chan struct{})
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
	for id, s := range c.streams {
		if s.send == nil {
			continue
		}
		s.mu.Lock()
		has := s.send.HasData()
		s.mu.Unlock()
		if has {
			c.sched.Push(id)
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
	c.streamsMu.Lock()
	delete(c.streams, s.id)
	c.streamsMu.Unlock()
	c.sched.Remove(s.id)
	if s.id.ServerInitiated() != c.isServer {
		if s.id.Bidirectional() {
			c.remoteBidi.StreamClosed()
		} else {
			c.remoteUni.StreamClosed()
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
		var s *Stream
		var wait chan struct{}
		err := c.run(ctx, func() {
			ids := c.localUni
			if bidi {
				ids = c.localBidi
			}
			id, err := ids.OpenNext()
			if err != nil {
				wait = c.openWaiters
				return
			}
			s = c.makeStream(id)
		})
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
		c.acceptMu.Lock()
		q := &c.acceptUni
		if bidi {
			q = &c.acceptBidi
		}
		if len(*q) > 0 {
			s := (*q)[0]
			(*q)[0] = nil
			*q = (*q)[1:]
			c.acceptMu.Unlock()
			return s, nil
		}
		ready := c.acceptReady
		c.acceptMu.Unlock()
		select {
		case <-ready:
		case <-c.done:
			return nil, c.closeErr
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
