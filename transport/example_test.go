package transport_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
)

// A server accepts one connection and reads one stream; the client sends a
// message and waits for the delivery receipt that says the server's
// application read all of it.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	serverKey, err := crypto.GenerateKey()
	if err != nil {
		log.Fatal(err)
	}
	ln, err := transport.Listen("127.0.0.1:0", &transport.Config{PrivateKey: serverKey})
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()

	received := make(chan string)
	go func() {
		conn, err := ln.Accept(ctx)
		if err != nil {
			log.Fatal(err)
		}
		s, err := conn.AcceptStream(ctx)
		if err != nil {
			log.Fatal(err)
		}
		b, _ := io.ReadAll(s)
		received <- string(b)
	}()

	// The client pins the server's public key, as with SSH or WireGuard.
	conn, err := transport.Dial(ctx, ln.Addr().String(), &transport.Config{ServerKey: serverKey.Public()})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	s, err := conn.OpenStream(ctx)
	if err != nil {
		log.Fatal(err)
	}
	msg := []byte("hello, limpet")
	s.Write(msg)
	s.CloseWrite() // FIN after the data; s could still read a reply

	fmt.Println(<-received)
	if err := s.WaitConsumed(ctx, int64(len(msg))); err == nil {
		fmt.Println("peer application consumed", s.Consumed(), "bytes")
	}
	// Output:
	// hello, limpet
	// peer application consumed 13 bytes
}

// When a connection fails, a stream's error says exactly how much of the
// data the peer application read, so a program can resend the rest.
func ExampleDeliveryError() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	serverKey, _ := crypto.GenerateKey()
	ln, err := transport.Listen("127.0.0.1:0", &transport.Config{PrivateKey: serverKey})
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	receiptSeen := make(chan struct{})
	go func() {
		conn, _ := ln.Accept(ctx)
		s, _ := conn.AcceptStream(ctx)
		io.ReadFull(s, make([]byte, 1000)) // read 1000 bytes, then give up
		<-receiptSeen                      // (only so the example's output is exact)
		conn.CloseWithError(7, "out of disk")
	}()
	conn, err := transport.Dial(ctx, ln.Addr().String(), &transport.Config{ServerKey: serverKey.Public()})
	if err != nil {
		log.Fatal(err)
	}
	s, _ := conn.OpenStream(ctx)
	s.Write(make([]byte, 5000))
	if err := s.WaitConsumed(ctx, 1000); err != nil {
		log.Fatal(err)
	}
	close(receiptSeen)
	err = s.WaitConsumed(ctx, 5000)
	var de *transport.DeliveryError
	if errors.As(err, &de) {
		fmt.Printf("peer read %d bytes; resend from offset %d\n", de.Consumed, de.Consumed)
	}
	// Output:
	// peer read 1000 bytes; resend from offset 1000
}

// NewStreamListener serves HTTP over limpet streams with the standard
// library's server and client.
func ExampleNewStreamListener() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	serverKey, _ := crypto.GenerateKey()
	ln, err := transport.Listen("127.0.0.1:0", &transport.Config{PrivateKey: serverKey})
	if err != nil {
		log.Fatal(err)
	}
	sl := transport.NewStreamListener(ln)
	defer sl.Close()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "served %s over limpet", r.URL.Path)
	})}
	go srv.Serve(sl)
	defer srv.Close()

	conn, err := transport.Dial(ctx, ln.Addr().String(), &transport.Config{ServerKey: serverKey.Public()})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return conn.OpenStream(ctx) },
	}}
	resp, err := client.Get("http://limpet/index.html")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))
	// Output:
	// served /index.html over limpet
}

// One Endpoint, one UDP socket, both dials and accepts: here two endpoints
// reach each other at the same moment, as peers behind NATs do, and each
// serves the protocol named in ApplicationProtocols.
func ExampleEndpoint() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keyA, _ := crypto.GenerateKey()
	keyB, _ := crypto.GenerateKey()
	newPeer := func(name string, key crypto.PrivateKey) *transport.Endpoint {
		ep, err := transport.NewEndpoint("127.0.0.1:0", &transport.Config{PrivateKey: key, ApplicationProtocols: []string{"chat/1"}})
		if err != nil {
			log.Fatal(err)
		}
		go func() { // greet on every stream
			for {
				conn, err := ep.Accept(ctx)
				if err != nil {
					return
				}
				s, err := conn.AcceptStream(ctx)
				if err != nil {
					return
				}
				io.ReadAll(s)
				fmt.Fprintf(s, "hello from %s over %s", name, conn.ConnectionState().ApplicationProtocol)
				s.Close()
			}
		}()
		return ep
	}
	a, b := newPeer("A", keyA), newPeer("B", keyB)
	defer a.Close()
	defer b.Close()

	conn, err := a.Dial(ctx, b.Addr().String(), &transport.Config{
		PrivateKey: keyA, ServerKey: keyB.Public(), ApplicationProtocols: []string{"chat/1"},
	})
	if err != nil {
		log.Fatal(err)
	}
	s, err := conn.OpenStream(ctx)
	if err != nil {
		log.Fatal(err)
	}
	s.CloseWrite()
	reply, _ := io.ReadAll(s)
	fmt.Printf("%s; same socket: %v\n", reply, conn.LocalAddr().String() == a.Addr().String())
	// Output:
	// hello from B over chat/1; same socket: true
}
