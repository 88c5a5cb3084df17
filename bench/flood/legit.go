package flood

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/limpetnet/limpet/transport"
)

// echoSize is the size of one echo message; its first 8 bytes number it.
const echoSize = 64

// echoTimeout bounds one echo: a message not back by then counts as
// failed, and the next one skips it when it comes.
const echoTimeout = 5 * time.Second

// bulkChunk is the size of the bulk transfer's writes.
const bulkChunk = 256 << 10

// legitClients are the legitimate clients of one row: the two connections
// they open before the attack starts, and how they dial.
type legitClients struct {
	addr string
	cfg  transport.Config

	echoConn, bulkConn *transport.Conn
	echo               *transport.Stream
	echoSeq            uint64
}

// dialLegit opens the echo and bulk connections and checks one echo.
func dialLegit(ctx context.Context, addr string, cfg transport.Config) (*legitClients, error) {
	l := &legitClients{addr: addr, cfg: cfg}
	var err error
	if l.echoConn, err = transport.Dial(ctx, addr, &l.cfg); err != nil {
		return nil, fmt.Errorf("dialing the echo connection: %w", err)
	}
	if l.bulkConn, err = transport.Dial(ctx, addr, &l.cfg); err != nil {
		l.close()
		return nil, fmt.Errorf("dialing the bulk connection: %w", err)
	}
	if l.echo, err = l.echoConn.OpenStream(ctx); err != nil {
		l.close()
		return nil, fmt.Errorf("opening the echo stream: %w", err)
	}
	if _, err := l.echo.Write([]byte{modeEcho}); err != nil {
		l.close()
		return nil, fmt.Errorf("echo stream: %w", err)
	}
	if _, err := l.echoOnce(); err != nil {
		l.close()
		return nil, fmt.Errorf("first echo: %w", err)
	}
	return l, nil
}

func (l *legitClients) close() {
	for _, c := range []*transport.Conn{l.echoConn, l.bulkConn} {
		if c != nil {
			c.Close()
		}
	}
}

// echoOnce sends one numbered message and waits for it to come back,
// skipping late echoes of earlier messages.
func (l *legitClients) echoOnce() (time.Duration, error) {
	l.echoSeq++
	var msg, got [echoSize]byte
	binary.BigEndian.PutUint64(msg[:], l.echoSeq)
	start := time.Now()
	l.echo.SetDeadline(start.Add(echoTimeout))
	if _, err := l.echo.Write(msg[:]); err != nil {
		return 0, err
	}
	for {
		if _, err := io.ReadFull(l.echo, got[:]); err != nil {
			return 0, err
		}
		if seq := binary.BigEndian.Uint64(got[:]); seq == l.echoSeq {
			return time.Since(start), nil
		} else if seq > l.echoSeq {
			return 0, fmt.Errorf("echo %d came back for message %d", seq, l.echoSeq)
		}
	}
}

// echoResult is what the echo connection measured.
type echoResult struct {
	samples  []time.Duration
	failed   int
	firstErr error
}

// measureEcho echoes every interval until end.
func (l *legitClients) measureEcho(ctx context.Context, end time.Time, interval time.Duration) echoResult {
	var r echoResult
	for ctx.Err() == nil && time.Now().Before(end) {
		rtt, err := l.echoOnce()
		switch {
		case err == nil:
			r.samples = append(r.samples, rtt)
		case errors.Is(err, os.ErrDeadlineExceeded):
			r.failed++
			r.firstErr = cmpErr(r.firstErr, err)
		default:
			// The stream or connection is gone: no more echoes.
			r.failed++
			r.firstErr = cmpErr(r.firstErr, err)
			return r
		}
		sleepUntil(ctx, time.Now().Add(interval))
	}
	return r
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// dialResult is what the legitimate dialers measured.
type dialResult struct {
	mu       sync.Mutex
	samples  []time.Duration // Dials that succeeded
	attempts int
	failed   int
	firstErr error         // the first failure
	errAfter time.Duration // how long it took to fail
}

// dialers runs n clients, each dialing in a loop until end with pause
// between Dials; wait returns once every Dial started has ended.
func (l *legitClients) dialers(ctx context.Context, n int, end time.Time, pause time.Duration) (r *dialResult, wait func()) {
	r = &dialResult{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(end) {
				start := time.Now()
				c, err := transport.Dial(ctx, l.addr, &l.cfg)
				d := time.Since(start)
				r.mu.Lock()
				r.attempts++
				if err != nil {
					r.failed++
					if r.firstErr == nil {
						r.firstErr, r.errAfter = err, d
					}
				} else {
					r.samples = append(r.samples, d)
				}
				r.mu.Unlock()
				if c != nil {
					c.Close()
				}
				sleepUntil(ctx, time.Now().Add(pause))
			}
		})
	}
	return r, wg.Wait
}

// measureBulk writes on a new stream of the bulk connection for d and
// returns the goodput the server application read, Mbit/s.
func (l *legitClients) measureBulk(ctx context.Context, d time.Duration) (float64, error) {
	s, err := l.bulkConn.OpenStream(ctx)
	if err != nil {
		return -1, fmt.Errorf("opening the bulk stream: %w", err)
	}
	defer s.CancelWrite(0)
	buf := make([]byte, bulkChunk)
	buf[0] = modeDiscard
	start := time.Now()
	end := start.Add(d)
	s.SetWriteDeadline(end)
	var werr error
	for ctx.Err() == nil && time.Now().Before(end) {
		if _, err := s.Write(buf); err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				werr = err
			}
			break
		}
	}
	// The receipts of the last writes are still on their way: wait
	// until the deadline, which a write that failed early did not reach.
	sleepUntil(ctx, end)
	consumed := s.Consumed()
	elapsed := time.Since(start)
	if werr != nil && consumed == 0 {
		return -1, fmt.Errorf("bulk write: %w", werr)
	}
	return float64(consumed) * 8 / elapsed.Seconds() / 1e6, nil
}

// sleepUntil sleeps until t or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}
