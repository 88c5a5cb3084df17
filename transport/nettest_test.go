package transport

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/net/nettest"
)

// TestStreamIsNetConn runs the standard net.Conn conformance suite
// (golang.org/x/net/nettest) on limpet streams: each pipe is a stream
// opened on one connection over loopback and accepted on the other, with
// nothing shimmed.
func TestStreamIsNetConn(t *testing.T) {
	_, cli, srv := testPair(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		s1, err := cli.OpenStream(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		if err := s1.Flush(); err != nil { // the peer accepts a stream once it hears of it
			return nil, nil, nil, err
		}
		s2, err := srv.AcceptStream(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		return s1, s2, func() { s1.Close(); s2.Close() }, nil
	})
}
