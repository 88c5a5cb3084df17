package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// pipeSession is a session over net.Pipe: no kernel, so the test exercises
// only transfer's own bookkeeping.
func pipeSession(t *testing.T) (session, net.Conn) {
	t.Helper()
	client, server := net.Pipe()
	closers := new(closerSet)
	closers.add(client)
	closers.add(server)
	return session{
		protocol: "pipe",
		closers:  closers,
		accept:   func(context.Context) (io.Reader, error) { return server, nil },
		dial:     func(context.Context) (io.Writer, error) { return client, nil },
		finish:   func(context.Context) error { return client.Close() },
		stats:    func() (uint64, string, error) { return 9, "pipe stats", nil },
	}, server
}

func TestTransferCountsEveryByte(t *testing.T) {
	s, _ := pipeSession(t)
	const size = 3*writeChunk + 123 // not a whole number of chunks
	r := transfer(context.Background(), size, s)
	if !r.OK() {
		t.Fatalf("transfer failed: %s", r.Err)
	}
	if r.Protocol != "pipe" || r.Bytes != size || r.Retransmitted != 9 || r.Detail != "pipe stats" {
		t.Errorf("got protocol %q, %d bytes, %d retransmitted, detail %q; want pipe, %d, 9, %q",
			r.Protocol, r.Bytes, r.Retransmitted, r.Detail, size, "pipe stats")
	}
	if r.Seconds <= 0 || r.TTFB <= 0 || r.TTFB.Seconds() > r.Seconds {
		t.Errorf("got Seconds %v, TTFB %v; want 0 < TTFB <= Seconds", r.Seconds, r.TTFB)
	}
	if want := float64(size) / MB / r.Seconds; r.MBps != want {
		t.Errorf("MBps = %v, want %v", r.MBps, want)
	}
}

func TestTransferDeadlineUnblocksAStalledServer(t *testing.T) {
	s, _ := pipeSession(t)
	// The server never reads, so the client's first write blocks until the
	// deadline closes the pipe.
	s.accept = func(ctx context.Context) (io.Reader, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r := transfer(ctx, 1<<20, s)
	if r.OK() {
		t.Fatalf("transfer succeeded, want a deadline error")
	}
	if !errors.Is(r.cause, context.DeadlineExceeded) {
		t.Errorf("error %q: want one wrapping context.DeadlineExceeded", r.Err)
	}
	if r.Bytes != 0 || r.MBps != 0 || r.CPUSecondsPerGiB != 0 {
		t.Errorf("failed run: got %d bytes, %v MB/s, %v CPU s/GiB; want zeros", r.Bytes, r.MBps, r.CPUSecondsPerGiB)
	}
}

func TestTransferReportsTheFirstFailure(t *testing.T) {
	s, _ := pipeSession(t)
	errStats := errors.New("wrong congestion controller")
	s.stats = func() (uint64, string, error) { return 0, "", errStats }
	r := transfer(context.Background(), 1000, s)
	if !errors.Is(r.cause, errStats) || r.Bytes != 1000 {
		t.Errorf("got error %q after %d bytes; want %q after 1000", r.Err, r.Bytes, errStats)
	}
}

func TestTransferRejectsEmptySize(t *testing.T) {
	s, _ := pipeSession(t)
	if r := transfer(context.Background(), 0, s); r.OK() {
		t.Errorf("transfer of 0 bytes succeeded; want an error")
	}
}

func TestDrain(t *testing.T) {
	tests := []struct {
		desc    string
		data    string
		size    int64
		wantN   int64
		wantErr error
	}{
		{desc: "exactly size then EOF", data: "hello", size: 5, wantN: 5},
		{desc: "stops at size without waiting for EOF", data: "hello world", size: 5, wantN: 5},
		{desc: "EOF before size", data: "abc", size: 5, wantN: 3, wantErr: io.ErrUnexpectedEOF},
		{desc: "nothing at all", data: "", size: 5, wantN: 0, wantErr: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		n, first, err := drain(strings.NewReader(tt.data), tt.size)
		if n != tt.wantN || !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
			t.Errorf("%s: drain = %d, %v; want %d, %v", tt.desc, n, err, tt.wantN, tt.wantErr)
		}
		if gotFirst := !first.IsZero(); gotFirst != (tt.wantN > 0) {
			t.Errorf("%s: first byte time set = %v, want %v", tt.desc, gotFirst, tt.wantN > 0)
		}
	}
}

func TestCloserSetClosesLateArrivals(t *testing.T) {
	var cs closerSet
	a, b := &countingCloser{}, &countingCloser{}
	cs.add(a)
	cs.closeAll()
	cs.add(b) // a connection completing during teardown
	cs.closeAll()
	if a.n != 1 || b.n != 1 {
		t.Errorf("closes: got a=%d b=%d, want 1 each", a.n, b.n)
	}
}

type countingCloser struct{ n int }

func (c *countingCloser) Close() error { c.n++; return nil }
