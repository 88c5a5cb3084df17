package bench

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/cpu"
	"golang.org/x/sys/unix"
)

const smallRun = 1 << 20

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// defaultCongestion is the kernel's default controller, which any process
// may select.
func defaultCongestion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func checkSmallRun(t *testing.T, r Result, protocol string) {
	t.Helper()
	if !r.OK() {
		t.Fatalf("%s: %s", protocol, r.Err)
	}
	if r.Protocol != protocol || r.Bytes != smallRun {
		t.Errorf("got protocol %q with %d bytes, want %q with %d", r.Protocol, r.Bytes, protocol, smallRun)
	}
	if r.Seconds <= 0 || r.MBps <= 0 || r.TTFB <= 0 || r.TTFB.Seconds() > r.Seconds {
		t.Errorf("%s: got %v s, %v MB/s, TTFB %v; want positive figures with TTFB within the run", protocol, r.Seconds, r.MBps, r.TTFB)
	}
}

func TestRunTCPLoopback(t *testing.T) {
	cc := defaultCongestion(t)
	r := RunTCP(testContext(t), Loopback, smallRun, cc)
	checkSmallRun(t, r, "tcp-"+cc)
	if want := "cc " + cc; r.Detail != want {
		t.Errorf("Detail = %q, want %q", r.Detail, want)
	}
}

func TestRunTCPRefusedCongestionIsAnErrorRow(t *testing.T) {
	r := RunTCP(testContext(t), Loopback, smallRun, "no-such-cc")
	if r.OK() {
		t.Fatalf("RunTCP with an unknown controller succeeded: %v", r)
	}
	if r.Protocol != "tcp-no-such-cc" || r.Bytes != 0 {
		t.Errorf("got protocol %q with %d bytes, want tcp-no-such-cc with 0", r.Protocol, r.Bytes)
	}
	if !errors.Is(r.cause, unix.ENOENT) || !strings.Contains(r.Err, "TCP_CONGESTION=no-such-cc") {
		t.Errorf("error %q: want ENOENT from setting TCP_CONGESTION=no-such-cc", r.Err)
	}
}

// aesHardware mirrors crypto/tls's test for putting AES-GCM first in TLS 1.3.
func aesHardware() bool {
	switch runtime.GOARCH {
	case "amd64":
		return cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ
	case "arm64":
		return cpu.ARM64.HasAES && cpu.ARM64.HasPMULL
	}
	return false
}

func TestRunTLSLoopback(t *testing.T) {
	r := RunTLS(testContext(t), Loopback, smallRun)
	checkSmallRun(t, r, ProtocolTLS)
	suite := "TLS_CHACHA20_POLY1305_SHA256"
	if aesHardware() {
		suite = "TLS_AES_128_GCM_SHA256"
	}
	if want := suite + ", cc " + defaultCongestion(t); r.Detail != want {
		t.Errorf("Detail = %q, want %q", r.Detail, want)
	}
}

func TestRunTCPCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := RunTCP(ctx, Loopback, smallRun, defaultCongestion(t))
	if !errors.Is(r.cause, context.Canceled) {
		t.Errorf("error %q: want one wrapping context.Canceled", r.Err)
	}
}
