package transport

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/limpetnet/limpet/crypto"
)

// BenchmarkRequestLoopback is the time of one 64-byte request and its echo
// on loopback, one at a time: on one long-lived stream, on a new stream per
// request (as an RPC or HTTP client without pipelining opens them), and over
// TCP for comparison, in the same run:
//
//	go test ./transport -run '^$' -bench RequestLoopback -benchtime 2s -count 3
func BenchmarkRequestLoopback(b *testing.B) {
	b.Run("limpet-same-stream", func(b *testing.B) {
		c := echoConn(b)
		s, err := c.OpenStream(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 64)
		b.ResetTimer()
		for range b.N {
			if _, err := s.Write(buf); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(s, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("limpet-new-stream", func(b *testing.B) {
		c := echoConn(b)
		buf := make([]byte, 64)
		b.ResetTimer()
		for range b.N {
			s, err := c.OpenStream(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Write(buf); err != nil {
				b.Fatal(err)
			}
			s.CloseWrite()
			if _, err := io.ReadFull(s, buf); err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
	b.Run("tcp", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			io.Copy(c, c)
		}()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		buf := make([]byte, 64)
		b.ResetTimer()
		for range b.N {
			if _, err := c.Write(buf); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// echoConn dials a loopback listener that echoes every stream until its
// FIN; the test's cleanup closes both.
func echoConn(b *testing.B) *Conn {
	key, err := crypto.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0", &Config{PrivateKey: key})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go echoAll(ln) // io.Copy of a stream needs no buffer: Stream is an io.WriterTo
	c, err := Dial(context.Background(), ln.Addr().String(), &Config{ServerKey: key.Public()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}
