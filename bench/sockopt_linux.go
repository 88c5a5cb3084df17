package bench

import (
	"fmt"
	"net"
	"syscall"
	"time"

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

// tcpiOptECN is TCPI_OPT_ECN of include/uapi/linux/tcp.h: the connection
// negotiated ECN.
const tcpiOptECN = 8

// tcpSenderStats reads the sending socket's retransmitted bytes, the
// congestion controller the kernel is actually running for it, and what it
// knows about the path.
func tcpSenderStats(c *net.TCPConn) (tcpSenderInfo, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return tcpSenderInfo{}, err
	}
	var congestion string
	var infoErr, ccErr error
	var info *unix.TCPInfo
	if err := raw.Control(func(fd uintptr) {
		info, infoErr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		congestion, ccErr = unix.GetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION)
	}); err != nil {
		return tcpSenderInfo{}, err
	}
	if infoErr != nil {
		return tcpSenderInfo{}, fmt.Errorf("reading TCP_INFO: %w", infoErr)
	}
	if ccErr != nil {
		return tcpSenderInfo{}, fmt.Errorf("reading TCP_CONGESTION: %w", ccErr)
	}
	ecn := "off"
	if info.Options&tcpiOptECN != 0 {
		ecn = "on"
	}
	return tcpSenderInfo{
		retransmitted: info.Bytes_retrans,
		congestion:    congestion,
		path: PathStats{
			MSS:     int(info.Snd_mss),
			ECN:     ecn,
			CEMarks: uint64(info.Delivered_ce),
			// tcpi_rtt and tcpi_min_rtt are in microseconds.
			QueueDelay: queueDelay(time.Duration(info.Rtt)*time.Microsecond, time.Duration(info.Min_rtt)*time.Microsecond),
		},
	}, nil
}
