//go:build unix

package bench

import (
	"fmt"
	"syscall"
	"time"
)

// cpuTime returns the user+sys CPU time of the whole process so far: client
// and server of a transfer run in this process, so both are counted.
func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
