package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"syscall"
)

// RunTCP moves size bytes over one TCP connection on nw whose sockets use
// the named congestion controller ("cubic", "bbr"; see
// /proc/sys/net/ipv4/tcp_available_congestion_control). The result's
// Protocol is "tcp-" + congestion. If the kernel refuses the controller the
// result is an error row, not a silent run with the default.
func RunTCP(ctx context.Context, nw Network, size int64, congestion string) Result {
	protocol := "tcp-" + congestion
	control := func(_, _ string, c syscall.RawConn) error { return setCongestion(c, congestion) }
	closers := new(closerSet)

	// Accepted sockets inherit the listener's controller; the client's
	// matters most, since it is the sender.
	ln, err := nw.ListenTCP(ctx, control)
	if err != nil {
		return failedResult(protocol, fmt.Errorf("listen: %w", err))
	}
	closers.add(ln)

	var client *net.TCPConn
	return transfer(ctx, size, session{
		protocol: protocol,
		closers:  closers,
		accept: func(context.Context) (io.Reader, error) {
			c, err := ln.Accept()
			if err != nil {
				return nil, err
			}
			closers.add(c)
			return c, nil
		},
		dial: func(ctx context.Context) (io.Writer, error) {
			c, err := nw.DialTCP(ctx, ln.Addr().(*net.TCPAddr).AddrPort(), control)
			if err != nil {
				return nil, err
			}
			closers.add(c)
			client = c
			return client, nil
		},
		finish: func(context.Context) error { return client.CloseWrite() },
		stats: func() (uint64, string, error) {
			retrans, got, err := tcpSenderStats(client)
			if err != nil {
				return 0, "", err
			}
			if got != congestion {
				return 0, "", fmt.Errorf("sender runs TCP_CONGESTION=%s, want %s", got, congestion)
			}
			return retrans, "cc " + got, nil
		},
	})
}
