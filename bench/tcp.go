package bench

import (
	"context"
	"errors"
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
	return runTCP(ctx, nw, size, congestion, false)
}

// errNoTCPECN is the error of an ECN run on a network whose TCP settings
// the benchmark may not change, such as the host's own loopback.
var errNoTCPECN = errors.New("bench: TCP with ECN needs the network lab (the host's tcp_ecn is left alone)")

// RunTCPECN is RunTCP with ECN negotiated at both ends
// (net.ipv4.tcp_ecn=1, through TCPECNSetter), restored to the kernel's
// default afterwards; the Protocol is "tcp-" + congestion + "-ecn". A
// connection that did not negotiate ECN is an error row.
func RunTCPECN(ctx context.Context, nw Network, size int64, congestion string) Result {
	return runTCP(ctx, nw, size, congestion, true)
}

func runTCP(ctx context.Context, nw Network, size int64, congestion string, ecn bool) Result {
	protocol := "tcp-" + congestion
	if ecn {
		protocol += "-ecn"
		setter, ok := nw.(TCPECNSetter)
		if !ok {
			return failedResult(protocol, errNoTCPECN)
		}
		if err := setter.SetTCPECN(true); err != nil {
			return failedResult(protocol, err)
		}
		defer setter.SetTCPECN(false)
	}
	control := func(_, _ string, c syscall.RawConn) error { return setCongestion(c, congestion) }
	closers := new(closerSet)

	// Accepted sockets inherit the listener's controller; the client's
	// matters most, since it is the sender.
	ln, err := nw.ListenTCP(ctx, control)
	if err != nil {
		return failedResult(protocol, fmt.Errorf("listen: %w", err))
	}
	closers.add(ln)

	var (
		client *net.TCPConn
		path   PathStats
	)
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
			info, err := tcpSenderStats(client)
			if err != nil {
				return 0, "", err
			}
			if info.congestion != congestion {
				return 0, "", fmt.Errorf("sender runs TCP_CONGESTION=%s, want %s", info.congestion, congestion)
			}
			if ecn && info.path.ECN != "on" {
				return 0, "", errors.New("the connection did not negotiate ECN")
			}
			path = info.path
			return info.retransmitted, "cc " + info.congestion, nil
		},
		path: func() *PathStats { return &path },
	})
}

// tcpSenderInfo is what tcpSenderStats reads from a sending socket.
type tcpSenderInfo struct {
	retransmitted uint64
	// congestion is the controller the kernel runs for the socket.
	congestion string
	path       PathStats
}
