package transport

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport/internal/testutil"
)

// httpOverLimpet serves an HTTP handler over one limpet listener and
// returns a client whose every connection is a stream of one limpet
// connection.
func httpOverLimpet(t *testing.T, keepAlive bool) (*http.Client, func()) {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0", &Config{PrivateKey: key})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s", r.URL.Query().Get("n"), body)
	})
	srv := &http.Server{Handler: mux}
	sl := NewStreamListener(ln)
	served := make(chan struct{})
	go func() { srv.Serve(sl); close(served) }()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	conn, err := Dial(ctx, ln.Addr().String(), &Config{ServerKey: key.Public()})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{
		DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return conn.OpenStream(ctx) },
		DisableKeepAlives:   !keepAlive,
		MaxIdleConnsPerHost: 20,
	}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	return client, func() {
		tr.CloseIdleConnections()
		srv.Close()
		<-served
		conn.Close()
		ln.Close()
	}
}

// getEcho makes request n and checks the body byte for byte.
func getEcho(client *http.Client, n int) error {
	want := fmt.Sprintf("%d request body %d", n, n)
	resp, err := client.Post(fmt.Sprintf("http://limpet/echo?n=%d", n), "text/plain", stringsReader(fmt.Sprintf("request body %d", n)))
	if err != nil {
		return fmt.Errorf("request %d: %w", n, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("request %d: reading the body: %w", n, err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != want {
		return fmt.Errorf("request %d: got %d %q, want 200 %q", n, resp.StatusCode, body, want)
	}
	return nil
}

type stringReader struct{ s string }

func stringsReader(s string) io.Reader { return &stringReader{s} }

func (r *stringReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := copy(p, r.s)
	r.s = r.s[n:]
	return n, nil
}

// TestHTTPSequentialWithoutKeepAlive: 1000 requests one after another, each
// on a stream of its own that both ends close (Connection: close), as
// net/http does with DisableKeepAlives. Every stream must end and return its
// slot, or the client runs out of streams after the first hundred.
func TestHTTPSequentialWithoutKeepAlive(t *testing.T) {
	testutil.CheckGoroutines(t)
	client, stop := httpOverLimpet(t, false)
	defer stop()
	for n := range 1000 {
		if err := getEcho(client, n); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHTTPConcurrent: 20 goroutines × 50 requests, with and without
// keep-alive, and no error.
func TestHTTPConcurrent(t *testing.T) {
	for _, keepAlive := range []bool{true, false} {
		t.Run(fmt.Sprintf("keep-alive=%v", keepAlive), func(t *testing.T) {
			testutil.CheckGoroutines(t)
			client, stop := httpOverLimpet(t, keepAlive)
			defer stop()
			var wg sync.WaitGroup
			errs := make(chan error, 20)
			for g := range 20 {
				wg.Go(func() {
					for i := range 50 {
						if err := getEcho(client, g*50+i); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}
