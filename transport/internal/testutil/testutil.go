// Package testutil holds test helpers shared by the transport packages'
// tests: goroutine-leak checks and waits for really blocked calls.
package testutil

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// CheckGoroutines fails the test if it ends with more goroutines than it
// started with. Register it first, so that it runs after the test's other
// cleanups (which close things). Connections end at once, but a dialled
// connection's socket stays open through its closing period (three probe
// timeouts, RFC 9000 §10.2) to answer the peer's late packets, so the check
// allows goroutines that were told to stop up to leakGrace to exit.
func CheckGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(leakGrace)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			runtime.Gosched()
			time.Sleep(time.Millisecond)
		}
		if got := runtime.NumGoroutine(); got > before {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutines after the test: got %d, want at most %d\n%s", got, before, buf)
		}
	})
}

// leakGrace bounds how long CheckGoroutines waits for goroutines to exit:
// longer than any closing period on loopback or the in-memory network.
const leakGrace = 5 * time.Second

// WaitUntilBlocked waits until some goroutine is parked in state (as
// runtime.Stack names it, e.g. "select") inside a function whose name
// contains fn, so that a test can act on a call that is really blocked.
// It polls the goroutine dump with a bounded loop; it never sleeps.
func WaitUntilBlocked(t *testing.T, fn, state string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for range 100000 {
		dump := string(buf[:runtime.Stack(buf, true)])
		for _, g := range strings.Split(dump, "\n\n") {
			header, _, _ := strings.Cut(g, "\n")
			if strings.Contains(header, "["+state) && strings.Contains(g, fn) {
				return
			}
		}
		runtime.Gosched()
	}
	t.Fatalf("no goroutine blocked in %s [%s]", fn, state)
}

// ReceiveWithin returns the error a goroutine reports on errc, failing
// the test if it takes longer than d (the call it made is stuck).
func ReceiveWithin(t *testing.T, errc <-chan error, d time.Duration) error {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-errc:
		return err
	case <-timer.C:
		t.Fatalf("blocked call did not return within %v", d)
		return nil
	}
}
