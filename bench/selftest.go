package bench

import (
	"fmt"
	"time"
)

// SelfTestSize is how many bytes SelfTest echoes: enough to cross several
// flow-control window updates, small enough to take milliseconds.
const SelfTestSize = 1 << 20

// SelfTestResult is the outcome of SelfTest: a limpet client sent
// SelfTestSize random bytes on one stream, the server echoed them, and the
// client compared what came back by SHA-256.
type SelfTestResult struct {
	Protocol string `json:"protocol"`
	// Bytes is how many bytes the client sent and expected back.
	Bytes int64 `json:"bytes"`
	// SHA256 is the hex digest of the bytes sent.
	SHA256 string `json:"sha256"`
	// Elapsed runs from the start of the dial to the last echoed byte.
	Elapsed time.Duration `json:"elapsed_ns"`
	// Detail reports the client connection's stats after the echo.
	Detail string `json:"detail,omitempty"`
	// Err says why the self-test failed; empty on success.
	Err string `json:"error,omitempty"`
}

// OK reports whether the echo came back byte-exact.
func (r SelfTestResult) OK() bool { return r.Err == "" }

// String is the one line qbench prints before the comparison.
func (r SelfTestResult) String() string {
	if !r.OK() {
		return fmt.Sprintf("self-test %s: FAIL: %s", r.Protocol, r.Err)
	}
	digest := r.SHA256
	if len(digest) > 16 {
		digest = digest[:16] + "…"
	}
	s := fmt.Sprintf("self-test %s: OK: %s echoed byte-exact over loopback (sha256 %s) in %v",
		r.Protocol, FormatSize(r.Bytes), digest, r.Elapsed.Round(time.Microsecond))
	if r.Detail != "" {
		s += "; " + r.Detail
	}
	return s
}
