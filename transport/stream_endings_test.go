package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/transport/netsim"
)

// streamEnding plays one way a stream can end: the opener's half and the
// accepter's half, run at once. Each returns an error if what it saw was
// not what the ending promises.
type streamEnding struct {
	desc   string
	bidi   bool
	opener func(s *Stream) error
	accept func(s *Stream) error
}

var endingPayload = bytes.Repeat([]byte("limpet "), 300) // 2100 bytes: two packets

// endingTimeout bounds every call a stream ending makes, so that one that
// never returns fails the test instead of hanging it.
const endingTimeout = 20 * time.Second

func wantEOF(s *Stream, want []byte) error {
	got, err := io.ReadAll(s)
	if err != nil {
		return fmt.Errorf("reading to EOF: %w", err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("read %d bytes, want %d", len(got), len(want))
	}
	return nil
}

func wantStreamError(err error, code ApplicationErrorCode) error {
	var se *StreamError
	if !errors.As(err, &se) || se.Code != code || !se.Remote {
		return fmt.Errorf("got %v, want the peer's *StreamError with code %d", err, code)
	}
	return nil
}

var streamEndings = []streamEnding{{
	desc: "FIN with the last data, read to EOF, then Close", bidi: true,
	opener: func(s *Stream) error {
		s.Write(endingPayload)
		s.CloseWrite()
		if err := wantEOF(s, []byte("ok")); err != nil {
			return err
		}
		return s.Close()
	},
	accept: func(s *Stream) error {
		if err := wantEOF(s, endingPayload); err != nil {
			return err
		}
		s.Write([]byte("ok"))
		return s.Close()
	},
}, {
	desc: "FIN in a packet of its own", bidi: true,
	opener: func(s *Stream) error {
		s.Write(endingPayload)
		s.Flush()
		ctx, cancel := context.WithTimeout(context.Background(), endingTimeout)
		defer cancel()
		if err := s.WaitConsumed(ctx, int64(len(endingPayload))); err != nil {
			return err
		}
		s.CloseWrite() // the data is acknowledged: the FIN goes alone
		return wantEOF(s, nil)
	},
	accept: func(s *Stream) error {
		if err := wantEOF(s, endingPayload); err != nil {
			return err
		}
		return s.Close()
	},
}, {
	desc: "Close before the peer's FIN arrives, read nothing", bidi: true,
	opener: func(s *Stream) error {
		s.Write(endingPayload)
		s.CloseWrite()
		return wantEOF(s, nil) // the accepter closed: its FIN, no data
	},
	accept: func(s *Stream) error {
		return s.Close()
	},
}, {
	desc: "both Close at once without reading", bidi: true,
	opener: func(s *Stream) error {
		s.Write(endingPayload)
		return s.Close()
	},
	accept: func(s *Stream) error {
		s.Write(endingPayload)
		return s.Close()
	},
}, {
	desc: "CancelWrite: the peer sees RESET_STREAM", bidi: true,
	opener: func(s *Stream) error {
		s.Write(endingPayload)
		s.CancelWrite(7)
		return s.Close()
	},
	accept: func(s *Stream) error {
		_, err := io.ReadAll(s)
		if err := wantStreamError(err, 7); err != nil {
			return err
		}
		return s.Close()
	},
}, {
	desc: "CancelRead: the peer's writes fail", bidi: true,
	opener: func(s *Stream) error {
		s.Write(endingPayload)
		ctx, cancel := context.WithTimeout(context.Background(), endingTimeout)
		defer cancel()
		if err := s.WaitConsumed(ctx, 1<<30); wantStreamError(errors.Unwrap(err), 8) != nil {
			return fmt.Errorf("WaitConsumed after the peer's CancelRead: %v", err)
		}
		return s.Close()
	},
	accept: func(s *Stream) error {
		s.CancelRead(8)
		return s.Close()
	},
}, {
	desc: "read to EOF after the peer already closed everything", bidi: true,
	opener: func(s *Stream) error {
		s.Write(endingPayload)
		s.Close()
		return nil
	},
	accept: func(s *Stream) error {
		if err := wantEOF(s, endingPayload); err != nil {
			return err
		}
		return s.Close()
	},
}, {
	desc: "unidirectional, read to EOF",
	opener: func(s *Stream) error {
		s.Write(endingPayload)
		return s.Close()
	},
	accept: func(s *Stream) error {
		return wantEOF(s, endingPayload)
	},
}, {
	desc: "unidirectional, Close without reading",
	opener: func(s *Stream) error {
		s.Write(endingPayload)
		return s.Close()
	},
	accept: func(s *Stream) error {
		return s.Close()
	},
}}

// TestStreamEndings: 1000 streams end in each of the ways above on one
// connection whose peer allows 100 at a time. Every one must end on both
// sides and give its slot back (MAX_STREAMS), so no OpenStream ever waits
// long, and when they are done neither side holds a stream.
func TestStreamEndings(t *testing.T) {
	_, cli, srv := testPair(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const perEnding, workers = 1000, 10
	for _, ending := range streamEndings {
		t.Run(ending.desc, func(t *testing.T) {
			errs := make(chan error, 2*perEnding)
			var wg sync.WaitGroup
			wg.Go(func() { // the accepter
				for range perEnding {
					accept := srv.AcceptStream
					if !ending.bidi {
						accept = srv.AcceptUniStream
					}
					s, err := accept(ctx)
					if err != nil {
						errs <- fmt.Errorf("accept: %w", err)
						return
					}
					s.SetDeadline(time.Now().Add(endingTimeout))
					wg.Go(func() {
						if err := ending.accept(s); err != nil {
							errs <- fmt.Errorf("accepter of stream %d: %w", s.StreamID(), err)
						}
					})
				}
			})
			for w := range workers {
				wg.Go(func() {
					for range perEnding / workers {
						// Slots come back within a round trip or two; a
						// stream that never ends would exhaust them after
						// 100 and leave this wait to time out.
						octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
						open := cli.OpenStream
						if !ending.bidi {
							open = cli.OpenUniStream
						}
						s, err := open(octx)
						ocancel()
						if err != nil {
							errs <- fmt.Errorf("worker %d: OpenStream waited for a slot: %w", w, err)
							return
						}
						s.SetDeadline(time.Now().Add(endingTimeout))
						if err := ending.opener(s); err != nil {
							errs <- fmt.Errorf("opener of stream %d: %w", s.StreamID(), err)
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			for _, c := range []*Conn{cli, srv} {
				if n := liveStreams(t, c); n != 0 {
					t.Errorf("%s holds %d streams after every one ended, want 0", side(!c.isServer), n)
				}
			}
		})
	}
}

// liveStreams waits for the streams of c to finish and reports how many
// are left: a finished stream's last frames may still be on their way, so
// it allows a few seconds.
func liveStreams(t *testing.T, c *Conn) int {
	t.Helper()
	n := 0
	for deadline := time.Now().Add(5 * time.Second); ; {
		c.run(context.Background(), func(time.Time) { n = len(c.streams.byID) })
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestResetThenCancelReadFreesSlot: the peer resets a stream, and the
// application, without reading the reset, stops reading (CancelRead or
// Close): the stream finishes and its slot goes back, so the peer can
// open streams without end against a limit of three.
func TestResetThenCancelReadFreesSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cli, srv, cliNet, srvNet := impairedPairWith(t, netsim.Config{Delay: 5 * time.Millisecond}, nil, &Config{MaxIncomingStreams: 3})
		defer func() { srv.Close(); cliNet.Close(); srvNet.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for i := range 10 {
			c, err := cli.OpenStream(ctx)
			if err != nil {
				t.Fatalf("stream %d: %v", i, err)
			}
			c.Write([]byte("hello"))
			s, err := srv.AcceptStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			c.CancelWrite(1)
			c.CancelRead(0)
			time.Sleep(50 * time.Millisecond) // the RESET_STREAM arrives
			s.Close()
		}
	})
}
