package qsend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
	sess "github.com/limpetnet/limpet/transport/session"
)

// ReceiverConfig configures Receive.
type ReceiverConfig struct {
	Listen  string // UDP address to listen on
	Dir     string // receiving directory
	Key     crypto.PrivateKey
	Allow   []crypto.PublicKey // senders admitted; empty admits any
	Once    bool               // return after the first session that completes
	JSON    bool               // print each completed session's Summary on Stdout
	Verbose bool               // a line per file
	Quiet   bool               // no progress display
	QlogDir string             // write each connection's qlog trace here
	Stats   bool               // print each session's bottleneck report
	// Outage is how long a sender's session is kept after its connection
	// is lost, for it to come back (0: the default, 10 minutes).
	Outage time.Duration
	// IdleTimeout declares a silent connection dead (0: 60 s).
	IdleTimeout time.Duration

	Stdout io.Writer // the "listening on" line and JSON summaries only
	Stderr io.Writer
}

// Receiver limits. A session holds at most maxFileStreams files open, and
// the sender keeps fewer than that in flight.
const (
	maxSessions    = 8
	maxFileStreams = 48
	// manifestTimeout bounds how long a connected sender may take to send
	// its manifest; keepalives would otherwise hold a silent one for ever.
	manifestTimeout = 30 * time.Second
	// supersedeTimeout bounds the wait for an old session of the same
	// sender to let go of its files.
	supersedeTimeout = 10 * time.Second
)

// receiver accepts sessions and owns what they share: the directory, the
// resume store and the table of live sessions per sender key.
type receiver struct {
	cfg   ReceiverConfig
	con   *console
	root  *os.Root
	store *partialStore

	mu       sync.Mutex
	sessions map[crypto.PublicKey]*session
	count    int
	// completed is closed (once) when a session completes under --once.
	completed     chan struct{}
	completedOnce sync.Once
	stdoutMu      sync.Mutex
}

// Receive listens and receives sessions until ctx ends or, with Once, one
// session completes.
func Receive(ctx context.Context, cfg ReceiverConfig) error {
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return failf("receiving directory: %v", err)
	}
	root, err := os.OpenRoot(cfg.Dir)
	if err != nil {
		return failf("receiving directory: %v", err)
	}
	defer root.Close()
	store, err := newPartialStore(root)
	if err != nil {
		return failf("receiving directory %s: %v", cfg.Dir, err)
	}
	store.pruneStale(time.Now())

	qlogger, err := qlogLogger(cfg.QlogDir)
	if err != nil {
		return failf("%v", err)
	}
	bind, err := transport.ListenUDP("udp", cfg.Listen)
	if err != nil {
		return failf("listening on %s: %v", cfg.Listen, err)
	}
	pub := cfg.Key.Public()
	ln, err := transport.ListenBind(newProbeBind(bind, pub), &transport.Config{
		PrivateKey:         cfg.Key,
		AllowedClientKeys:  cfg.Allow,
		MaxIncomingStreams: maxFileStreams + 1,
		QLogLogger:         qlogger,
		MaxIdleTimeout:     cfg.IdleTimeout,
	})
	if err != nil {
		bind.Close()
		return failf("listening on %s: %v", cfg.Listen, err)
	}
	r := &receiver{
		cfg:       cfg,
		con:       newConsole(cfg.Stderr),
		root:      root,
		store:     store,
		sessions:  make(map[crypto.PublicKey]*session),
		completed: make(chan struct{}),
	}
	sl := sess.NewListener(ln, &sess.Config{
		MaxStreams: maxFileStreams,
		Lifetime:   cfg.Outage,
		OnEvent:    r.sessionEvent,
	})
	// The one line scripts read; everything else goes to stderr.
	r.printStdout(fmt.Sprintf("listening on %s key %s\n", ln.Addr(), pub))

	acceptCtx, stopAccepting := context.WithCancel(ctx)
	defer stopAccepting()
	go func() {
		select {
		case <-r.completed:
			stopAccepting()
		case <-acceptCtx.Done():
		}
	}()
	var wg sync.WaitGroup
	for {
		conn, err := sl.Accept(acceptCtx)
		if err != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.serve(acceptCtx, conn)
		}()
	}
	// Closing the listener ends every session; they checkpoint their
	// partials as their streams fail.
	sl.Close()
	ln.Close()
	wg.Wait()
	select {
	case <-r.completed:
		return nil
	default:
	}
	if cfg.Once {
		return failf("stopped before a transfer completed")
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return ctx.Err()
}

func (r *receiver) printStdout(s string) {
	r.stdoutMu.Lock()
	defer r.stdoutMu.Unlock()
	io.WriteString(r.cfg.Stdout, s)
}

// sessionEvent logs a session's lost and resumed connections.
func (r *receiver) sessionEvent(ev sess.Event) {
	short := ev.Session.RemoteKey().String()[:8] + "…"
	switch ev.Kind {
	case sess.EventConnectionLost:
		r.con.logf("session from %s: connection lost (%v); waiting for the sender to reconnect", short, ev.Err)
	case sess.EventResumed:
		r.con.logf("session from %s: resumed after %s from %s; %s sent again", short, ev.Outage.Round(time.Millisecond), ev.Session.RemoteAddr(), FormatSize(ev.Resent))
	case sess.EventLost:
		r.con.logf("session from %s: %v", short, ev.Err)
	}
}

// serve runs one sender's session on conn.
func (r *receiver) serve(ctx context.Context, conn *sess.Session) {
	sender := conn.RemoteKey()
	s, err := r.register(sender, conn)
	if err != nil {
		r.con.logf("refused session from %s at %s: %v", sender, conn.RemoteAddr(), err)
		conn.CloseWithError(codeBusy, err.Error())
		return
	}
	defer r.unregister(s)
	ok := s.run(ctx)
	if ok && r.cfg.Once {
		r.completedOnce.Do(func() { close(r.completed) })
	}
}

// register records a new session for sender. A live session of the same
// sender is closed first and waited for: the sender was restarted (a killed
// process leaves its connection open here until the idle timeout), and the
// new session needs the partials the old one holds.
func (r *receiver) register(sender crypto.PublicKey, conn *sess.Session) (*session, error) {
	r.mu.Lock()
	old := r.sessions[sender]
	if old == nil && r.count >= maxSessions {
		r.mu.Unlock()
		return nil, fmt.Errorf("busy: %d sessions in progress", maxSessions)
	}
	r.mu.Unlock()
	if old != nil {
		r.con.logf("session from %s: superseded by a new connection from the same sender", sender)
		old.conn.CloseWithError(codeSuperseded, "superseded by a new session from the same sender")
		select {
		case <-old.done:
		case <-time.After(supersedeTimeout):
			return nil, errors.New("the previous session of this sender did not end in time")
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sessions[sender] != nil || r.count >= maxSessions {
		return nil, errors.New("busy: another session of this sender started meanwhile")
	}
	s := newSession(r, conn, sender)
	r.sessions[sender] = s
	r.count++
	return s, nil
}

func (r *receiver) unregister(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sessions[s.sender] == s {
		delete(r.sessions, s.sender)
	}
	r.count--
	close(s.done)
}
