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
// cleanups (which close things). The bounded Gosched loop only gives
// goroutines already told to stop a chance to exit; it synchronises nothing.
func CheckGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		for i := 0; i < 100000 && runtime.NumGoroutine() > before; i++ {
			runtime.Gosched()
		}
		if got := runtime.NumGoroutine(); got > before {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutines after the test: got %d, want at most %d\n%s", got, before, buf)
		}
	})
}

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
