package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
)

func TestHTTPOverStreams(t *testing.T) {
	key, _ := crypto.GenerateKey()
	ln, err := Listen("127.0.0.1:0", &Config{PrivateKey: key})
	if err != nil {
		t.Fatal(err)
	}
	sl := NewStreamListener(ln)
	defer sl.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello over limpet "+r.URL.Query().Get("n"))
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(sl)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := Dial(ctx, ln.Addr().String(), &Config{ServerKey: key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return conn.OpenStream(ctx) },
	}}
	for _, n := range []string{"1", "2"} {
		resp, err := client.Get("http://limpet/hello?n=" + n)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(body), "hello over limpet "+n; got != want || resp.StatusCode != 200 {
			t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, got, want)
		}
	}
}

// TestDeliveryReceiptsOnFailure: the receiver's application reads exactly N
// bytes and stops; then the connection is killed. The sender's error says
// Consumed == N exactly and Acked >= N.
func TestDeliveryReceiptsOnFailure(t *testing.T) {
	_, cli, srv := testPair(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const total, n = 2 << 20, 300_001
	s, err := cli.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	writeErr := make(chan error, 1)
	go func() {
		_, err := s.Write(randomData(7, total))
		if err == nil {
			err = s.WaitConsumed(ctx, total)
		}
		writeErr <- err
	}()
	rs, err := srv.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rs, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	// Wait until the receipt for exactly N bytes has reached the sender.
	if err := s.WaitConsumed(ctx, n); err != nil {
		t.Fatal(err)
	}
	srv.CloseWithError(42, "receiver gave up")
	err = <-writeErr
	var de *DeliveryError
	if !errors.As(err, &de) {
		t.Fatalf("sender error %v (%T), want *DeliveryError", err, err)
	}
	if de.Consumed != n {
		t.Errorf("Consumed = %d, want exactly %d", de.Consumed, n)
	}
	if de.Acked < n || de.Sent < de.Acked {
		t.Errorf("Sent %d, Acked %d: want Sent >= Acked >= %d", de.Sent, de.Acked, n)
	}
	var ce *ApplicationError
	if !errors.As(err, &ce) || ce.Code != 42 || !ce.Remote || ce.Reason != "receiver gave up" {
		t.Errorf("cause = %#v, want remote application close 42", ce)
	}
	t.Logf("delivery error: %v", err)
}

// TestNoGoroutineLeak opens and closes 100 connections and checks that
// every goroutine they started has exited.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		key, _ := crypto.GenerateKey()
		ln, err := Listen("127.0.0.1:0", &Config{PrivateKey: key})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		var ended []*Conn
		for i := 0; i < 100; i++ {
			c, err := Dial(ctx, ln.Addr().String(), &Config{ServerKey: key.Public()})
			if err != nil {
				t.Fatalf("dial %d: %v", i, err)
			}
			sc, err := ln.Accept(ctx)
			if err != nil {
				t.Fatalf("accept %d: %v", i, err)
			}
			s, err := c.OpenStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			s.Write([]byte("ping"))
			s.Close()
			rs, err := sc.AcceptStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := io.ReadAll(rs); string(b) != "ping" {
				t.Fatalf("got %q", b)
			}
			c.Close()
			ended = append(ended, c, sc)
		}
		// Closing and draining last three PTOs; wait for every connection.
		for _, c := range ended {
			<-c.Done()
		}
	}()
	// Goroutines exit asynchronously after Done; poll briefly as a check,
	// not as synchronisation of the code under test.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<16)
		n := runtime.Stack(buf, true)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, after, strings.TrimSpace(string(buf[:n])))
	}
}

// TestWaitConsumedAfterEcho: both halves close in turn (an echo); each
// side's WaitConsumed must still see the peer's final receipt.
func TestWaitConsumedAfterEcho(t *testing.T) {
	_, cli, srv := testPair(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	data := randomData(9, 1<<20)
	s, err := cli.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srvErr := make(chan error, 1)
	go func() {
		rs, err := srv.AcceptStream(ctx)
		if err != nil {
			srvErr <- err
			return
		}
		got, err := io.ReadAll(rs)
		if err != nil {
			srvErr <- err
			return
		}
		rs.Write(got)
		rs.Close()
		srvErr <- rs.WaitConsumed(ctx, int64(len(got)))
	}()
	s.Write(data)
	s.CloseWrite()
	echo, err := io.ReadAll(s)
	if err != nil || len(echo) != len(data) {
		t.Fatalf("echo: %d bytes, %v", len(echo), err)
	}
	if err := s.WaitConsumed(ctx, int64(len(data))); err != nil {
		t.Fatalf("client WaitConsumed: %v", err)
	}
	if err := <-srvErr; err != nil {
		t.Fatalf("server WaitConsumed: %v", err)
	}
}

// TestRemoteKey: each side learns the other's static key from the
// handshake, so a server can tell clients apart by key, not by address.
func TestRemoteKey(t *testing.T) {
	clientKey, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	_, cli, srv := testPair(t, nil, &Config{PrivateKey: clientKey})
	if got, want := srv.RemoteKey(), clientKey.Public(); got != want {
		t.Errorf("server's RemoteKey = %v, want the client's key %v", got, want)
	}
	if got, want := cli.RemoteKey(), cli.cfg.ServerKey; got != want {
		t.Errorf("client's RemoteKey = %v, want the pinned server key %v", got, want)
	}
}

// TestExportKeyingMaterial: both ends of a connection export the same
// bytes, a different label or context gives different bytes, and another
// connection between the same keys exports something else.
func TestExportKeyingMaterial(t *testing.T) {
	clientKey, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ln, cli, srv := testPair(t, nil, &Config{PrivateKey: clientKey})
	export := func(c *Conn, label, context string) []byte {
		t.Helper()
		b, err := c.ExportKeyingMaterial(label, []byte(context), 32)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a := export(cli, "test", "ctx")
	if b := export(srv, "test", "ctx"); !bytes.Equal(a, b) {
		t.Fatalf("client exported %x, server %x", a, b)
	}
	if b := export(cli, "test2", "ctx"); bytes.Equal(a, b) {
		t.Error("another label exported the same bytes")
	}
	if b := export(cli, "test", "ctx2"); bytes.Equal(a, b) {
		t.Error("another context exported the same bytes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli2, err := Dial(ctx, ln.Addr().String(), &Config{PrivateKey: clientKey, ServerKey: cli.RemoteKey()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli2.Close()
	if b := export(cli2, "test", "ctx"); bytes.Equal(a, b) {
		t.Error("a second connection exported the first one's bytes")
	}
	if _, err := cli.ExportKeyingMaterial("test", nil, 255*32+1); err == nil {
		t.Error("an oversized export succeeded")
	}
}
