package qsend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/cmd/qsend/internal/wire"
	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
	sess "github.com/limpetnet/limpet/transport/session"
)

// SenderConfig configures Send.
type SenderConfig struct {
	Paths    []string            // files and directories to send
	Addr     string              // the receiver, HOST:PORT
	Pin      crypto.PublicKey    // the receiver's key; zero means known_hosts
	KeyFile  string              // this sender's key; empty means the default
	Rate     int64               // bytes per second; 0 is unlimited
	FEC      transport.FECConfig // adaptive by default (--fec)
	Parallel int                 // files in flight at once
	Timeout  time.Duration       // bound on reaching the receiver
	JSON     bool
	Quiet    bool
	Verbose  bool
	QlogDir  string // write the connection's qlog trace here
	Stats    bool   // print the bottleneck report at the end
	// Outage is the longest network outage the transfer rides out by
	// reconnecting (0: the default, 10 minutes).
	Outage time.Duration
	// IdleTimeout declares a silent connection dead (0: 60 s).
	IdleTimeout time.Duration

	Env    Env
	Stdout io.Writer
	Stderr io.Writer
}

// Sender defaults and limits.
const (
	defaultParallel = 8
	maxParallel     = maxFileStreams / 2
	defaultTimeout  = 10 * time.Second
	sendBufferSize  = 256 << 10
)

// sendSession is one run of `qsend send`: a connection and the files it
// carries. Worker goroutines send files; the fields under mu are shared
// with them.
type sendSession struct {
	cfg      *SenderConfig
	con      *console
	conn     *sess.Session
	events   *pathEvents
	entries  []localEntry
	limiter  *rateLimiter
	progress *progress

	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	fatal     error           // why the session stopped early
	failures  []string        // files the receiver did not confirm
	dirErr    string          // why the receiver could not finish the directories
	delivered map[int]int64   // per file index: bytes the receiver holds
	inflight  map[int]*flight // files on the wire now

	sentThisRun atomic.Int64 // file data written to streams
	resumed     atomic.Int64 // data not sent thanks to the receiver's offers
	newBytes    atomic.Int64 // data of confirmed files that this run sent
}

// flight is a file stream in progress, for delivery accounting.
type flight struct {
	st        *sess.Stream
	offset    int64
	headerLen int64
	size      int64
}

// deliveredNow is how much of the file the receiver's application has:
// the offset it resumed from plus the data bytes it has read.
func (f *flight) deliveredNow() int64 {
	return f.offset + min(max(f.st.Consumed()-f.headerLen, 0), f.size-f.offset)
}

// Send runs a transfer and prints its outcome. The returned error carries
// the exit status (see exitCode).
func Send(ctx context.Context, cfg SenderConfig) error {
	start := time.Now()
	if cfg.Parallel <= 0 {
		cfg.Parallel = defaultParallel
	}
	cfg.Parallel = min(cfg.Parallel, maxParallel)
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	con := newConsole(cfg.Stderr)
	var entries []localEntry
	// early reports a failure before any file was sent; --json still gets
	// its summary, so scripts always find one.
	early := func(err error) error {
		if cfg.JSON {
			sum := Summary{Error: strings.ReplaceAll(err.Error(), "\n", " ")}
			for _, e := range entries {
				if e.Kind == wire.KindFile {
					sum.Files++
					sum.Bytes += e.Size
				}
			}
			sum.setGoodput(0, time.Since(start))
			sum.writeJSON(cfg.Stdout)
		}
		return err
	}
	qlogger, err := qlogLogger(cfg.QlogDir)
	if err != nil {
		return early(failf("%v", err))
	}
	entries, err = buildManifest(cfg.Paths, con.logf)
	if err != nil {
		return early(err)
	}
	key, created, err := senderIdentity(cfg.Env, cfg.KeyFile)
	if err != nil {
		return early(failf("%v", err))
	}
	if created != "" {
		con.logf("created this sender's key in %s; its public key (for a receiver's --allow) is %s", created, key.Public())
	}
	events := &pathEvents{con: con}
	conn, err := connect(ctx, &cfg, con, key, qlogger, events)
	if err != nil {
		return early(err)
	}
	s := &sendSession{
		cfg:       &cfg,
		con:       con,
		conn:      conn,
		events:    events,
		entries:   entries,
		delivered: make(map[int]int64),
		inflight:  make(map[int]*flight),
	}
	if cfg.Rate > 0 {
		s.limiter = newRateLimiter(cfg.Rate, sendBufferSize, time.Now)
	}
	runErr := s.run(ctx)
	stats := conn.ConnStats()
	if ctx.Err() != nil {
		conn.CloseWithError(codeCanceled, "the sender was stopped")
	} else {
		conn.Close()
	}
	return s.finish(start, stats, runErr)
}

// run sends the manifest, then the files, then Done.
func (s *sendSession) run(parent context.Context) error {
	s.ctx, s.cancel = context.WithCancel(parent)
	defer s.cancel()
	ctrl, err := s.conn.OpenStream(s.ctx)
	if err != nil {
		return s.connLost(err)
	}
	offsets, err := s.exchangeManifest(ctrl)
	if err != nil {
		return err
	}
	var total, resumed int64
	for i, off := range offsets {
		total += s.entries[i].Size
		resumed += off
	}
	s.progress = newProgress(s.con, "sent", s.cfg.Quiet)
	s.events.setProgress(s.progress)
	s.progress.setTotal(total-resumed, len(s.delivered))
	if resumed > 0 {
		s.con.logf("the receiver already has %s of %s; sending the rest", FormatSize(resumed), FormatSize(total))
	}
	s.sendAll(offsets)
	s.progress.close()
	if err := s.fatalErr(); err != nil {
		return err
	}
	if err := s.exchangeDone(ctrl); err != nil {
		return err
	}
	return nil
}

// exchangeManifest sends the manifest and returns the receiver's resume
// offset for every entry (0 for directories).
func (s *sendSession) exchangeManifest(ctrl *sess.Stream) ([]int64, error) {
	m := wire.Manifest{Entries: make([]wire.Entry, len(s.entries))}
	for i, e := range s.entries {
		m.Entries[i] = e.Entry
	}
	body := m.Append(nil)
	if len(body) > wire.MaxManifestLen {
		return nil, failf("the list of files is %s, more than a receiver accepts (%s); send the tree in parts", FormatSize(int64(len(body))), FormatSize(wire.MaxManifestLen))
	}
	if _, err := ctrl.Write(wire.AppendFrame(nil, wire.FrameManifest, body)); err != nil {
		return nil, s.connLost(err)
	}
	replyBody, err := wire.ReadFrame(ctrl, wire.FrameManifestReply, wire.MaxManifestReplyLen)
	if err != nil {
		return nil, s.replyError(err)
	}
	reply, err := wire.ParseManifestReply(replyBody)
	if err != nil {
		return nil, s.protocolError(err)
	}
	if reply.Status != wire.StatusOK {
		return nil, failf("receiver refused the transfer: %s", reply.Message)
	}
	if len(reply.Offsets) != m.FileCount() {
		return nil, s.protocolError(fmt.Errorf("%d offsets for %d files", len(reply.Offsets), m.FileCount()))
	}
	offsets := make([]int64, len(s.entries))
	k := 0
	for i, e := range s.entries {
		if e.Kind != wire.KindFile {
			continue
		}
		if reply.Offsets[k] > e.Size {
			return nil, s.protocolError(fmt.Errorf("offset %d beyond the size of %s", reply.Offsets[k], e.Path))
		}
		offsets[i] = reply.Offsets[k]
		s.delivered[i] = offsets[i]
		k++
	}
	return offsets, nil
}

// sendAll runs cfg.Parallel workers over the files, in manifest order.
func (s *sendSession) sendAll(offsets []int64) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range s.cfg.Parallel {
		wg.Go(func() {
			for i := range jobs {
				s.sendFile(i, offsets[i])
			}
		})
	}
feed:
	for i, e := range s.entries {
		if e.Kind != wire.KindFile {
			continue
		}
		select {
		case jobs <- i:
		case <-s.ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
}

// exchangeDone tells the receiver every file has an answer and waits for it
// to set the directories' modes.
func (s *sendSession) exchangeDone(ctrl *sess.Stream) error {
	if _, err := ctrl.Write(wire.AppendFrame(nil, wire.FrameDone, nil)); err != nil {
		return s.connLost(err)
	}
	ctrl.CloseWrite()
	body, err := wire.ReadFrame(ctrl, wire.FrameDoneReply, wire.MaxResultLen)
	if err != nil {
		return s.replyError(err)
	}
	res, err := wire.ParseResult(body)
	if err != nil {
		return s.protocolError(err)
	}
	if res.Status != wire.StatusOK {
		s.mu.Lock()
		s.dirErr = res.Message
		s.mu.Unlock()
	}
	return nil
}

// setFatal records the first reason the session cannot go on and stops
// the workers.
func (s *sendSession) setFatal(err error) {
	s.mu.Lock()
	if s.fatal == nil {
		s.fatal = err
	}
	s.mu.Unlock()
	s.cancel()
}

func (s *sendSession) fatalErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fatal
}

func (s *sendSession) addFailure(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, msg)
	s.con.logf("%s", msg)
}

// errInterrupted marks a session that lost its connection (or was stopped
// by a signal): re-running resumes it.
type errInterrupted struct{ cause string }

func (e *errInterrupted) Error() string { return e.cause }

// connLost classifies err from a stream or connection operation.
func (s *sendSession) connLost(err error) error {
	if s.ctx != nil && s.ctx.Err() != nil && s.conn.Err() == nil {
		if f := s.fatalErr(); f != nil {
			return f
		}
		return &errInterrupted{cause: "stopped by a signal"}
	}
	cause := err
	select {
	case <-s.conn.Done():
		cause = s.conn.Err()
	default:
	}
	msg, resumable := describeConnError(cause)
	if !resumable {
		return failf("%s", msg)
	}
	return &errInterrupted{cause: msg}
}

// replyError classifies a failed read of a control-stream reply.
func (s *sendSession) replyError(err error) error {
	if errors.Is(err, wire.ErrMalformed) {
		return s.protocolError(err)
	}
	return s.connLost(err)
}

func (s *sendSession) protocolError(err error) error {
	s.conn.CloseWithError(codeProtocol, "protocol error: "+err.Error())
	return failf("protocol error from the receiver: %v", err)
}

// finish prints the outcome and returns the error that sets the exit status.
func (s *sendSession) finish(start time.Time, stats transport.ConnStats, runErr error) error {
	elapsed := time.Since(start)
	var total, delivered int64
	files := 0
	s.mu.Lock()
	for i, e := range s.entries {
		if e.Kind != wire.KindFile {
			continue
		}
		files++
		total += e.Size
		d := s.delivered[i]
		if f := s.inflight[i]; f != nil {
			d = max(d, f.deliveredNow())
		}
		delivered += d
	}
	failures, dirErr := len(s.failures), s.dirErr
	s.mu.Unlock()
	sum := Summary{
		Files:              files,
		FilesFailed:        failures,
		Bytes:              total,
		BytesSentThisRun:   s.sentThisRun.Load(),
		ResumedBytes:       s.resumed.Load(),
		DeliveredBytes:     delivered,
		RetransmittedBytes: stats.BytesRetransmitted,
		Migrations:         stats.Migrations,
		FECRepairPackets:   stats.FECRepairSent,
	}
	ss := s.conn.Stats()
	sum.Reconnections, sum.ResentBytes = ss.Resumptions, ss.BytesResent
	sum.setGoodput(s.newBytes.Load(), elapsed)
	if s.cfg.Stats {
		r := transport.NewBottleneckReport(transport.ConnStats{}, stats)
		logReport(s.con, r)
		sum.Bottleneck = bottleneckSummary(r)
	}
	if s.cfg.Verbose {
		s.con.logf("transport: smoothed RTT %v, congestion window %s, %d packets sent, %d lost, %s retransmitted, %d path changes",
			stats.SmoothedRTT.Round(time.Microsecond), FormatSize(int64(stats.CongestionWindow)), stats.PacketsSent, stats.PacketsLost,
			FormatSize(int64(stats.BytesRetransmitted)), stats.Migrations)
	}

	var err error
	var intr *errInterrupted
	switch {
	case errors.As(runErr, &intr):
		err = &exitError{code: ExitInterrupted, msg: fmt.Sprintf("transfer interrupted: %s; %s of %s delivered; re-run the same command to resume",
			intr.cause, FormatSize(delivered), FormatSize(total))}
	case runErr != nil:
		err = runErr
	case failures > 0:
		err = failf("%d of %d files were not delivered (see above)", failures, files)
	case dirErr != "":
		err = failf("receiver: every file arrived, but %s", dirErr)
	}
	if err != nil {
		sum.Error = strings.ReplaceAll(err.Error(), "\n", " ")
	} else {
		msg := fmt.Sprintf("sent %d files, %s in %.1f s (%s)", files, FormatSize(total), elapsed.Seconds(), FormatRate(s.newBytes.Load(), elapsed))
		if r := s.resumed.Load(); r > 0 {
			msg += fmt.Sprintf("; %s was already there", FormatSize(r))
		}
		s.con.logf("%s", msg)
	}
	if s.cfg.JSON {
		sum.writeJSON(s.cfg.Stdout)
	}
	return err
}

// connect finds the receiver's key (pinned, known or first seen) and dials.
func connect(ctx context.Context, cfg *SenderConfig, con *console, key crypto.PrivateKey, qlogger *slog.Logger, events *pathEvents) (*sess.Session, error) {
	deadline := time.Now().Add(cfg.Timeout)
	pctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	announced, raddr, err := probeKey(pctx, cfg.Addr)
	switch {
	case errors.Is(err, errRefused):
		return nil, failf("%s refused the connection: no qsend receiver is listening there", cfg.Addr)
	case errors.Is(err, errNoAnswer):
		return nil, failf("no answer from %s within %v: the host is unreachable or no qsend receiver is running there", cfg.Addr, cfg.Timeout)
	case errors.Is(err, context.Canceled):
		return nil, &exitError{code: ExitInterrupted, msg: "stopped by a signal before connecting"}
	case err != nil:
		return nil, failf("cannot reach %s: %v", cfg.Addr, err)
	}

	serverKey, record, err := trustedKey(cfg, announced)
	if err != nil {
		return nil, err
	}
	// The first dial gets ctx and the rest of the time as
	// HandshakeTimeout, so that running out of time reads as
	// ErrHandshakeTimeout, not as a signal; reconnections get the
	// default.
	first := true
	dial := func(ctx context.Context, tc *transport.Config) (*transport.Conn, error) {
		c := *tc
		if first {
			first = false
			c.HandshakeTimeout = max(time.Until(deadline), time.Second)
		}
		return transport.Dial(ctx, raddr.String(), &c)
	}
	conn, err := sess.Dial(ctx, raddr.String(), &transport.Config{
		QLogLogger:     qlogger,
		PrivateKey:     key,
		ServerKey:      serverKey,
		FEC:            cfg.FEC,
		MaxIdleTimeout: cfg.IdleTimeout,
	}, &sess.Config{
		Lifetime: cfg.Outage,
		Dial:     dial,
		OnEvent:  events.on,
	})
	var te *transport.TransportError
	switch {
	case err == nil:
	case errors.Is(err, transport.ErrHandshakeTimeout), errors.Is(err, context.DeadlineExceeded):
		return nil, failf("the receiver at %s did not prove it holds key %s within %v (wrong --pin, or not the receiver that answered the key probe?)", cfg.Addr, serverKey, cfg.Timeout)
	case errors.As(err, &te) && te.Code == transport.UnknownClientKey:
		return nil, failf("the receiver at %s does not accept this sender's key %s; its owner can add it with --allow %s", cfg.Addr, key.Public(), key.Public())
	case errors.Is(err, context.Canceled):
		return nil, &exitError{code: ExitInterrupted, msg: "stopped by a signal before connecting"}
	default:
		return nil, failf("connecting to %s: %v", cfg.Addr, err)
	}
	if record != nil {
		if err := record(); err != nil {
			con.logf("warning: %v", err)
		} else {
			con.logf("first connection to %s: trusting its key %s from now on (recorded in known_hosts)", cfg.Addr, serverKey)
		}
	}
	return conn, nil
}

// trustedKey decides which key to pin: --pin, or the known_hosts entry, or
// on first use the announced key (recorded once the handshake proves it).
// A key that differs from the pinned or known one is refused, as ssh does.
func trustedKey(cfg *SenderConfig, announced crypto.PublicKey) (crypto.PublicKey, func() error, error) {
	if !cfg.Pin.IsZero() {
		if announced != cfg.Pin {
			return crypto.PublicKey{}, nil, failf("the receiver at %s has key %s, not the pinned key %s (wrong --pin?)", cfg.Addr, announced, cfg.Pin)
		}
		return cfg.Pin, nil, nil
	}
	path, err := cfg.Env.knownHostsPath()
	if err != nil {
		return crypto.PublicKey{}, nil, failf("%v", err)
	}
	kh, err := loadKnownHosts(path)
	if err != nil {
		return crypto.PublicKey{}, nil, failf("%v", err)
	}
	known, line, ok := kh.lookup(cfg.Addr)
	if !ok {
		return announced, func() error { return kh.add(cfg.Addr, announced) }, nil
	}
	if known != announced {
		return crypto.PublicKey{}, nil, failf(
			"WARNING: the key of the receiver at %s has changed!\n"+
				"Someone could be intercepting the transfer, or the receiver was given a new key.\n"+
				"known key:   %s (%s line %d)\n"+
				"offered key: %s\n"+
				"Refusing to send. If the new key is expected, delete line %d of %s, or pass --pin %s.",
			cfg.Addr, known, path, line, announced, line, path, announced)
	}
	return known, nil, nil
}
