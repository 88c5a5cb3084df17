package qsend

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
)

// These tests run the receiver and the sender in one process, so that the
// race detector sees both sides' goroutines (the end-to-end tests in
// cmd/qsend run the binary, which is not built with it).

// lineWriter delivers the first line written to it on a channel and keeps
// the rest.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	first chan string
	sent  bool
}

func newLineWriter() *lineWriter { return &lineWriter{first: make(chan string, 1)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.sent {
		if line, _, ok := strings.Cut(w.buf.String(), "\n"); ok {
			w.first <- line
			w.sent = true
		}
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

type runningReceiver struct {
	addr   string
	key    crypto.PublicKey
	stdout *lineWriter
	stderr *lineWriter
	done   chan error
	cancel context.CancelFunc
}

func startReceiver(t *testing.T, dir string, once bool) *runningReceiver {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningReceiver{key: key.Public(), stdout: newLineWriter(), stderr: newLineWriter(), done: make(chan error, 1), cancel: cancel}
	go func() {
		r.done <- Receive(ctx, ReceiverConfig{Listen: "127.0.0.1:0", Dir: dir, Key: key, Once: once, JSON: true, Verbose: true, Stdout: r.stdout, Stderr: r.stderr})
	}()
	select {
	case line := <-r.stdout.first:
		fields := strings.Fields(line)
		if len(fields) != 5 || fields[0] != "listening" || fields[4] != r.key.String() {
			t.Fatalf("got first line %q", line)
		}
		r.addr = fields[2]
	case err := <-r.done:
		t.Fatalf("Receive: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Error("Receive did not return after cancel")
		}
	})
	return r
}

func sendInProcess(ctx context.Context, t *testing.T, home string, r *runningReceiver, args []string, rate int64) (Summary, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := Send(ctx, SenderConfig{
		Paths: args, Addr: r.addr, Pin: r.key, Rate: rate, JSON: true, Verbose: true,
		Env: Env{Home: home}, Stdout: &stdout, Stderr: &stderr,
	})
	var sum Summary
	if jerr := json.Unmarshal(stdout.Bytes(), &sum); jerr != nil {
		t.Fatalf("parsing %q: %v", stdout.String(), jerr)
	}
	return sum, stderr.String(), err
}

func fileHash(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func writePattern(t *testing.T, p string, n int, seed byte) {
	t.Helper()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) ^ seed
	}
	if err := os.WriteFile(p, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestInProcessTransfer(t *testing.T) {
	before := runtime.NumGoroutine()
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "tree", "sub"), 0o755)
	os.MkdirAll(filepath.Join(src, "tree", "empty"), 0o755)
	for i, n := range []int{0, 1, 5000, 100_000} {
		writePattern(t, filepath.Join(src, "tree", "sub", strings.Repeat("f", i+1)), n, byte(i))
	}
	writePattern(t, filepath.Join(src, "big.bin"), 8<<20, 9)
	dst := t.TempDir()
	func() {
		r := startReceiver(t, dst, true)
		sum, stderr, err := sendInProcess(context.Background(), t, t.TempDir(), r, []string{filepath.Join(src, "tree"), filepath.Join(src, "big.bin")}, 0)
		if err != nil {
			t.Fatalf("Send: %v\n%s\nreceiver:\n%s", err, stderr, r.stderr.String())
		}
		if sum.Files != 5 || sum.BytesSentThisRun != 8<<20+105_001 {
			t.Fatalf("got %+v", sum)
		}
		select {
		case err := <-r.done:
			if err != nil {
				t.Fatalf("Receive --once: %v", err)
			}
			r.done <- nil // for the cleanup
		case <-time.After(30 * time.Second):
			t.Fatal("Receive --once did not return")
		}
		if !strings.Contains(r.stdout.String(), `"files":5`) {
			t.Errorf("receiver JSON missing: %q", r.stdout.String())
		}
	}()
	for _, p := range []string{"big.bin", "tree/sub/f", "tree/sub/ffff"} {
		if fileHash(t, filepath.Join(src, p)) != fileHash(t, filepath.Join(dst, p)) {
			t.Errorf("%s differs", p)
		}
	}
	if info, err := os.Stat(filepath.Join(dst, "tree", "empty")); err != nil || !info.IsDir() {
		t.Errorf("empty directory: %v", err)
	}
	// Every goroutine of both sides has ended.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines left behind:\n%s", n-before, buf[:runtime.Stack(buf, true)])
	}
}

// TestInProcessInterruptAndResume stops a rate-limited sender with its
// context (as Ctrl-C does), checks the interrupted exit, and resumes.
func TestInProcessInterruptAndResume(t *testing.T) {
	src := filepath.Join(t.TempDir(), "big.bin")
	const size = 24 << 20
	writePattern(t, src, size, 3)
	dst := t.TempDir()
	r := startReceiver(t, dst, false)
	home := t.TempDir()

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		deadline := time.Now().Add(time.Minute)
		for partialSizeIn(dst) < size/4 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	sum, stderr, err := sendInProcess(ctx, t, home, r, []string{src}, 8<<20)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != ExitInterrupted || !strings.Contains(ee.msg, "re-run the same command to resume") {
		t.Fatalf("got %v, want an interrupted exit; stderr:\n%s", err, stderr)
	}
	if sum.Error == "" || sum.DeliveredBytes <= 0 {
		t.Fatalf("summary of the interrupted run: %+v", sum)
	}

	sum, stderr, err = sendInProcess(context.Background(), t, home, r, []string{src}, 0)
	if err != nil {
		t.Fatalf("resumed Send: %v\n%s\nreceiver:\n%s", err, stderr, r.stderr.String())
	}
	if sum.ResumedBytes == 0 || sum.BytesSentThisRun != size-sum.ResumedBytes {
		t.Fatalf("got %+v, want a resume", sum)
	}
	if fileHash(t, src) != fileHash(t, filepath.Join(dst, "big.bin")) {
		t.Fatal("file differs after resume")
	}
}

func partialSizeIn(dir string) int64 {
	matches, _ := filepath.Glob(filepath.Join(dir, ".qsend", "*.part"))
	var n int64
	for _, m := range matches {
		if info, err := os.Stat(m); err == nil {
			n = max(n, info.Size())
		}
	}
	return n
}
