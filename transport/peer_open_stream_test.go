package transport

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/limpetnet/limpet/packet"
)

// TestPeerOpenStreamConcurrent: OpenStream runs on its callers' goroutines
// (no round trip through the loop); eight of them opening streams at once
// get distinct IDs, exactly the first 40, and every stream's first write
// reaches the peer under its own ID.
func TestPeerOpenStreamConcurrent(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side, func(p *packet.TransportParameters) { p.InitialMaxStreamsBidi = 100 })
		tc.ignoreFrame(packet.FrameAck)
		const openers, each = 8, 5
		ids := openConcurrently(t, openers, each, func() (*Stream, error) {
			s, err := tc.conn.OpenStream(context.Background())
			if err == nil {
				_, err = s.Write([]byte{byte(s.StreamID())})
			}
			return s, err
		}, nil)
		tc.wait()
		want := firstStreamIDs(tc, openers*each, true)
		if !slices.Equal(ids, want) {
			t.Fatalf("opened %v, want %v", ids, want)
		}
		var sent []packet.StreamID
		for {
			f, ok := tc.readFrame()
			if !ok {
				break
			}
			sf, ok := f.(packet.StreamFrame)
			if !ok {
				continue
			}
			if len(sf.Data) != 1 || sf.Data[0] != byte(sf.StreamID) || sf.Offset != 0 {
				t.Errorf("stream %d: data %v at %d, want its own ID at 0", sf.StreamID, sf.Data, sf.Offset)
			}
			sent = append(sent, sf.StreamID)
		}
		slices.Sort(sent)
		if !slices.Equal(sent, want) {
			t.Fatalf("the peer got data on %v, want %v", sent, want)
		}
	})
}

// TestPeerOpenStreamWaitsForLimit: at the peer's stream limit OpenStream
// waits, and MAX_STREAMS lets it open the next ID.
func TestPeerOpenStreamWaitsForLimit(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side, func(p *packet.TransportParameters) { p.InitialMaxStreamsBidi = 1 })
		first := tc.openStream(true)
		if first.StreamID() != tc.connStreamID(0, true) {
			t.Fatalf("first stream %d, want %d", first.StreamID(), tc.connStreamID(0, true))
		}
		opened := make(chan *Stream, 1)
		go func() {
			s, err := tc.conn.OpenStream(context.Background())
			if err != nil {
				t.Errorf("OpenStream: %v", err)
			}
			opened <- s
		}()
		tc.wait()
		if len(opened) != 0 {
			t.Fatal("OpenStream returned past the peer's limit of 1")
		}
		tc.writeFrames(packet.MaxStreamsFrame{Bidirectional: true, Max: 2})
		tc.wait()
		select {
		case s := <-opened:
			if s == nil || s.StreamID() != tc.connStreamID(1, true) {
				t.Fatalf("after MAX_STREAMS 2 opened %v, want stream %d", s, tc.connStreamID(1, true))
			}
		default:
			t.Fatal("OpenStream still waits after MAX_STREAMS raised the limit")
		}
	})
}

// TestPeerOpenStreamRacesMaxStreams: callers waiting at the peer's limit
// while MAX_STREAMS frames raise it one at a time each get the next ID once
// there is room, for unidirectional streams as for bidirectional ones (with
// -race this also checks that the loop and the openers share the limits
// under the lock).
func TestPeerOpenStreamRacesMaxStreams(t *testing.T) {
	for _, bidi := range []bool{true, false} {
		t.Run(map[bool]string{true: "bidi", false: "uni"}[bidi], func(t *testing.T) {
			forBothSides(t, func(t *testing.T, side connSide) {
				tc := newTestConn(t, side, func(p *packet.TransportParameters) {
					p.InitialMaxStreamsBidi, p.InitialMaxStreamsUni = 1, 1
				})
				tc.ignoreFrame(packet.FrameAck)
				const openers, each = 4, 5
				open := tc.conn.OpenStream
				if !bidi {
					open = tc.conn.OpenUniStream
				}
				ids := openConcurrently(t, openers, each, func() (*Stream, error) { return open(context.Background()) }, func() {
					for limit := uint64(2); limit <= openers*each; limit++ {
						tc.writeFrames(packet.MaxStreamsFrame{Bidirectional: bidi, Max: limit})
					}
				})
				want := firstStreamIDs(tc, openers*each, bidi)
				if !slices.Equal(ids, want) {
					t.Fatalf("opened %v, want %v", ids, want)
				}
			})
		})
	}
}

// TestPeerOpenStreamCancelledAtLimit: a caller that gives up waiting at the
// limit uses no ID; the next open after MAX_STREAMS gets the next one.
func TestPeerOpenStreamCancelledAtLimit(t *testing.T) {
	forBothSides(t, func(t *testing.T, side connSide) {
		tc := newTestConn(t, side, func(p *packet.TransportParameters) { p.InitialMaxStreamsBidi = 1 })
		tc.openStream(true)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := tc.conn.OpenStream(ctx)
			done <- err
		}()
		tc.wait()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("OpenStream with its context cancelled at the limit = %v, want context.Canceled", err)
		}
		tc.writeFrames(packet.MaxStreamsFrame{Bidirectional: true, Max: 2})
		if s := tc.openStream(true); s.StreamID() != tc.connStreamID(1, true) {
			t.Fatalf("after the cancelled wait opened %d, want %d", s.StreamID(), tc.connStreamID(1, true))
		}
	})
}

// TestPeerOpenStreamThenClose: a stream opened just before the connection
// ends, locally or by the peer, fails with the end's error, whether or not
// the loop took it in first, and OpenStream fails with it afterwards. (Run
// many times: whether the peer's CONNECTION_CLOSE or the new stream reaches
// the loop first is up to the scheduler.)
func TestPeerOpenStreamThenClose(t *testing.T) {
	closes := []struct {
		desc  string
		close func(tc *testConn)
		check func(err error) bool
	}{{
		desc:  "local Close",
		close: func(tc *testConn) { tc.conn.Close() },
		check: func(err error) bool { return errors.Is(err, net.ErrClosed) },
	}, {
		desc: "the peer's CONNECTION_CLOSE",
		close: func(tc *testConn) {
			tc.writeFrames(packet.ConnectionCloseFrame{Application: true, ErrorCode: 9})
		},
		check: func(err error) bool {
			var ae *ApplicationError
			return errors.As(err, &ae) && ae.Code == 9 && ae.Remote
		},
	}}
	for _, c := range closes {
		t.Run(c.desc, func(t *testing.T) {
			forBothSides(t, func(t *testing.T, side connSide) {
				for range 20 {
					tc := newTestConn(t, side)
					s, err := tc.conn.OpenStream(context.Background())
					if err != nil {
						t.Fatalf("OpenStream: %v", err)
					}
					c.close(tc)
					if _, err := s.Read(make([]byte, 1)); !c.check(err) {
						t.Fatalf("Read on a stream opened before the end = %v", err)
					}
					if _, err := s.Write([]byte("x")); !c.check(err) {
						t.Fatalf("Write on a stream opened before the end = %v", err)
					}
					if _, err := tc.conn.OpenStream(context.Background()); !c.check(err) {
						t.Fatalf("OpenStream after the end = %v", err)
					}
				}
			})
		})
	}
}

// openConcurrently runs openers goroutines that each open each streams
// with open, runs meanwhile (if not nil) while they do, and returns the
// IDs they got, sorted.
func openConcurrently(t *testing.T, openers, each int, open func() (*Stream, error), meanwhile func()) []packet.StreamID {
	var (
		mu  sync.Mutex
		ids []packet.StreamID
		wg  sync.WaitGroup
	)
	for range openers {
		wg.Go(func() {
			for range each {
				s, err := open()
				if err != nil {
					t.Errorf("open: %v", err)
					return
				}
				mu.Lock()
				ids = append(ids, s.StreamID())
				mu.Unlock()
			}
		})
	}
	if meanwhile != nil {
		meanwhile()
	}
	wg.Wait()
	slices.Sort(ids)
	return ids
}

// firstStreamIDs is the IDs of the Conn's first n streams of a kind.
func firstStreamIDs(tc *testConn, n int, bidi bool) []packet.StreamID {
	var ids []packet.StreamID
	for i := range uint64(n) {
		ids = append(ids, tc.connStreamID(i, bidi))
	}
	return ids
}
