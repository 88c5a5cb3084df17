package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"syscall"
	"time"
)

// RequestResponseSpec makes a row of request/response exchanges: Requests
// requests of Size bytes, each answered with Size bytes, one at a time on
// one connection (one stream for limpet), as an RPC client does.
type RequestResponseSpec struct {
	Requests int `json:"requests"`
	Size     int `json:"size"`
}

// RequestResponseProtocols are the protocols a request/response row
// compares, when the run includes them: TCP with either controller, and
// limpet with its default adaptive FEC, with FEC off and with fixed FEC.
var RequestResponseProtocols = []string{ProtocolTCPCubic, ProtocolTCPBBR, ProtocolLimpet, ProtocolLimpetNoFEC, ProtocolLimpetFEC}

// RequestResponseResult is one protocol's run of a request/response row.
type RequestResponseResult struct {
	Protocol string `json:"protocol"`
	Requests int    `json:"requests"`
	// P50, P99 and Max are the completion times of the exchanges, from
	// the request's first write to the answer's last byte read.
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
	Err string        `json:"error,omitempty"`
}

// RunRequestResponse runs a request/response row with one protocol.
func RunRequestResponse(ctx context.Context, nw Network, protocol string, spec RequestResponseSpec) RequestResponseResult {
	res := RequestResponseResult{Protocol: protocol}
	var times []time.Duration
	var err error
	switch protocol {
	case ProtocolTCPCubic:
		times, err = tcpExchanges(ctx, nw, "cubic", spec)
	case ProtocolTCPBBR:
		times, err = tcpExchanges(ctx, nw, "bbr", spec)
	default:
		times, err = limpetExchanges(ctx, nw, protocol, spec)
	}
	if err != nil {
		res.Err = err.Error()
	}
	res.Requests = len(times)
	if len(times) > 0 {
		slices.Sort(times)
		res.P50 = times[len(times)/2]
		res.P99 = times[min(len(times)*99/100, len(times)-1)]
		res.Max = times[len(times)-1]
	}
	return res
}

// tcpExchanges runs the exchanges over one TCP connection with Nagle off
// (as RPC clients set it), the client's controller set to congestion.
func tcpExchanges(ctx context.Context, nw Network, congestion string, spec RequestResponseSpec) ([]time.Duration, error) {
	control := func(_, _ string, c syscall.RawConn) error { return setCongestion(c, congestion) }
	closers := new(closerSet)
	defer closers.closeAll()
	stop := context.AfterFunc(ctx, closers.closeAll)
	defer stop()
	ln, err := nw.ListenTCP(ctx, control)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	closers.add(ln)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		closers.add(c)
		serveEcho(c, spec.Size)
	}()
	c, err := nw.DialTCP(ctx, ln.Addr().(*net.TCPAddr).AddrPort(), control)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	closers.add(c)
	return timeExchanges(ctx, c, spec)
}

// serveEcho answers every size-byte request on rw with the same bytes,
// until an error.
func serveEcho(rw io.ReadWriter, size int) {
	buf := make([]byte, size)
	for {
		if _, err := io.ReadFull(rw, buf); err != nil {
			return
		}
		if _, err := rw.Write(buf); err != nil {
			return
		}
	}
}

// timeExchanges sends spec.Requests requests on rw one at a time, checks
// each answer, and returns how long each took.
func timeExchanges(ctx context.Context, rw io.ReadWriter, spec RequestResponseSpec) ([]time.Duration, error) {
	req := make([]byte, spec.Size)
	got := make([]byte, spec.Size)
	times := make([]time.Duration, 0, spec.Requests)
	for i := range spec.Requests {
		if ctx.Err() != nil {
			return times, ctx.Err()
		}
		for j := range req {
			req[j] = byte(i + j)
		}
		start := time.Now()
		if _, err := rw.Write(req); err != nil {
			return times, fmt.Errorf("request %d: %w", i, err)
		}
		if _, err := io.ReadFull(rw, got); err != nil {
			return times, fmt.Errorf("answer %d: %w", i, err)
		}
		times = append(times, time.Since(start))
		if string(got) != string(req) {
			return times, fmt.Errorf("answer %d differs from its request", i)
		}
	}
	return times, nil
}
