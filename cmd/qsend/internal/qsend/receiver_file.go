package qsend

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/cmd/qsend/internal/wire"
	sess "github.com/limpetnet/limpet/transport/session"
)

// errConnLost means the stream or connection failed mid-file: there is
// nobody to answer, and the partial has been checkpointed for resume.
var errConnLost = errors.New("connection lost")

// recvBufferSize is the read size from a file stream: large enough that
// per-call costs vanish, small enough for 48 streams per session.
const recvBufferSize = 256 << 10

// handleFile receives one file stream and answers it with a Result.
func (s *session) handleFile(st *sess.Stream) {
	body, err := wire.ReadFrame(st, wire.FrameFileHeader, wire.MaxFileHeaderLen)
	if err != nil {
		if errors.Is(err, wire.ErrMalformed) {
			s.protocolError(err.Error())
		}
		st.CancelRead(codeProtocol)
		st.CancelWrite(codeProtocol)
		return
	}
	h, err := wire.ParseFileHeader(body)
	if err != nil {
		s.protocolError(err.Error())
		return
	}
	f := s.files[h.Index]
	if f == nil {
		s.protocolError(fmt.Sprintf("file header names entry %d, which is not a file", h.Index))
		return
	}
	f.mu.Lock()
	if f.active || f.ok {
		f.mu.Unlock()
		s.protocolError(fmt.Sprintf("%s sent twice", f.entry.Path))
		return
	}
	f.active = true
	f.mu.Unlock()

	s.progress.startFile(int(h.Index), f.entry.Path, f.entry.Size, h.Offset)
	res, err := s.receiveFile(st, f, h)
	s.progress.endFile(int(h.Index), res.Status == wire.StatusOK && err == nil)
	// Settle the file's state before answering: the sender may send it
	// again (after a restart) as soon as it reads the answer.
	f.mu.Lock()
	f.active = false
	f.ok = err == nil && res.Status == wire.StatusOK
	f.mu.Unlock()
	if err != nil {
		st.CancelRead(codeStop)
		st.CancelWrite(codeStop)
		return
	}
	frame := wire.AppendFrame(nil, wire.FrameResult, res.Append(nil))
	if _, err := st.Write(frame); err != nil {
		return
	}
	st.CloseWrite()
	if res.Status != wire.StatusOK {
		st.CancelRead(codeStop) // the sender may still be sending data we will not read
	}
	switch res.Status {
	case wire.StatusOK:
		s.filesOK.Add(1)
		if s.r.cfg.Verbose {
			s.logf("received %s (%s)", f.entry.Path, FormatSize(f.entry.Size))
		}
	case wire.StatusRestart:
		s.logf("%s: %s; the sender starts it again", f.entry.Path, res.Message)
	case wire.StatusFailed:
		s.filesBad.Add(1)
		s.logf("%s", res.Message)
	case wire.StatusAbort:
		s.filesBad.Add(1)
		waitConsumed(st, int64(len(frame)), 2*time.Second)
		s.abort(res.Message)
	}
}

// protocolError ends the session over a message the sender should never
// have sent.
func (s *session) protocolError(msg string) {
	s.logf("protocol error: %s", msg)
	s.stopAccepting()
	s.conn.CloseWithError(codeProtocol, "protocol error: "+msg)
}

// receiveFile writes one file's data to its partial, verifies it and puts it
// in place. It returns errConnLost if the stream failed before the end.
func (s *session) receiveFile(st *sess.Stream, f *fileState, h wire.FileHeader) (wire.Result, error) {
	e := f.entry
	if h.Offset != 0 && h.Offset != f.offer.offset {
		return failed("%s: the sender resumed at %d, which was not offered", e.Path, h.Offset), nil
	}
	store := s.r.store
	if !store.acquire(f.id) {
		return failed("%s: another session is receiving this file", e.Path), nil
	}
	defer store.release(f.id)
	if f.offer.fromFinal && h.Offset == e.Size {
		return s.confirmInPlace(st, f, h)
	}

	pf, err := store.open(f.id)
	if err != nil {
		return diskFailure(err, "creating a partial file for", e.Path, 0), nil
	}
	defer pf.close()
	hasher := wire.NewHash()
	if h.Offset > 0 {
		// Re-read what we have rather than trust it: the sender's file may
		// have changed, or the partial may be damaged.
		if _, err := io.Copy(hasher, io.NewSectionReader(pf.data, 0, h.Offset)); err != nil {
			return diskFailure(err, "reading back", e.Path, 0), nil
		}
		if [wire.HashLen]byte(hasher.Sum(nil)) != h.PrefixHash {
			if err := pf.startAt(0); err != nil {
				return diskFailure(err, "resetting", e.Path, 0), nil
			}
			return wire.Result{Status: wire.StatusRestart, Message: "the partial copy differs from the sender's file"}, nil
		}
		s.resumed.Add(h.Offset)
	}
	if err := pf.startAt(h.Offset); err != nil {
		return diskFailure(err, "preparing", e.Path, h.Offset), nil
	}
	if res, err := s.copyData(st, pf, hasher, int(h.Index), e); err != nil || res.Status != wire.StatusOK {
		pf.checkpoint() // keep what arrived for the next session
		return res, err
	}
	body, err := wire.ReadFrame(st, wire.FrameTrailer, wire.MaxTrailerLen)
	if err != nil {
		pf.checkpoint()
		return wire.Result{}, errConnLost
	}
	tr, err := wire.ParseTrailer(body)
	if err != nil {
		return failed("%s: %v", e.Path, err), nil
	}
	if [wire.HashLen]byte(hasher.Sum(nil)) != tr.Hash {
		pf.waitCheckpoint()
		store.discard(f.id)
		return failed("%s: hash mismatch: the file changed while it was sent, or the data was damaged; send it again", e.Path), nil
	}
	return s.putInPlace(pf, e), nil
}

// copyData moves the rest of e's data from st to the partial, hashing it.
// Writing overlaps with reading and hashing: a writer goroutine takes the
// filled buffers in order, so the time the file system takes (on tmpfs,
// the kernel allocating pages: as long as the read itself) is not added to
// the network's. Profiled, the receiver spent two thirds of its time in
// write(2), during which it read nothing.
func (s *session) copyData(st *sess.Stream, pf *partialFile, hasher hash.Hash, index int, e wire.Entry) (wire.Result, error) {
	n := e.Size - pf.written
	w := newFileWriter(pf, int(min(recvBufferSize, max(n, 1))))
	for n > 0 && !w.failed.Load() {
		buf := w.buffer()
		got, rerr := st.Read(buf[:min(int64(len(buf)), n)])
		if got > 0 {
			hasher.Write(buf[:got])
			w.write(buf[:got])
			n -= int64(got)
			s.received.Add(int64(got))
			s.progress.add(index, int64(got))
		} else {
			w.giveBack(buf)
		}
		if rerr == io.EOF && n > 0 {
			if err := w.finish(); err != nil {
				break
			}
			return failed("%s: the sender's stream ended %d bytes early", e.Path, n), nil
		}
		if rerr != nil && rerr != io.EOF {
			if err := w.finish(); err != nil {
				break
			}
			return wire.Result{}, errConnLost
		}
	}
	if err := w.finish(); err != nil {
		res := diskFailure(err, "writing", e.Path, pf.written)
		if res.Status == wire.StatusAbort {
			res.Message += "; the part received is kept for resume"
		}
		return res, nil
	}
	return wire.Result{Status: wire.StatusOK}, nil
}

// fileWriter writes buffers to a partial file on a goroutine of its own,
// in the order given, with two buffers: one being filled, one being
// written.
type fileWriter struct {
	pf     *partialFile
	free   chan []byte
	full   chan []byte
	done   chan error
	failed atomic.Bool // a write failed: stop reading
	ended  bool
	err    error
}

func newFileWriter(pf *partialFile, size int) *fileWriter {
	w := &fileWriter{pf: pf, free: make(chan []byte, 2), full: make(chan []byte, 1), done: make(chan error, 1)}
	w.free <- make([]byte, size)
	w.free <- make([]byte, size)
	go func() {
		var err error
		for b := range w.full {
			if err == nil {
				if err = pf.write(b); err != nil {
					w.failed.Store(true)
				}
			}
			w.free <- b[:cap(b)]
		}
		w.done <- err
	}()
	return w
}

// buffer returns an empty buffer, waiting for the writer to finish one.
func (w *fileWriter) buffer() []byte { return <-w.free }

// write queues b, a buffer from buffer, for writing.
func (w *fileWriter) write(b []byte) { w.full <- b }

// giveBack returns an unused buffer.
func (w *fileWriter) giveBack(b []byte) { w.free <- b }

// finish waits for every queued write and returns the first error; the
// partial file is the caller's again.
func (w *fileWriter) finish() error {
	if !w.ended {
		w.ended = true
		close(w.full)
		w.err = <-w.done
	}
	return w.err
}

// putInPlace makes a verified partial the file: mode, fsync, time, rename,
// and an fsync of the directory so the rename itself survives a crash.
func (s *session) putInPlace(pf *partialFile, e wire.Entry) wire.Result {
	root := s.r.root
	pf.waitCheckpoint() // it must not recreate the record after the rename
	if err := pf.data.Chmod(e.Mode.Perm()); err != nil {
		return diskFailure(err, "setting the mode of", e.Path, e.Size)
	}
	if err := pf.data.Sync(); err != nil {
		return diskFailure(err, "syncing", e.Path, e.Size)
	}
	mtime := time.Unix(0, e.ModTime)
	if err := root.Chtimes(dataName(pf.id), mtime, mtime); err != nil {
		return diskFailure(err, "setting the time of", e.Path, e.Size)
	}
	if info, err := root.Lstat(e.Path); err == nil && info.IsDir() {
		return failed("cannot put %s in place: a directory of that name is in the way", e.Path)
	}
	if err := root.Rename(dataName(pf.id), e.Path); err != nil {
		return diskFailure(err, "putting in place", e.Path, e.Size)
	}
	if err := syncDir(root, path.Dir(e.Path)); err != nil {
		return diskFailure(err, "syncing the directory of", e.Path, e.Size)
	}
	root.Remove(recordName(pf.id))
	return wire.Result{Status: wire.StatusOK}
}

// confirmInPlace checks a file already in place against the sender's hash
// and, if it matches, only sets its mode and time.
func (s *session) confirmInPlace(st *sess.Stream, f *fileState, h wire.FileHeader) (wire.Result, error) {
	e := f.entry
	root := s.r.root
	file, err := root.OpenFile(e.Path, os.O_RDONLY, 0)
	if err != nil {
		return diskFailure(err, "opening", e.Path, 0), nil
	}
	defer file.Close()
	hasher := wire.NewHash()
	n, err := io.Copy(hasher, io.LimitReader(file, e.Size))
	if err != nil {
		return diskFailure(err, "reading", e.Path, n), nil
	}
	body, err := wire.ReadFrame(st, wire.FrameTrailer, wire.MaxTrailerLen)
	if err != nil {
		return wire.Result{}, errConnLost
	}
	tr, err := wire.ParseTrailer(body)
	if err != nil {
		return failed("%s: %v", e.Path, err), nil
	}
	sum := [wire.HashLen]byte(hasher.Sum(nil))
	if n != e.Size || sum != h.PrefixHash || sum != tr.Hash {
		return wire.Result{Status: wire.StatusRestart, Message: "the file in place differs from the sender's"}, nil
	}
	s.resumed.Add(e.Size)
	if err := file.Chmod(e.Mode.Perm()); err != nil {
		return diskFailure(err, "setting the mode of", e.Path, e.Size), nil
	}
	mtime := time.Unix(0, e.ModTime)
	if err := root.Chtimes(e.Path, mtime, mtime); err != nil {
		return diskFailure(err, "setting the time of", e.Path, e.Size), nil
	}
	return wire.Result{Status: wire.StatusOK}, nil
}

func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func failed(format string, args ...any) wire.Result {
	return wire.Result{Status: wire.StatusFailed, Message: fmt.Sprintf(format, args...)}
}

// diskFailure words a file-system error for the sender: "no space left on
// device writing big.bin at 15.9 MiB". Errors that doom every file abort
// the session.
func diskFailure(err error, doing, p string, at int64) wire.Result {
	msg, fatal := diskErrorMessage(err)
	msg = fmt.Sprintf("%s %s %s", msg, doing, p)
	if at > 0 {
		msg += " at " + FormatSize(at)
	}
	if fatal {
		return wire.Result{Status: wire.StatusAbort, Message: msg}
	}
	return wire.Result{Status: wire.StatusFailed, Message: msg}
}
