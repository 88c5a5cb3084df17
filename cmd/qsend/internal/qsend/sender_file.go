package qsend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/limpetnet/limpet/cmd/qsend/internal/wire"
	"github.com/limpetnet/limpet/transport"
	sess "github.com/limpetnet/limpet/transport/session"
)

// errLocal marks a failure reading the sender's own file: that file fails,
// the session goes on.
type errLocal struct{ msg string }

func (e *errLocal) Error() string { return e.msg }

// sendFile sends entry i from offset and records the receiver's verdict.
// A prefix mismatch sends the file once more from the start.
func (s *sendSession) sendFile(i int, offset int64) {
	e := s.entries[i]
	for {
		res, err := s.sendOnce(i, offset)
		var local *errLocal
		switch {
		case errors.As(err, &local):
			s.addFailure(local.msg)
			return
		case err != nil:
			s.setFatal(err)
			return
		}
		switch res.Status {
		case wire.StatusOK:
			s.mu.Lock()
			s.delivered[i] = e.Size
			s.mu.Unlock()
			s.resumed.Add(offset)
			s.newBytes.Add(e.Size - offset)
			if s.cfg.Verbose {
				s.con.logf("sent %s (%s)", e.Path, FormatSize(e.Size))
			}
			return
		case wire.StatusRestart:
			if offset == 0 {
				s.setFatal(s.protocolError(fmt.Errorf("%s: restart asked for at offset 0", e.Path)))
				return
			}
			if s.cfg.Verbose {
				s.con.logf("%s: %s; sending it from the start", e.Path, res.Message)
			}
			s.progress.addTotal(offset)
			s.mu.Lock()
			s.delivered[i] = 0
			s.mu.Unlock()
			offset = 0
		case wire.StatusFailed:
			s.addFailure("receiver: " + res.Message)
			return
		case wire.StatusAbort:
			s.setFatal(failf("receiver: %s", res.Message))
			return
		}
	}
}

// sendOnce sends one file on a new stream and waits for its Result. It
// returns *errLocal for a problem with the local file and a connection
// error (classified by connLost) if the connection failed.
func (s *sendSession) sendOnce(i int, offset int64) (wire.Result, error) {
	e := s.entries[i]
	f, err := os.Open(e.local)
	if err != nil {
		return wire.Result{}, &errLocal{describePathError(e.local, err)}
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || info.Size() != e.Size {
		return wire.Result{}, &errLocal{fmt.Sprintf("%s: changed size since the transfer started; not sent", e.local)}
	}
	hasher := wire.NewHash()
	if offset > 0 {
		if n, err := io.Copy(hasher, io.NewSectionReader(f, 0, offset)); err != nil || n != offset {
			return wire.Result{}, &errLocal{fmt.Sprintf("%s: cannot read it back to compare with the receiver's copy", e.local)}
		}
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			return wire.Result{}, &errLocal{describePathError(e.local, err)}
		}
	}
	hdr := wire.FileHeader{Index: int64(i), Offset: offset, PrefixHash: [wire.HashLen]byte(hasher.Sum(nil))}
	hdrFrame := wire.AppendFrame(nil, wire.FrameFileHeader, hdr.Append(nil))

	st, err := s.conn.OpenStream(s.ctx)
	if err != nil {
		return wire.Result{}, s.connLost(err)
	}
	s.mu.Lock()
	fl := &flight{st: st, offset: offset, headerLen: int64(len(hdrFrame)), size: e.Size}
	s.inflight[i] = fl
	s.mu.Unlock()
	s.progress.startFile(i, e.Path, e.Size, offset)
	// Cancel the stream if the session stops, so a blocked Write returns.
	stop := context.AfterFunc(s.ctx, func() {
		st.CancelWrite(codeCanceled)
		st.CancelRead(codeCanceled)
	})
	defer func() {
		stop()
		s.mu.Lock()
		delete(s.inflight, i)
		s.delivered[i] = max(s.delivered[i], fl.deliveredNow())
		s.mu.Unlock()
	}()

	type outcome struct {
		res wire.Result
		err error
	}
	results := make(chan outcome, 1)
	go func() {
		body, err := wire.ReadFrame(st, wire.FrameResult, wire.MaxResultLen)
		if err != nil {
			results <- outcome{err: err}
			return
		}
		res, err := wire.ParseResult(body)
		results <- outcome{res: res, err: err}
	}()

	writeErr := s.writeFile(st, f, hasher, hdrFrame, i, e.Size-offset)
	var local *errLocal
	if errors.As(writeErr, &local) {
		st.CancelWrite(codeCanceled)
	}
	out := <-results
	s.progress.endFile(i, out.err == nil && out.res.Status == wire.StatusOK)
	switch {
	case out.err == nil:
		return out.res, nil // an answer wins over a write error: it says why
	case local != nil:
		return wire.Result{}, local
	case errors.Is(out.err, wire.ErrMalformed):
		return wire.Result{}, s.protocolError(out.err)
	}
	select {
	case <-s.conn.Done():
		return wire.Result{}, s.connLost(out.err)
	default:
	}
	if s.ctx.Err() != nil {
		return wire.Result{}, s.connLost(out.err)
	}
	var se *transport.StreamError
	if errors.As(out.err, &se) || errors.As(writeErr, &se) {
		return wire.Result{Status: wire.StatusFailed, Message: fmt.Sprintf("%s: the receiver reset the stream (code %d)", e.Path, se.Code)}, nil
	}
	return wire.Result{}, s.connLost(out.err)
}

// writeFile writes the header, n bytes of data from f (hashing them after
// the prefix already in hasher), and the trailer, then half-closes.
func (s *sendSession) writeFile(st *sess.Stream, f *os.File, hasher hash.Hash, hdrFrame []byte, i int, n int64) error {
	bw := bufio.NewWriterSize(st, 64<<10)
	if _, err := bw.Write(hdrFrame); err != nil {
		return err
	}
	chunk := sendBufferSize
	if s.limiter != nil {
		chunk = min(chunk, max(int(s.limiter.burst)/4, 16<<10))
	}
	buf := make([]byte, min(int64(chunk), max(n, 1)))
	for n > 0 {
		k := int(min(int64(len(buf)), n))
		if _, err := io.ReadFull(f, buf[:k]); err != nil {
			return &errLocal{fmt.Sprintf("%s: changed while it was being sent (%v); not sent", f.Name(), err)}
		}
		hasher.Write(buf[:k])
		if err := s.limiter.wait(s.ctx, k); err != nil {
			return err
		}
		if _, err := bw.Write(buf[:k]); err != nil {
			return err
		}
		n -= int64(k)
		s.sentThisRun.Add(int64(k))
		s.progress.add(i, int64(k))
	}
	tr := wire.Trailer{Hash: [wire.HashLen]byte(hasher.Sum(nil))}
	if _, err := bw.Write(wire.AppendFrame(nil, wire.FrameTrailer, tr.Append(nil))); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return st.CloseWrite()
}
