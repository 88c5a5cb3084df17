package transport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
)

// testPair starts a listener on loopback and dials it.
func testPair(t *testing.T, srvCfg, cliCfg *Config) (*Listener, *Conn, *Conn) {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if srvCfg == nil {
		srvCfg = &Config{}
	}
	srvCfg.PrivateKey = key
	ln, err := Listen("127.0.0.1:0", srvCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if cliCfg == nil {
		cliCfg = &Config{}
	}
	cliCfg.ServerKey = key.Public()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := Dial(ctx, ln.Addr().String(), cliCfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	srv, err := ln.Accept(ctx)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	return ln, cli, srv
}

func TestStreamTransferLoopback(t *testing.T) {
	_, cli, srv := testPair(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	data := make([]byte, 4<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	s, err := cli.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		s.Write(data)
		s.Close()
	}()
	rs, err := srv.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rs)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes (sha %x), want %d (sha %x)", len(got), sha256.Sum256(got), len(data), sha256.Sum256(data))
	}
	if err := s.WaitConsumed(ctx, int64(len(data))); err != nil {
		t.Fatalf("WaitConsumed: %v", err)
	}
	if got := s.Consumed(); got != int64(len(data)) {
		t.Fatalf("Consumed() = %d, want %d", got, len(data))
	}
}
