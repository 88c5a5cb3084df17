package transport

import (
	"errors"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/packet"
)

// This file tests the bounds on a connection's send buffers
// (conn_streams.go, docs/SECURITY.md) against a peer that grants no credit
// or acknowledges nothing: writes block instead of buffering without limit.

// writeUntilBlocked writes n bytes to s in a goroutine with a write
// deadline of d, lets the fake clock pass it, and returns what Write
// accepted and its error.
func writeUntilBlocked(tc *testConn, s *Stream, n int, d time.Duration) (int, error) {
	tc.t.Helper()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	s.SetWriteDeadline(time.Now().Add(d))
	go func() {
		n, err := s.Write(make([]byte, n))
		done <- result{n, err}
	}()
	tc.wait()
	tc.advance(d)
	r := <-done
	return r.n, r.err
}

// TestPeerSendBufferBoundedByCredit: a stream buffers at most
// aheadOfCredit past the peer's MAX_STREAM_DATA, whatever its own cap, and
// a MAX_STREAM_DATA lets the blocked writer go on.
func TestPeerSendBufferBoundedByCredit(t *testing.T) {
	const credit = 1000
	synctest.Test(t, func(t *testing.T) {
		tc := newTestConn(t, serverSide, func(p *packet.TransportParameters) {
			p.InitialMaxStreamDataBidiRemote = credit
		})
		tc.ignoreFrame(packet.FrameAck)
		s := tc.openStream(true)
		n, err := writeUntilBlocked(tc, s, 1<<20, time.Millisecond)
		if !errors.Is(err, os.ErrDeadlineExceeded) || n != credit+aheadOfCredit {
			t.Fatalf("Write to a peer granting %d bytes: %d, %v; want %d and a deadline error", credit, n, err, credit+aheadOfCredit)
		}
		tc.discardUnread()
		tc.writeFrames(packet.MaxStreamDataFrame{StreamID: s.id, Max: 2 * credit})
		n, err = writeUntilBlocked(tc, s, 1<<20, time.Millisecond)
		if !errors.Is(err, os.ErrDeadlineExceeded) || n != credit {
			t.Fatalf("after MAX_STREAM_DATA grew by %d: Write accepted %d (%v), want %d", credit, n, err, credit)
		}
	})
}

// TestPeerSendBufferBoundedPerConnection: a peer that grants credit but
// acknowledges nothing holds at most minUnsentCap of unsent bytes over all
// streams, plus what the congestion window let out.
func TestPeerSendBufferBoundedPerConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tc := newTestConn(t, serverSide, func(p *packet.TransportParameters) {
			p.InitialMaxData = 1 << 40
			p.InitialMaxStreamDataBidiRemote = 1 << 30
		})
		tc.ignoreFrame(packet.FrameAck)
		total := 0
		for range 4 {
			s := tc.openStream(true)
			n, _ := writeUntilBlocked(tc, s, 16<<20, time.Millisecond)
			total += n
		}
		sent := int(tc.conn.Stats().StreamBytesSent)
		if unsent := total - sent; unsent != minUnsentCap {
			t.Fatalf("4 streams buffered %d bytes, %d of them unsent; want exactly %d unsent", total, unsent, minUnsentCap)
		}
		if sent > 256<<10 {
			t.Fatalf("%d bytes sent without an acknowledgement: more than a congestion window", sent)
		}
	})
}

// TestPeerSendBufferBoundedPerEndpoint: Config.MaxUnsentBytes bounds the
// unsent bytes of all of an endpoint's connections, below a connection's
// own bound; a connection that ends gives its share back.
func TestPeerSendBufferBoundedPerEndpoint(t *testing.T) {
	const limit = 100 << 10
	synctest.Test(t, func(t *testing.T) {
		tc := newTestConn(t, serverSide, func(c *Config) { c.MaxUnsentBytes = limit }, func(p *packet.TransportParameters) {
			p.InitialMaxData = 1 << 40
			p.InitialMaxStreamDataBidiRemote = 1 << 30
		})
		tc.ignoreFrame(packet.FrameAck)
		s := tc.openStream(true)
		n, _ := writeUntilBlocked(tc, s, 16<<20, time.Millisecond)
		sent := int(tc.conn.Stats().StreamBytesSent)
		if unsent := n - sent; unsent != limit {
			t.Fatalf("wrote %d, sent %d: %d unsent, want the endpoint's limit %d", n, sent, unsent, limit)
		}
		if got := tc.listener.unsent.Load(); got != limit {
			t.Fatalf("the endpoint counts %d unsent, want %d", got, limit)
		}
		tc.conn.CloseWithError(0, "")
		tc.wait()
		<-tc.conn.Done()
		if got := tc.listener.unsent.Load(); got != 0 {
			t.Fatalf("after the connection ended the endpoint counts %d unsent, want 0", got)
		}
	})
}
