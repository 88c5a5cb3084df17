package session

import (
	"errors"
	"fmt"

	"github.com/limpetnet/limpet/transport"
)

// control is one connection's control stream.
type control struct {
	st   *transport.Stream
	gen  uint64
	sent int64 // bytes this end has written on it; guarded by Session.ctrlMu
}

// start runs a connection's goroutines: the opener of this end's
// carriers, the acceptor of the peer's, the control reader and its
// receipts, and the watcher that notices the connection end. Then it
// tells the peer of the stream endings it may not know: readings this
// end finished since its state was taken, and resets.
func (s *Session) start(conn *transport.Conn, gen uint64) {
	s.mu.Lock()
	c := s.ctrl
	s.mu.Unlock()
	go s.openCarriers(conn, gen)
	go s.acceptCarriers(conn, gen)
	go s.readControl(c)
	go s.controlReceipts(conn, c)
	go s.watch(conn, gen)
	s.mu.Lock()
	var msgs []byte
	var told []*Stream
	for _, st := range s.streams {
		if st.recvDone && !st.doneAcked && st.doneAckGen != gen {
			msgs = appendMessage(msgs, msgRecvDone, (&recvDone{id: st.id, stop: st.stop, readOff: uint64(st.readOff)}).append(nil))
			told = append(told, st)
		}
		if st.hasReset && !st.sendDone {
			msgs = appendMessage(msgs, msgReset, (&reset{id: st.id, code: st.resetCode}).append(nil))
		}
	}
	s.mu.Unlock()
	if len(msgs) > 0 {
		s.sendRecvDones(c, msgs, told)
	}
}

// writeControl writes framed messages to a control stream and returns
// the stream offset after them; a failure means the connection is
// ending, which the watcher handles.
func (s *Session) writeControl(c *control, msgs []byte) (end int64, err error) {
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	n, err := c.st.Write(msgs)
	c.sent += int64(n)
	return c.sent, err
}

// sendControl writes one message to the current control stream, if any.
func (s *Session) sendControl(typ byte, payload []byte) {
	s.mu.Lock()
	c := s.ctrl
	s.mu.Unlock()
	if c != nil {
		s.writeControl(c, appendMessage(nil, typ, payload))
	}
}

// sendRecvDone tells the peer this end has finished reading st.
func (s *Session) sendRecvDone(st *Stream) {
	s.mu.Lock()
	c, m := s.ctrl, recvDone{id: st.id, stop: st.stop, readOff: uint64(st.readOff)}
	s.mu.Unlock()
	if c != nil {
		s.sendRecvDones(c, appendMessage(nil, msgRecvDone, m.append(nil)), []*Stream{st})
	}
}

// sendRecvDones writes msgs, which include a RECV_DONE for each of
// streams, and notes where on c the peer will have read them.
func (s *Session) sendRecvDones(c *control, msgs []byte, streams []*Stream) {
	end, err := s.writeControl(c, msgs)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range streams {
		if s.gen == c.gen && st.recvDone && !st.doneAcked {
			st.doneAckGen, st.doneAckAt = c.gen, end
			st.checkDoneAckedLocked()
		}
	}
}

// controlReceipts follows the peer's delivery receipts on a control
// stream: once the peer's session has read a RECV_DONE (or the state
// that carried it), the stream can be forgotten here.
func (s *Session) controlReceipts(conn *transport.Conn, c *control) {
	var last int64
	for {
		if err := c.st.WaitConsumed(conn.Context(), last+1); err != nil {
			return
		}
		last = c.st.Consumed()
		s.mu.Lock()
		if s.gen != c.gen {
			s.mu.Unlock()
			return
		}
		s.ctrlConsumed = last
		for _, st := range s.streams {
			st.checkDoneAckedLocked()
		}
		s.mu.Unlock()
	}
}

// readControl reads the peer's control messages on one connection. A
// message read is acted on even if the connection has ended meanwhile:
// the peer's receipts have told it this end read it.
func (s *Session) readControl(c *control) {
	for {
		s.ctrlReadMu.Lock()
		err := s.readControlMessage(c)
		s.ctrlReadMu.Unlock()
		if err != nil {
			if errors.Is(err, errMalformed) || errors.Is(err, errProtocol) {
				s.protocolError(err)
			}
			return
		}
	}
}

func (s *Session) readControlMessage(c *control) error {
	typ, payload, err := readMessage(c.st, maxControlMessage)
	if err != nil {
		return err
	}
	switch typ {
	case msgRecvDone:
		m, err := parseRecvDone(payload)
		if err != nil {
			return err
		}
		s.mu.Lock()
		st, err := s.streamForPeerLocked(m.id)
		var carrier *transport.Stream
		if st != nil && err == nil {
			if !st.sendDone && m.stop != 0 {
				carrier = st.carrier
			}
			err = st.onPeerRecvDoneLocked(m.stop, int64(m.readOff))
			st.maybeRetireLocked()
		}
		s.mu.Unlock()
		if carrier != nil {
			// Unblocks a pump the peer no longer reads from.
			carrier.CancelWrite(transport.ApplicationErrorCode(m.stop - 1))
		}
		return err
	case msgReset:
		m, err := parseReset(payload)
		if err != nil {
			return err
		}
		s.mu.Lock()
		st, err := s.streamForPeerLocked(m.id)
		var carrier *transport.Stream
		tell := false
		if st != nil && !st.recvDone {
			st.recvErr = &transport.StreamError{StreamID: transport.StreamID(st.id), Code: transport.ApplicationErrorCode(m.code), Remote: true}
			st.setRecvDoneLocked(0)
			carrier, tell = st.carrier, true
		}
		s.mu.Unlock()
		if carrier != nil {
			// Frees the carrier's slot: nobody will read it to the end.
			carrier.CancelRead(0)
		}
		if tell {
			s.sendRecvDone(st)
		}
		return err
	}
	return fmt.Errorf("%w: control message type %#x", errProtocol, typ)
}

// maxStreamID bounds stream IDs: a varint carries less than 2^62.
const maxStreamID = 1 << 62

// streamForPeerLocked finds stream id for something the peer sent about
// it. A stream of the peer's not seen yet is opened, with every one of
// the peer's numbered below it, within the limit. nil with no error: the
// stream was finished both ways and forgotten here.
func (s *Session) streamForPeerLocked(id uint64) (*Stream, error) {
	if id >= maxStreamID {
		return nil, fmt.Errorf("%w: stream ID %d out of range", errProtocol, id)
	}
	if st := s.streams[id]; st != nil {
		return st, nil
	}
	seq := id >> 1
	if s.mine(id) {
		if seq >= s.opened {
			return nil, fmt.Errorf("%w: peer names stream %d, which this end never opened", errProtocol, id)
		}
		return nil, nil
	}
	if seq < s.seen {
		return nil, nil
	}
	// Unsigned, so that no ID can wrap the count.
	if room := s.cfg.MaxStreams - s.peerReading; room <= 0 || seq-s.seen >= uint64(room) {
		return nil, fmt.Errorf("%w: peer opened more than %d streams", errProtocol, s.cfg.MaxStreams)
	}
	for ; s.seen <= seq; s.seen++ {
		ns := newStream(s, streamID(s.seen, s.isClient))
		s.streams[ns.id] = ns
		s.peerReading++
		s.acceptQ = append(s.acceptQ, ns)
	}
	s.wakeLocked()
	return s.streams[id], nil
}
