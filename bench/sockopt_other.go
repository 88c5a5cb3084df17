//go:build !linux

package bench

import (
	"errors"
	"net"
	"syscall"
)

// errNeedsLinux reports a TCP socket option this package reads or sets only
// on Linux.
var errNeedsLinux = errors.New("bench: TCP_CONGESTION and TCP_INFO need Linux")

func setCongestion(syscall.RawConn, string) error { return errNeedsLinux }

func tcpSenderStats(*net.TCPConn) (tcpSenderInfo, error) { return tcpSenderInfo{}, errNeedsLinux }
