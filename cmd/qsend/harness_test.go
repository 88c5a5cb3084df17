package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/limpetnet/limpet/crypto"
)

// qsendBin is the binary under test, built once by TestMain (without the
// race detector: only the harness is raced).
var qsendBin string

func TestMain(m *testing.M) {
	if dir := os.Getenv(tcpReceiverEnv); dir != "" {
		os.Exit(runTCPReceiver(dir))
	}
	tmp, err := os.MkdirTemp("", "qsend-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Traversable by others, so a test can run the binary as nobody.
	os.Chmod(tmp, 0o755)
	qsendBin = filepath.Join(tmp, "qsend")
	build := exec.Command("go", "build", "-o", qsendBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building qsend:", err)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe to write from a process's output
// copier while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// recvProc is a running `qsend recv`.
type recvProc struct {
	cmd    *exec.Cmd
	addr   string // HOST:PORT from the "listening on" line
	key    string // its public key
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error // Wait's result, once done is closed
}

var listeningLine = regexp.MustCompile(`^listening on (\S+) key (\S+)$`)

// startRecv starts `qsend recv ARGS...` (prefixed by wrapper, such as
// `ip netns exec NS`) and waits for its "listening on" line. The process is
// killed, by PID, when the test ends.
func startRecv(t testing.TB, wrapper []string, args ...string) *recvProc {
	t.Helper()
	argv := append(append(append([]string{}, wrapper...), qsendBin, "recv"), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "XDG_CONFIG_HOME=")
	stdoutPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &recvProc{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.kill() })
	lines := make(chan string, 1)
	go func() {
		br := bufio.NewReader(stdoutPipe)
		line, _ := br.ReadString('\n')
		p.stdout.Write([]byte(line))
		lines <- line
		io.Copy(p.stdout, br)
		p.err = cmd.Wait()
		close(p.done)
	}()
	select {
	case line := <-lines:
		m := listeningLine.FindStringSubmatch(strings.TrimSuffix(line, "\n"))
		if m == nil {
			t.Fatalf("recv printed %q first, want \"listening on HOST:PORT key PUBKEY\"; stderr:\n%s", line, p.stderr.String())
		}
		p.addr, p.key = m[1], m[2]
	case <-time.After(30 * time.Second):
		t.Fatalf("recv printed no listening line in 30 s; stderr:\n%s", p.stderr.String())
	}
	return p
}

// kill ends the receiver with SIGKILL and waits for it.
func (p *recvProc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// wait waits for the receiver to exit by itself and returns its status.
func (p *recvProc) wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("recv still running after %v; stderr:\n%s", d, p.stderr.String())
	}
	return exitStatus(p.err)
}

func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// sendResult is a finished `qsend send`.
type sendResult struct {
	code           int
	stdout, stderr string
}

// summary parses the --json line.
func (r sendResult) summary(t testing.TB) jsonSummary {
	t.Helper()
	var s jsonSummary
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("parsing --json output %q: %v", r.stdout, err)
	}
	return s
}

type jsonSummary struct {
	Sender             string  `json:"sender"`
	Files              int     `json:"files"`
	FilesFailed        int     `json:"files_failed"`
	Bytes              int64   `json:"bytes"`
	BytesSentThisRun   int64   `json:"bytes_sent_this_run"`
	ResumedBytes       int64   `json:"resumed_bytes"`
	DeliveredBytes     int64   `json:"delivered_bytes"`
	Seconds            float64 `json:"seconds"`
	GoodputMBps        float64 `json:"goodput_mbytes_per_s"`
	RetransmittedBytes uint64  `json:"retransmitted_bytes"`
	Migrations         uint64  `json:"migrations"`
	FECRepairPackets   uint64  `json:"fec_repair_packets"`
	FECRebuiltPackets  uint64  `json:"fec_rebuilt_packets"`
	Reconnections      int     `json:"reconnections"`
	ResentBytes        int64   `json:"resent_bytes"`
	Bottleneck         *struct {
		Limited       map[string]float64 `json:"limited"`
		LossRate      float64            `json:"loss_rate"`
		SmoothedRTTMS float64            `json:"smoothed_rtt_ms"`
		Advice        string             `json:"advice"`
	} `json:"bottleneck"`
	Error string `json:"error"`
}

// sender runs `qsend send` with its own HOME, so that its key and
// known_hosts persist across the runs of one test.
type sender struct {
	home    string
	wrapper []string
}

func newSender(t testing.TB) *sender {
	return &sender{home: t.TempDir()}
}

func (s *sender) command(ctx context.Context, args ...string) (*exec.Cmd, *syncBuffer, *syncBuffer) {
	argv := append(append(append([]string{}, s.wrapper...), qsendBin, "send"), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "HOME="+s.home, "XDG_CONFIG_HOME=")
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// run runs the sender to completion (bounded by d).
func (s *sender) run(t testing.TB, d time.Duration, args ...string) sendResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd, stdout, stderr := s.command(ctx, args...)
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("qsend send %q did not finish in %v; stderr:\n%s", args, d, stderr.String())
	}
	return sendResult{code: exitStatus(err), stdout: stdout.String(), stderr: stderr.String()}
}

// keygen makes a key file and returns its path and public key.
func keygen(t testing.TB) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key")
	out, err := exec.Command(qsendBin, "keygen", "-o", path).Output()
	if err != nil {
		t.Fatalf("keygen: %v", err)
	}
	pub := strings.TrimSpace(string(out))
	if _, err := crypto.ParsePublicKey(pub); err != nil {
		t.Fatalf("keygen printed %q: %v", pub, err)
	}
	return path, pub
}

// writeRandomFile writes size pseudo-random bytes: an AES-CTR keystream
// seeded by seed, fast (hardware AES) and incompressible, so neither a
// sparse file nor compression can make the transfer easy.
func writeRandomFile(t testing.TB, path string, size int64, seed uint64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, io.LimitReader(randomReader(seed), size)); err != nil {
		t.Fatal(err)
	}
}

func randomReader(seed uint64) io.Reader {
	var key [16]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err)
	}
	return cipher.StreamReader{S: cipher.NewCTR(block, make([]byte, aes.BlockSize)), R: zeroReader{}}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func hashFile(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// treeEntry describes one path of a tree for comparison.
type treeEntry struct {
	kind string // "dir" or "file"
	mode fs.FileMode
	hash string
}

// snapshotTree lists dir (without the receiver's .qsend) by relative path.
func snapshotTree(t *testing.T, dir string) map[string]treeEntry {
	t.Helper()
	out := make(map[string]treeEntry)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		if rel == ".qsend" {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := treeEntry{mode: info.Mode().Perm()}
		switch {
		case info.IsDir():
			e.kind = "dir"
		case info.Mode().IsRegular():
			e.kind = "file"
			e.hash = hashFile(t, p)
		default:
			e.kind = info.Mode().Type().String()
		}
		out[filepath.ToSlash(rel)] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compareTrees reports every difference between two snapshots.
func compareTrees(t *testing.T, got, want map[string]treeEntry) {
	t.Helper()
	bad := 0
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Errorf("%s: missing", p)
		} else if g != w {
			t.Errorf("%s: got %+v, want %+v", p, g, w)
		} else {
			continue
		}
		if bad++; bad > 10 {
			t.Fatal("too many differences")
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: unexpected", p)
		}
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// partialSize is the size of the (single) partial in dir/.qsend, or 0.
func partialSize(dir string) int64 {
	matches, _ := filepath.Glob(filepath.Join(dir, ".qsend", "*.part"))
	var n int64
	for _, m := range matches {
		if info, err := os.Stat(m); err == nil {
			n = max(n, info.Size())
		}
	}
	return n
}

// listDir returns the names in dir, for before/after comparisons.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// lastLine is the last line of s, without its newline.
func lastLine(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}
