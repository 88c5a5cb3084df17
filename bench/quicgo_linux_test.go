package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// quicGoTestSize is small enough for the race detector's slow-down and big
// enough to leave slow start.
const quicGoTestSize = 8 << 20

// buildTimeout allows for downloading quic-go and compiling it cold.
const buildTimeout = 5 * time.Minute

// builtQuicGoPeer builds the peer before a test's timed part, and removes
// it when the test ends.
func builtQuicGoPeer(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	t.Cleanup(func() {
		if err := RemovePeerBinaries(); err != nil {
			t.Errorf("RemovePeerBinaries: %v", err)
		}
	})
	if _, err := defaultPeerBuilder.binary(ctx); err != nil {
		t.Fatal(err)
	}
}

// recordingNetwork is Loopback that keeps the peer commands it prepared,
// so a test can check they were all reaped.
type recordingNetwork struct {
	Network
	mu   sync.Mutex
	cmds []*exec.Cmd
}

func (n *recordingNetwork) Command(ctx context.Context, server bool, name string, args ...string) *exec.Cmd {
	cmd := n.Network.Command(ctx, server, name, args...)
	n.mu.Lock()
	n.cmds = append(n.cmds, cmd)
	n.mu.Unlock()
	return cmd
}

// checkReaped fails unless every recorded peer process that started was
// waited for.
func (n *recordingNetwork) checkReaped(t *testing.T, wantCommands int) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.cmds) != wantCommands {
		t.Errorf("got %d peer commands, want %d", len(n.cmds), wantCommands)
	}
	for _, cmd := range n.cmds {
		if cmd.Process != nil && cmd.ProcessState == nil {
			t.Errorf("peer %v was not reaped", cmd.Args)
		}
	}
}

func TestRunQuicGoLoopback(t *testing.T) {
	builtQuicGoPeer(t)
	nw := &recordingNetwork{Network: Loopback}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := RunQuicGo(ctx, nw, quicGoTestSize)
	nw.checkReaped(t, 2)
	if !r.OK() {
		t.Fatalf("RunQuicGo: %s", r.Err)
	}
	t.Logf("%v", r)
	if r.Protocol != ProtocolQuicGo || r.Bytes != quicGoTestSize {
		t.Errorf("got protocol %q with %d bytes, want %q with %d", r.Protocol, r.Bytes, ProtocolQuicGo, quicGoTestSize)
	}
	if r.TTFB <= 0 || r.Seconds <= r.TTFB.Seconds() || r.MBps <= 0 || r.CPUSecondsPerGiB <= 0 {
		t.Errorf("got TTFB %v, %v s, %v MB/s, %v CPU s/GiB; want positive figures with TTFB before the end", r.TTFB, r.Seconds, r.MBps, r.CPUSecondsPerGiB)
	}
	suite := "TLS_CHACHA20_POLY1305_SHA256"
	if aesHardware() {
		suite = "TLS_AES_128_GCM_SHA256"
	}
	if want := suite + ", quic-go v0."; !strings.HasPrefix(r.Detail, want) {
		t.Errorf("Detail = %q, want it to start %q", r.Detail, want)
	}
	if want := fmt.Sprintf(", GOMAXPROCS %d per peer,", peerGOMAXPROCS()); os.Getenv("GOMAXPROCS") == "" && !strings.Contains(r.Detail, want) {
		t.Errorf("Detail = %q, want it to contain %q", r.Detail, want)
	}
}

func TestRunQuicGoDeadlineKeepsPartialFigures(t *testing.T) {
	builtQuicGoPeer(t)
	nw := &recordingNetwork{Network: Loopback}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// A terabyte cannot move in two seconds: the deadline stops the run,
	// and the stopped peers still report what had arrived.
	const size = 1 << 40
	r := RunQuicGo(ctx, nw, size)
	nw.checkReaped(t, 2)
	t.Logf("%v", r)
	if !errors.Is(r.cause, context.DeadlineExceeded) {
		t.Errorf("error %q: want one wrapping context.DeadlineExceeded", r.Err)
	}
	if r.Bytes <= 0 || r.Bytes >= size || r.TTFB <= 0 || r.Seconds <= r.TTFB.Seconds() || r.partialCPU <= 0 {
		t.Errorf("got %d bytes, TTFB %v, %v s, CPU %v; want some of the %d bytes, with times and CPU", r.Bytes, r.TTFB, r.Seconds, r.partialCPU, int64(size))
	}
	if r.MBps != 0 || r.CPUSecondsPerGiB != 0 {
		t.Errorf("got %v MB/s, %v CPU s/GiB; want no rates in a failed row", r.MBps, r.CPUSecondsPerGiB)
	}
	if !strings.HasPrefix(r.Detail, "TLS_") {
		t.Errorf("Detail = %q, want the client's stats", r.Detail)
	}
}

func TestRunQuicGoCancelledBeforeStart(t *testing.T) {
	builtQuicGoPeer(t)
	nw := &recordingNetwork{Network: Loopback}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := RunQuicGo(ctx, nw, quicGoTestSize)
	nw.checkReaped(t, 1)
	if !errors.Is(r.cause, context.Canceled) {
		t.Errorf("error %q: want one wrapping context.Canceled", r.Err)
	}
	if r.Bytes != 0 {
		t.Errorf("got %d bytes, want 0", r.Bytes)
	}
}

func TestPeerFailureReasons(t *testing.T) {
	builtQuicGoPeer(t)
	binary, err := defaultPeerBuilder.binary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// A server that cannot listen says why on stderr, and the error
	// carries it.
	bad, err := startPeer(ctx, Loopback, true, binary, []string{"server", "-size", "1", "-listen", "256.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.listening(ctx)
	bad.reap()
	if err == nil || !strings.Contains(err.Error(), "server exited before listening: quicgo-peer server: exit status 1: quicgo-peer: server: -listen:") {
		t.Errorf("server with a bad -listen: got error %v, want its exit and its complaint about -listen", err)
	}

	// A peer that dies of the SIGTERM the harness stops it with says
	// which signal ended it.
	sleepCtx, stop := context.WithCancel(ctx)
	sleeper, err := startPeer(sleepCtx, plainNetwork{}, false, "sleep", []string{"60"})
	if err != nil {
		t.Fatal(err)
	}
	stop()
	sleeper.reap()
	if err := sleeper.failure(); !errors.Is(err, errSignalled) || !strings.Contains(err.Error(), "(terminated)") {
		t.Errorf("peer stopped by the harness: got %v, want errSignalled naming SIGTERM", err)
	}
}

// plainNetwork runs any program on loopback, for a peer that is not
// quicgo-peer.
type plainNetwork struct{ Network }

func (plainNetwork) Command(ctx context.Context, _ bool, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, name, args...)
}
