package session_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
	"github.com/limpetnet/limpet/transport/session"
)

// A server accepts a session and reads one stream; the client writes a
// message and waits until the server's application has read all of it,
// which holds across any reconnection the session makes meanwhile.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	serverKey, err := crypto.GenerateKey()
	if err != nil {
		log.Fatal(err)
	}
	ln, err := session.Listen("127.0.0.1:0", &transport.Config{PrivateKey: serverKey}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		s, err := ln.Accept(ctx)
		if err != nil {
			log.Fatal(err)
		}
		st, err := s.AcceptStream(ctx)
		if err != nil {
			log.Fatal(err)
		}
		b, _ := io.ReadAll(st)
		got <- string(b)
	}()

	cli, err := session.Dial(ctx, ln.Addr().String(), &transport.Config{ServerKey: serverKey.Public()}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()
	st, err := cli.OpenStream(ctx)
	if err != nil {
		log.Fatal(err)
	}
	msg := []byte("hello, session")
	st.Write(msg)
	st.CloseWrite()
	if err := st.WaitConsumed(ctx, int64(len(msg))); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-got)
	// Output: hello, session
}
