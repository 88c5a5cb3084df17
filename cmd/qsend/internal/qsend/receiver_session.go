package qsend

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/cmd/qsend/internal/wire"
	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
	sess "github.com/limpetnet/limpet/transport/session"
)

// session is one sender's connection: its manifest, the state of each file,
// and the goroutines receiving them. run owns the control stream; each file
// stream has a goroutine of its own.
type session struct {
	r      *receiver
	conn   *sess.Session
	sender crypto.PublicKey
	start  time.Time
	done   chan struct{} // closed by receiver.unregister

	manifest wire.Manifest
	files    map[int64]*fileState // by manifest index; file entries only

	mu        sync.Mutex
	closed    bool // no more file streams are accepted (Done received, or the session failed)
	handlers  sync.WaitGroup
	abortOnce sync.Once

	dirsFailed bool // set by awaitDone: a directory's mode or time could not be set

	received  atomic.Int64 // file data bytes received this session
	resumed   atomic.Int64 // bytes not received again thanks to resume
	filesOK   atomic.Int64
	filesBad  atomic.Int64
	progress  *progress
	shortName string // the sender's key, shortened for log lines
}

// fileState is what the session knows about one file entry.
type fileState struct {
	entry wire.Entry
	id    string // partialID
	offer offer

	mu     sync.Mutex
	active bool // a stream is receiving it now
	ok     bool // confirmed
}

func newSession(r *receiver, conn *sess.Session, sender crypto.PublicKey) *session {
	short := sender.String()
	return &session{r: r, conn: conn, sender: sender, start: time.Now(), done: make(chan struct{}), shortName: short[:8] + "…"}
}

func (s *session) logf(format string, args ...any) {
	s.r.con.logf("session from %s: "+format, append([]any{s.shortName}, args...)...)
}

// run serves the session and reports whether it completed.
func (s *session) run(ctx context.Context) bool {
	defer s.conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { s.conn.CloseWithError(codeShutdown, "receiver shutting down") })
	defer stop()

	ctrl, err := s.acceptControl(ctx)
	if err != nil {
		s.logf("%v", err)
		return false
	}
	if err := s.readManifest(ctrl); err != nil {
		s.refuse(ctrl, err)
		return false
	}
	var total, resumed int64
	for _, f := range s.files {
		total += f.entry.Size
		resumed += f.offer.offset
	}
	msg := fmt.Sprintf("%s at %s: %d files, %s", s.sender, s.conn.RemoteAddr(), len(s.files), FormatSize(total))
	if resumed > 0 {
		msg += fmt.Sprintf(" (%s already here)", FormatSize(resumed))
	}
	s.r.con.logf("session from %s", msg)
	s.progress = newProgress(s.r.con, "received", s.r.cfg.Quiet)
	s.progress.setTotal(total-resumed, len(s.files))
	defer s.progress.close()

	go s.acceptFiles(ctx)
	ok := s.awaitDone(ctx, ctrl)
	s.stopAccepting()
	if !ok {
		// Unblock file handlers still reading (a no-op if the connection
		// is already gone).
		s.conn.CloseWithError(codeProtocol, "the control stream ended before Done")
	}
	s.handlers.Wait()
	s.progress.close()
	if !ok {
		s.logf("ended: %s of %s received this session, %d of %d files confirmed%s",
			FormatSize(s.received.Load()), FormatSize(total), s.filesOK.Load(), len(s.files), s.connCause())
		return false
	}
	s.report(total)
	return s.filesBad.Load() == 0 && !s.dirsFailed
}

// connCause says why the connection ended, if it did.
func (s *session) connCause() string {
	select {
	case <-s.conn.Done():
		msg, _ := describeConnError(s.conn.Err())
		return " (" + strings.TrimPrefix(msg, "receiver: ") + ")"
	default:
		return ""
	}
}

func (s *session) acceptControl(ctx context.Context) (*sess.Stream, error) {
	actx, cancel := context.WithTimeout(ctx, manifestTimeout)
	defer cancel()
	ctrl, err := s.conn.AcceptStream(actx)
	if err != nil {
		s.conn.CloseWithError(codeProtocol, "no manifest")
		return nil, fmt.Errorf("no manifest from %s: %v", s.conn.RemoteAddr(), err)
	}
	ctrl.SetReadDeadline(time.Now().Add(manifestTimeout))
	return ctrl, nil
}

// readManifest reads, validates and prepares the manifest, and answers it
// with the resume offsets.
func (s *session) readManifest(ctrl *sess.Stream) error {
	body, err := wire.ReadFrame(ctrl, wire.FrameManifest, wire.MaxManifestLen)
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	ctrl.SetReadDeadline(time.Time{})
	m, err := wire.ParseManifest(body)
	if err != nil {
		return err
	}
	s.manifest = m
	if err := s.prepareDirs(); err != nil {
		return err
	}
	s.files = make(map[int64]*fileState, m.FileCount())
	reply := wire.ManifestReply{Status: wire.StatusOK, Offsets: make([]int64, 0, m.FileCount())}
	for i, e := range m.Entries {
		if e.Kind != wire.KindFile {
			continue
		}
		id := partialID(s.sender, e.Path, e.Size)
		f := &fileState{entry: e, id: id, offer: s.r.store.offerFor(id, e)}
		s.files[int64(i)] = f
		reply.Offsets = append(reply.Offsets, f.offer.offset)
	}
	if _, err := ctrl.Write(wire.AppendFrame(nil, wire.FrameManifestReply, reply.Append(nil))); err != nil {
		return fmt.Errorf("answering manifest: %w", err)
	}
	return nil
}

// refuse tells the sender why its manifest was refused, on the control
// stream where the message arrives reliably, then closes the connection.
func (s *session) refuse(ctrl *sess.Stream, err error) {
	msg := err.Error()
	s.logf("refused: %s", msg)
	reply := wire.ManifestReply{Status: wire.StatusAbort, Message: msg}
	frame := wire.AppendFrame(nil, wire.FrameManifestReply, reply.Append(nil))
	if _, werr := ctrl.Write(frame); werr == nil {
		ctrl.CloseWrite()
		waitConsumed(ctrl, int64(len(frame)), time.Second)
	}
	s.conn.CloseWithError(codeRefused, msg)
}

// waitConsumed gives the peer up to d to read the n bytes written on st
// (delivery receipts say when it has) before the connection closes under
// them.
func waitConsumed(st *sess.Stream, n int64, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	st.WaitConsumed(ctx, n)
}

// prepareDirs creates every directory of the manifest (writable by us until
// Done sets its final mode) and the parents of every file.
func (s *session) prepareDirs() error {
	root := s.r.root
	for _, e := range s.manifest.Entries {
		dir := e.Path
		if e.Kind == wire.KindFile {
			dir = path.Dir(e.Path)
			if dir == "." {
				continue
			}
		}
		if err := root.MkdirAll(dir, 0o755); err != nil {
			msg, _ := diskErrorMessage(err)
			return fmt.Errorf("cannot create directory %s: %s", dir, msg)
		}
		info, err := root.Lstat(dir)
		if err != nil || !info.IsDir() {
			return fmt.Errorf("cannot create directory %s: a file is in the way", dir)
		}
		if info.Mode().Perm()&0o700 != 0o700 {
			if err := root.Chmod(dir, info.Mode().Perm()|0o700); err != nil {
				msg, _ := diskErrorMessage(err)
				return fmt.Errorf("cannot make directory %s writable: %s", dir, msg)
			}
		}
	}
	return nil
}

// acceptFiles starts a handler for each file stream until the session
// stops accepting.
func (s *session) acceptFiles(ctx context.Context) {
	for {
		st, err := s.conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			st.CancelRead(codeProtocol)
			st.CancelWrite(codeProtocol)
			continue
		}
		s.handlers.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.handlers.Done()
			s.handleFile(st)
		}()
	}
}

func (s *session) stopAccepting() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
}

// awaitDone waits for the sender's Done, then applies the directories'
// modes and times and answers. It reports whether that exchange happened.
func (s *session) awaitDone(ctx context.Context, ctrl *sess.Stream) bool {
	body, err := wire.ReadFrame(ctrl, wire.FrameDone, wire.MaxDoneLen)
	if err != nil || len(body) != 0 {
		return false
	}
	s.stopAccepting()
	s.handlers.Wait()
	res := wire.Result{Status: wire.StatusOK}
	if err := s.finishDirs(); err != nil {
		res = wire.Result{Status: wire.StatusFailed, Message: err.Error()}
		s.dirsFailed = true
		s.logf("%v", err)
	}
	if _, err := ctrl.Write(wire.AppendFrame(nil, wire.FrameDoneReply, res.Append(nil))); err != nil {
		return false
	}
	ctrl.CloseWrite()
	// The sender closes the connection once it has the reply; do not close
	// it first, or the reply could be lost with the connection.
	select {
	case <-s.conn.Done():
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
	}
	return true
}

// finishDirs sets each directory's mode and modification time, deepest
// first, so that neither a read-only parent nor a child's update undoes it.
func (s *session) finishDirs() error {
	var dirs []wire.Entry
	for _, e := range s.manifest.Entries {
		if e.Kind == wire.KindDir {
			dirs = append(dirs, e)
		}
	}
	slices.SortFunc(dirs, func(a, b wire.Entry) int { return strings.Count(b.Path, "/") - strings.Count(a.Path, "/") })
	var first error
	for _, e := range dirs {
		if err := s.setDirAttrs(e); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *session) setDirAttrs(e wire.Entry) error {
	root := s.r.root
	mtime := time.Unix(0, e.ModTime)
	// Change times first: chmod to a mode without write or search
	// permission would stop a non-root receiver from doing it afterwards.
	if err := root.Chtimes(e.Path, mtime, mtime); err != nil {
		msg, _ := diskErrorMessage(err)
		return fmt.Errorf("setting time of directory %s: %s", e.Path, msg)
	}
	f, err := root.Open(e.Path)
	if err == nil {
		err = f.Chmod(e.Mode.Perm())
		f.Close()
	}
	if err != nil {
		msg, _ := diskErrorMessage(err)
		return fmt.Errorf("setting mode of directory %s: %s", e.Path, msg)
	}
	return nil
}

// abort ends the session because the receiver cannot go on. The caller has
// already sent msg on a file stream; the close reason repeats it in case
// that stream's answer was lost with the connection.
func (s *session) abort(msg string) {
	s.abortOnce.Do(func() {
		s.logf("%s", msg)
		s.stopAccepting()
		s.conn.CloseWithError(codeAbort, msg)
	})
}

// report logs (and with --json prints) a completed session.
func (s *session) report(total int64) {
	elapsed := time.Since(s.start)
	stats := s.conn.ConnStats()
	sum := Summary{
		Sender:             s.sender.String(),
		Files:              len(s.files),
		FilesFailed:        int(s.filesBad.Load()),
		Bytes:              total,
		BytesSentThisRun:   s.received.Load(),
		ResumedBytes:       s.resumed.Load(),
		DeliveredBytes:     total,
		RetransmittedBytes: stats.BytesRetransmitted,
		Migrations:         stats.Migrations,
		FECRebuiltPackets:  stats.FECRecovered,
	}
	ss := s.conn.Stats()
	sum.Reconnections, sum.ResentBytes = ss.Resumptions, ss.BytesResent
	sum.setGoodput(s.received.Load(), elapsed)
	if s.r.cfg.Stats {
		r := transport.NewBottleneckReport(transport.ConnStats{}, stats)
		logReport(s.r.con, r)
		sum.Bottleneck = bottleneckSummary(r)
	}
	if sum.FilesFailed > 0 {
		sum.Error = fmt.Sprintf("%d of %d files failed", sum.FilesFailed, sum.Files)
	}
	s.logf("complete: %d files, %s in %.1f s (%s received, %s); %d path changes",
		sum.Files-sum.FilesFailed, FormatSize(total), elapsed.Seconds(), FormatSize(sum.BytesSentThisRun),
		FormatRate(sum.BytesSentThisRun, elapsed), sum.Migrations)
	if s.r.cfg.JSON {
		var b strings.Builder
		sum.writeJSON(&b)
		s.r.printStdout(b.String())
	}
}
