package bench

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// Bounds on waiting for the peers.
const (
	// peerTimeoutMargin lets the harness's own deadline fire before the
	// peers give up, so the row reports the harness's reason.
	peerTimeoutMargin = 5 * time.Second
	// peerReapTimeout bounds waiting for killed peers and their output.
	peerReapTimeout = 5 * time.Second
)

// RunQuicGo moves size bytes on one quic-go stream across nw: the Go QUIC
// stack users would otherwise pick, so the comparison says what choosing
// limpet instead gains or costs.
//
// quic-go lives in its own module (bench/peers), so that the limpet module
// does not depend on it. RunQuicGo builds that module's quicgo-peer program
// once per process with the go command (which needs the Go toolchain, and
// quic-go from the module cache or the module proxy) and runs its server
// and client as two child processes, each started on its side of nw by
// Network.Command; the server listens on nw.ServerHost. Each peer runs
// with GOMAXPROCS set to half the processors (see peerGOMAXPROCS), so
// that the pair gets what the in-process protocols get.
//
// The measured interval is the same as for the in-process protocols: from
// the client's dial to the server having read the last byte, taken from the
// wall-clock times the peers report. CPU time is both processes' user+sys
// time from their exit status, less what each had spent before the
// transfer began (start-up, certificate generation), plus this process's
// own over the run (see quicGoCPU); the peers' teardown is counted.
//
// Retransmitted is the client's lost bytes (quic-go's
// ConnectionStats.BytesLost): quic-go resends the frames of lost packets
// rather than the packets, so the bytes lost are the nearest figure to
// TCP's retransmitted bytes. Detail gives the negotiated suite, the
// quic-go version, whether GSO was on, and the sender's congestion state.
func RunQuicGo(parent context.Context, nw Network, size int64) Result {
	if size <= 0 {
		return failedResult(ProtocolQuicGo, fmt.Errorf("bench: transfer size %d, want > 0", size))
	}
	binary, err := defaultPeerBuilder.binary(parent)
	if err != nil {
		return failedResult(ProtocolQuicGo, withParentReason(parent, err))
	}
	// Leave the previous run's garbage out of this run's CPU time.
	runtime.GC()
	cpuStart, err := cpuTime()
	if err != nil {
		return failedResult(ProtocolQuicGo, err)
	}
	start := time.Now()
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var run quicGoRun
	err = run.transfer(ctx, nw, binary, size)
	// Stop whatever still runs (exec.CommandContext sends the Cancel
	// signal) and reap it before reading what the peers printed.
	cancel()
	run.reap()
	cpuEnd, cpuErr := cpuTime()
	run.harnessCPU = cpuEnd - cpuStart
	if err == nil && run.server.err() != nil {
		err = run.server.failure()
	}
	if err == nil {
		err = cpuErr
	}
	if err != nil {
		r := failedResult(ProtocolQuicGo, withParentReason(parent, err))
		r.Seconds = time.Since(start).Seconds()
		run.fillPartial(&r, size)
		return r
	}
	r, err := run.result(size)
	if err != nil {
		return failedResult(ProtocolQuicGo, err)
	}
	return r
}

// quicGoRun is one run's two peer processes.
type quicGoRun struct {
	server, client *peerProcess
	// harnessCPU is this process's CPU time over the run.
	harnessCPU time.Duration
}

// cpu is what the run spent; call it only after both peers have exited.
func (q *quicGoRun) cpu() quicGoCPU {
	return quicGoCPU{server: q.server.cpu(), client: q.client.cpu(), harness: q.harnessCPU}
}

// transfer starts the server, then the client, and waits until the client
// has exited cleanly or either has failed.
func (q *quicGoRun) transfer(ctx context.Context, nw Network, binary string, size int64) error {
	args := []string{"-size", strconv.FormatInt(size, 10), "-timeout", peerTimeout(ctx, size).String()}
	listen := netip.AddrPortFrom(nw.ServerHost(), 0)
	var err error
	q.server, err = startPeer(ctx, nw, true, binary, append([]string{"server", "-listen", listen.String()}, args...))
	if err != nil {
		return err
	}
	addr, err := q.server.listening(ctx)
	if err != nil {
		return err
	}
	q.client, err = startPeer(ctx, nw, false, binary, append([]string{"client", "-addr", addr.String()}, args...))
	if err != nil {
		return err
	}

	// The client exits first, once the server has acknowledged every byte;
	// a server that dies earlier would leave the client waiting.
	serverExited := q.server.exited
	for waiting := true; waiting; {
		select {
		case <-q.client.exited:
			waiting = false
		case <-serverExited:
			if q.server.err() != nil {
				return q.server.failure()
			}
			serverExited = nil // a clean exit: the client's follows
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if q.client.err() != nil {
		return q.client.failure()
	}
	// The client had the server's receipt, so the server has read every
	// byte and is only waiting for the client's CONNECTION_CLOSE, which
	// may be lost; the stop signal ends that wait and it exits cleanly.
	return nil
}

// reap waits for both peers, which must have been told to stop.
func (q *quicGoRun) reap() {
	for _, p := range []*peerProcess{q.server, q.client} {
		if p != nil {
			p.reap()
		}
	}
}

// result turns the reports of two peers that exited cleanly into the row.
func (q *quicGoRun) result(size int64) (Result, error) {
	sr, err := parseQuicGoServerOutput(q.server.output.Lines())
	if err != nil {
		return Result{}, fmt.Errorf("server: %w", err)
	}
	cr, err := parseQuicGoClientOutput(q.client.output.Lines())
	if err != nil {
		return Result{}, fmt.Errorf("client: %w", err)
	}
	return combineQuicGoReports(size, sr, cr, q.cpu())
}

// fillPartial adds to a failed row what the stopped peers reported about
// the bytes that did arrive, so that a run cut short by Plan.TimeCap still
// measures the path.
func (q *quicGoRun) fillPartial(r *Result, size int64) {
	if q.server == nil || q.client == nil || !q.server.hasExited() || !q.client.hasExited() {
		return
	}
	p, err := partialQuicGoReports(size, q.server.output.Lines(), q.client.output.Lines(), q.cpu())
	if err != nil {
		return
	}
	r.Bytes, r.TTFB, r.Seconds = p.Bytes, p.TTFB, p.Seconds
	r.Retransmitted, r.Detail, r.partialCPU = p.Retransmitted, p.Detail, p.partialCPU
}

// peerTimeout is the -timeout the peers get: past the harness's deadline,
// or with no deadline, 20 s plus 10 MB/s of the size (qbench's default).
func peerTimeout(ctx context.Context, size int64) time.Duration {
	if deadline, ok := ctx.Deadline(); ok {
		return max(time.Until(deadline), 0).Round(time.Millisecond) + peerTimeoutMargin
	}
	return (20*time.Second + time.Duration(float64(size)/(10*MB)*float64(time.Second))).Round(time.Second)
}

// withParentReason puts the caller's cancellation or deadline first: a
// failure seen after it is usually just a peer the cancellation killed.
func withParentReason(parent context.Context, err error) error {
	if parentErr := parent.Err(); parentErr != nil && !errors.Is(err, parentErr) {
		return fmt.Errorf("%w (%v)", parentErr, err)
	}
	return err
}

// errSignalled marks a peer ended by a signal, usually the harness's own
// on cancellation.
var errSignalled = errors.New("ended by a signal")

// exitReason names the signal behind a peer's wait error.
func exitReason(err error) error {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Errorf("%w (%v)", errSignalled, ws.Signal())
		}
	}
	return err
}
