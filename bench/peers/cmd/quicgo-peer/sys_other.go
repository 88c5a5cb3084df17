//go:build !unix

package main

import (
	"errors"
	"net"
	"time"
)

// cpuTime fails where getrusage does not exist; the harness needs the CPU
// cost as much as the speed.
func cpuTime() (time.Duration, error) {
	return 0, errors.New("CPU time needs getrusage (a Unix system)")
}

// socketBuffers reports nothing where getsockopt is not wired up.
func socketBuffers(*net.UDPConn) (receive, send int) { return 0, 0 }
