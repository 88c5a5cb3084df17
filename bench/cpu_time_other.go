//go:build !unix

package bench

import (
	"errors"
	"time"
)

// cpuTime fails where getrusage does not exist: a throughput figure without
// its CPU cost would be half a comparison.
func cpuTime() (time.Duration, error) {
	return 0, errors.New("bench: CPU time needs getrusage (a Unix system)")
}
