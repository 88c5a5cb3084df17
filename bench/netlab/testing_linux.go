package netlab

import (
	"os"
	"strconv"
	"testing"
)

// NewForTest builds a lab for a test and closes it through t.Cleanup, so
// the namespaces go away however the test ends.
//
// A lab that cannot be built fails the test (t.Fatal), with one exception:
// when the test runs without root and the CI environment variable is not
// set, it is skipped with the reason, so that `go test ./...` works for a
// developer without privileges. In CI a missing lab is a failure, never a
// silent skip.
func NewForTest(t testing.TB, opts Options) *Lab {
	t.Helper()
	if skipWithoutLab(os.Geteuid() == 0, inCI()) {
		t.Skip("netlab: network namespaces need root; run the tests as root (CI=true turns this skip into a failure)")
		return nil
	}
	l, err := New(opts)
	if err != nil {
		t.Fatalf("netlab: cannot build the lab: %v", err)
		return nil
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("netlab: closing lab %s: %v", l.Prefix(), err)
		}
	})
	return l
}

// skipWithoutLab reports whether a test that needs a lab may skip rather
// than fail: only outside CI, and only for the one expected reason, not
// being root.
func skipWithoutLab(root, ci bool) bool {
	return !root && !ci
}

// inCI reports whether the CI environment variable is set to anything but
// a false value; an unparsable value counts as CI, erring towards failing.
func inCI() bool {
	v := os.Getenv("CI")
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err != nil || b
}
