package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds on what a peer process may print: its stdout carries at most two
// short lines, its stderr a few error lines.
const (
	maxPeerStdout = 64 << 10
	maxPeerStderr = 4 << 10
)

// peerStopDelay is how long a peer told to stop may take to print its
// report and exit before it is killed.
const peerStopDelay = 2 * time.Second

// peerGOMAXPROCS is each peer's share of the processors. Two Go runtimes
// that each think they own every core spin against each other: on two
// loaded cores quic-go took about 8.5 CPU s/GiB as two such processes,
// 6 with one processor each, and 5.2 in one process. Half each gives the
// pair what the in-process protocols get; GOMAXPROCS in the environment
// overrides it.
func peerGOMAXPROCS() int { return max(1, runtime.NumCPU()/2) }

// errPeerOutputTooLong stops reading a peer that prints more than a report.
var errPeerOutputTooLong = errors.New("peer printed more than 64 KiB")

// peerProcess is one running quicgo-peer: its output and how it ended.
type peerProcess struct {
	name   string // "server" or "client", for errors
	cmd    *exec.Cmd
	output *lineCollector
	stderr *tailBuffer
	// exited is closed once cmd.Wait has returned and waitErr is set.
	exited  chan struct{}
	waitErr error
}

// startPeer starts the peer program on one side of nw. Standard output
// is collected line by line; the process is reaped by its own goroutine.
func startPeer(ctx context.Context, nw Network, server bool, binary string, args []string) (*peerProcess, error) {
	p := &peerProcess{
		name:   "client",
		cmd:    nw.Command(ctx, server, binary, args...),
		output: newLineCollector(maxPeerStdout),
		stderr: &tailBuffer{max: maxPeerStderr},
		exited: make(chan struct{}),
	}
	if server {
		p.name = "server"
	}
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.stderr
	if os.Getenv("GOMAXPROCS") == "" {
		p.cmd.Env = append(p.cmd.Environ(), "GOMAXPROCS="+strconv.Itoa(peerGOMAXPROCS()))
	}
	// A peer told to stop prints what it moved so far, which a run cut
	// short at a time cap still reports; SIGKILL follows after WaitDelay,
	// which also bounds waiting for output pipes held by anything the
	// peer started.
	p.cmd.Cancel = func() error { return p.cmd.Process.Signal(syscall.SIGTERM) }
	p.cmd.WaitDelay = peerStopDelay
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s %s: %w", filepath.Base(binary), p.name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// listening waits for the server's "listening on ADDR" line.
func (p *peerProcess) listening(ctx context.Context) (netip.AddrPort, error) {
	select {
	case <-p.output.first:
	case <-p.exited:
		// The line may have come just before the exit.
		select {
		case <-p.output.first:
		default:
			return netip.AddrPort{}, fmt.Errorf("server exited before listening: %w", p.failure())
		}
	case <-ctx.Done():
		return netip.AddrPort{}, fmt.Errorf("waiting for the server to listen: %w", ctx.Err())
	}
	return parseListening(p.output.Lines()[0])
}

// err is how the process ended, nil for a clean exit; call it only after
// exited is closed. A peer that exits cleanly after the harness's stop
// signal (a server waiting for the client's close) counts as clean,
// although Wait then reports the context's error.
func (p *peerProcess) err() error {
	if p.cmd.ProcessState != nil && p.cmd.ProcessState.Success() {
		return nil
	}
	return p.waitErr
}

// failure describes how the process failed, with the end of its stderr.
func (p *peerProcess) failure() error {
	err := exitReason(p.err())
	if err == nil {
		err = errors.New("exited cleanly")
	}
	if msg := p.stderr.String(); msg != "" {
		return fmt.Errorf("quicgo-peer %s: %w: %s", p.name, err, msg)
	}
	return fmt.Errorf("quicgo-peer %s: %w", p.name, err)
}

// cpu is the process's user+sys time; call it only after a clean exit.
func (p *peerProcess) cpu() time.Duration {
	return p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()
}

// reap waits for the process, whose context must be done: exec then sends
// it SIGTERM, and SIGKILL after WaitDelay, so no child outlives the run.
func (p *peerProcess) reap() {
	select {
	case <-p.exited:
	case <-time.After(peerReapTimeout):
		// Only if the kernel cannot deliver SIGKILL; the wait goroutine
		// still reaps the process when it does die.
	}
}

// hasExited reports whether the process has been reaped.
func (p *peerProcess) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// lineCollector is a peer's standard output: complete lines, up to a
// bound, with a signal when the first line is complete.
type lineCollector struct {
	mu      sync.Mutex
	max     int
	total   int
	partial []byte
	lines   []string
	// first is closed when the first line is complete.
	first chan struct{}
}

func newLineCollector(max int) *lineCollector {
	return &lineCollector{max: max, first: make(chan struct{})}
}

// Write takes output in pieces of any size. Beyond the bound it fails,
// which stops exec from copying more.
func (c *lineCollector) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	if c.total+n > c.max {
		return 0, errPeerOutputTooLong
	}
	c.total += n
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.partial = append(c.partial, p...)
			break
		}
		c.partial = append(c.partial, p[:i]...)
		c.lines = append(c.lines, string(c.partial))
		c.partial = c.partial[:0]
		p = p[i+1:]
		if len(c.lines) == 1 {
			close(c.first)
		}
	}
	return n, nil
}

// Lines returns the complete lines so far, and an unterminated last line
// if there is one.
func (c *lineCollector) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	lines := append([]string(nil), c.lines...)
	if len(c.partial) > 0 {
		lines = append(lines, string(c.partial))
	}
	return lines
}

// tailBuffer keeps the last max bytes written to it: the end of a peer's
// stderr is where its error is.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String is the kept text on one line.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(strings.Fields(strings.TrimSpace(string(t.buf))), " ")
}
