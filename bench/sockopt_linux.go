package bench

import (
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// setCongestion selects the socket's TCP congestion controller. The kernel
// refuses a controller that is not built in or loaded (ENOENT), and one
// missing from net.ipv4.tcp_allowed_congestion_control unless the process
// has CAP_NET_ADMIN (EPERM).
func setCongestion(c syscall.RawConn, name string) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, name)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("setting TCP_CONGESTION=%s: %w", name, serr)
	}
	return nil
}

// tcpSenderStats reads the sending socket's retransmitted bytes and the
// congestion controller the kernel is actually running for it.
func tcpSenderStats(c *net.TCPConn) (retransmitted uint64, congestion string, err error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, "", err
	}
	var infoErr, ccErr error
	var info *unix.TCPInfo
	if err := raw.Control(func(fd uintptr) {
		info, infoErr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		congestion, ccErr = unix.GetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION)
	}); err != nil {
		return 0, "", err
	}
	if infoErr != nil {
		return 0, "", fmt.Errorf("reading TCP_INFO: %w", infoErr)
	}
	if ccErr != nil {
		return 0, "", fmt.Errorf("reading TCP_CONGESTION: %w", ccErr)
	}
	return info.Bytes_retrans, congestion, nil
}
