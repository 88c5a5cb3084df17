package transport

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/limpetnet/limpet/crypto"
)

// TestStreamIsNetConn runs the standard net.Conn conformance suite
// (golang.org/x/net/nettest) on limpet streams: each pipe is a stream
// opened on one connection over loopback and accepted on the other, with
// nothing shimmed.
func TestStreamIsNetConn(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0", &Config{PrivateKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cli, err := Dial(ctx, ln.Addr().String(), &Config{ServerKey: key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	srv, err := ln.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
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
