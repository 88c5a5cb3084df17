package transport

import (
	"io"
	"sync"
)

// Stream implements io.WriterTo and io.ReaderFrom, so that io.Copy to or
// from a stream neither allocates a buffer per call nor, when reading,
// copies through one.
var (
	_ io.WriterTo   = (*Stream)(nil)
	_ io.ReaderFrom = (*Stream)(nil)
)

// WriteTo writes the stream's data to w until the peer's FIN, straight from
// the stream's receive buffer. It returns the bytes written and nil at the
// end of the stream, or the first error: w's (io.ErrShortWrite for a short
// write), or what Read would return (a *StreamError after a reset,
// ErrStreamClosed, the read deadline's, the connection's). A Read or
// WriteTo on another goroutine waits while it writes.
func (s *Stream) WriteTo(w io.Writer) (int64, error) {
	if s.recv == nil {
		return 0, errSendOnly
	}
	var total int64
	for {
		if s.readDeadline.Expired() {
			return total, errDeadline
		}
		s.mu.Lock()
		if s.readClosed {
			s.mu.Unlock()
			return total, ErrStreamClosed
		}
		if s.viewOut {
			s.mu.Unlock() // another WriteTo is writing
			select {
			case <-s.readable:
			case <-s.readDeadline.Wait():
			}
			continue
		}
		wasDone := s.recv.Done()
		view, fin := s.recv.Peek()
		err := s.recvErr
		if len(view) > 0 {
			s.viewOut = true
			s.mu.Unlock()
			m, werr := s.writeView(w, view)
			m = min(max(m, 0), len(view)) // a writer breaking io.Writer's rules
			s.mu.Lock()
			n, fin := s.recv.Consume(m)
			ended := !wasDone && s.recv.Done()
			stopped, discarded := s.endViewLocked()
			s.mu.Unlock()
			signal(s.readable) // for a reader that waited on the view
			if n > 0 || ended {
				s.c.onRead(s, n)
			}
			if stopped {
				s.c.onDiscard(s, discarded)
			}
			total += int64(m)
			switch {
			case werr != nil:
				return total, werr
			case m < len(view):
				return total, io.ErrShortWrite
			case fin:
				return total, nil
			}
			continue
		}
		ended := !wasDone && s.recv.Done()
		s.mu.Unlock()
		if ended {
			s.c.onRead(s, 0) // as Read: the stream may finish
		}
		switch {
		case fin:
			return total, nil
		case err != nil:
			return total, err
		}
		select {
		case <-s.readable:
		case <-s.readDeadline.Wait():
		}
	}
}

// writeView writes view to w; if w panics, the view ends before the panic
// goes on, so that the stream's other readers are not left waiting.
func (s *Stream) writeView(w io.Writer, view []byte) (int, error) {
	defer func() {
		if r := recover(); r != nil {
			s.mu.Lock()
			s.recv.Consume(0)
			stopped, discarded := s.endViewLocked()
			s.mu.Unlock()
			signal(s.readable)
			if stopped {
				s.c.onDiscard(s, discarded)
			}
			panic(r)
		}
	}()
	return w.Write(view)
}

// endViewLocked ends WriteTo's view (after its Consume) and carries out a
// CloseRead or CancelRead that came during the write, returning what it
// discarded for the loop.
func (s *Stream) endViewLocked() (stopped bool, discarded int64) {
	s.viewOut = false
	if !s.stopDeferred {
		return false, 0
	}
	s.stopDeferred = false
	return true, s.recv.StopSending(uint64(s.stopCode))
}

// ReadFrom writes what it reads from r to the stream until r's io.EOF,
// through a pooled buffer. It returns the bytes written and nil at r's end,
// or the first error, r's or what Write would return.
func (s *Stream) ReadFrom(r io.Reader) (int64, error) {
	if s.send == nil {
		return 0, errReceiveOnly
	}
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	var total int64
	for {
		n, rerr := r.Read(*bp)
		if n > 0 {
			m, werr := s.Write((*bp)[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		switch {
		case rerr == io.EOF:
			return total, nil
		case rerr != nil:
			return total, rerr
		}
	}
}

// copyBuffers holds ReadFrom's buffers, io.Copy's size.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
