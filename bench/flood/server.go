package flood

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
)

// serverEnv is the environment variable that makes a process a flood
// server; its value is the server's configuration as JSON.
const serverEnv = "LIMPET_FLOOD_SERVER"

// Stream modes: the first byte a client writes on a stream says what the
// server does with the rest.
const (
	modeEcho    = 'e' // write back everything read
	modeDiscard = 'd' // read and discard (bulk transfers)
)

// serverConfig is what a row asks of its server.
type serverConfig struct {
	Key                      crypto.PrivateKey  `json:"key"`
	AllowedClientKeys        []crypto.PublicKey `json:"allowed_client_keys,omitempty"`
	RequireAddressValidation bool               `json:"require_address_validation,omitempty"`
	MaxConns                 int                `json:"max_conns,omitempty"`
	// SecondListener starts another listener with the same key, for the
	// reset-oracle check.
	SecondListener bool `json:"second_listener,omitempty"`
}

// describe says how the server differs from the default, for the notes.
func (c serverConfig) describe() string {
	var parts []string
	if len(c.AllowedClientKeys) > 0 {
		parts = append(parts, "allow-list")
	}
	if c.RequireAddressValidation {
		parts = append(parts, "RequireAddressValidation")
	}
	if c.MaxConns > 0 {
		parts = append(parts, fmt.Sprintf("MaxConns %s", formatCount(float64(c.MaxConns))))
	}
	if c.SecondListener {
		parts = append(parts, "a second listener with the same key")
	}
	if len(parts) == 0 {
		return ""
	}
	return "server: " + strings.Join(parts, ", ")
}

// serverReady is the server's first line of output.
type serverReady struct {
	Addr  string `json:"addr"`
	AddrB string `json:"addr_b,omitempty"`
}

// serverStats is the server's answer to "stats".
type serverStats struct {
	Heap       int64 `json:"heap"`      // heap objects now, bytes
	PeakHeap   int64 `json:"peak_heap"` // the most seen, sampled every 250 ms
	Goroutines int64 `json:"goroutines"`
	Accepted   int64 `json:"accepted"` // connections accepted
	// Endpoint is the listener's EndpointStats; EndpointB the second's.
	Endpoint  transport.EndpointStats  `json:"endpoint"`
	EndpointB *transport.EndpointStats `json:"endpoint_b,omitempty"`
}

// IsServerProcess reports whether this process was started by Run as its
// flood server; the program's main should then call Serve and exit with
// its status before doing anything else.
func IsServerProcess() bool { return os.Getenv(serverEnv) != "" }

// Serve runs the flood server: a limpet echo listener on 127.0.0.1
// configured from the environment, which prints its address to out and
// then answers each "stats" line read from in with a JSON line of its
// statistics. It returns 0 when in ends (its parent closed the pipe or
// exited), non-zero on failure.
func Serve(in io.Reader, out io.Writer) int {
	var cfg serverConfig
	if err := json.Unmarshal([]byte(os.Getenv(serverEnv)), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "flood server: %s: %v\n", serverEnv, err)
		return 2
	}
	tcfg := &transport.Config{
		PrivateKey:               cfg.Key,
		AllowedClientKeys:        cfg.AllowedClientKeys,
		RequireAddressValidation: cfg.RequireAddressValidation,
		MaxConns:                 cfg.MaxConns,
	}
	ln, err := transport.Listen("127.0.0.1:0", tcfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "flood server: %v\n", err)
		return 1
	}
	defer ln.Close()
	s := &echoServer{}
	ready := serverReady{Addr: ln.Addr().String()}
	go s.acceptLoop(ln)
	var lnB *transport.Listener
	if cfg.SecondListener {
		if lnB, err = transport.Listen("127.0.0.1:0", tcfg); err != nil {
			fmt.Fprintf(os.Stderr, "flood server: second listener: %v\n", err)
			return 1
		}
		defer lnB.Close()
		ready.AddrB = lnB.Addr().String()
		go s.acceptLoop(lnB)
	}
	stop := make(chan struct{})
	defer close(stop)
	go s.sampleHeap(stop)

	enc := json.NewEncoder(out)
	if err := enc.Encode(ready); err != nil {
		return 1
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if sc.Text() != "stats" {
			continue
		}
		st := serverStats{
			Heap:       heapObjects(),
			PeakHeap:   s.peakHeap.Load(),
			Goroutines: readMetric("/sched/goroutines:goroutines"),
			Accepted:   s.accepted.Load(),
			Endpoint:   ln.Stats(),
		}
		if lnB != nil {
			b := lnB.Stats()
			st.EndpointB = &b
		}
		if err := enc.Encode(st); err != nil {
			return 1
		}
	}
	return 0
}

// echoServer serves the streams of accepted connections.
type echoServer struct {
	accepted atomic.Int64
	peakHeap atomic.Int64
}

func (s *echoServer) acceptLoop(ln *transport.Listener) {
	for {
		c, err := ln.Accept(context.Background())
		if err != nil {
			return
		}
		s.accepted.Add(1)
		go serveConn(c)
	}
}

func serveConn(c *transport.Conn) {
	for {
		st, err := c.AcceptStream(context.Background())
		if err != nil {
			return
		}
		go serveStream(st)
	}
}

// serveStream reads the stream's mode byte and echoes or discards the
// rest.
func serveStream(st *transport.Stream) {
	defer st.Close()
	var mode [1]byte
	if _, err := io.ReadFull(st, mode[:]); err != nil {
		return
	}
	switch mode[0] {
	case modeEcho:
		buf := make([]byte, 32<<10)
		io.CopyBuffer(st, onlyReader{st}, buf)
	case modeDiscard:
		buf := make([]byte, 256<<10)
		io.CopyBuffer(io.Discard, onlyReader{st}, buf)
	}
}

// onlyReader hides a stream's other methods from io.Copy, so the copy
// goes through the buffer given.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// sampleHeap records the peak heap every 250 ms until stop closes.
func (s *echoServer) sampleHeap(stop <-chan struct{}) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		if h := heapObjects(); h > s.peakHeap.Load() {
			s.peakHeap.Store(h)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// heapObjects is the memory occupied by heap objects, live or not yet
// swept: what the server's buffers hold.
func heapObjects() int64 { return readMetric("/memory/classes/heap/objects:bytes") }

func readMetric(name string) int64 {
	sample := []metrics.Sample{{Name: name}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(sample[0].Value.Uint64())
}

// serverProc is a running flood server, seen from Run.
type serverProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr *tailWriter
	addr   netip.AddrPort
	addrB  netip.AddrPort
	pid    int

	mu sync.Mutex // one stats exchange at a time
}

// serverStartTimeout bounds the wait for a new server's address.
const serverStartTimeout = 10 * time.Second

// startServer starts this program again as a flood server configured by
// cfg, pinned to cpu (or unpinned with cpu < 0), and waits for its
// address.
func startServer(cfg serverConfig, cpu int) (*serverProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program to start the server: %w", err)
	}
	conf, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), serverEnv+"="+string(conf))
	s := &serverProc{cmd: cmd, stderr: &tailWriter{max: 4 << 10}}
	cmd.Stderr = s.stderr
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if cpu >= 0 {
		err = startOnCPU(cmd, cpu)
	} else {
		err = cmd.Start()
	}
	if err != nil {
		return nil, fmt.Errorf("starting the server: %w", err)
	}
	s.pid = cmd.Process.Pid
	s.lines = bufio.NewScanner(stdout)
	s.lines.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var ready serverReady
	if err := s.readLine(&ready, serverStartTimeout); err != nil {
		s.stop()
		return nil, fmt.Errorf("starting the server: %w", err)
	}
	if s.addr, err = netip.ParseAddrPort(ready.Addr); err != nil {
		s.stop()
		return nil, fmt.Errorf("server address %q: %w", ready.Addr, err)
	}
	if ready.AddrB != "" {
		if s.addrB, err = netip.ParseAddrPort(ready.AddrB); err != nil {
			s.stop()
			return nil, fmt.Errorf("second server address %q: %w", ready.AddrB, err)
		}
	}
	return s, nil
}

// readLine decodes the server's next line of output into v.
func (s *serverProc) readLine(v any, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() {
		if !s.lines.Scan() {
			err := s.lines.Err()
			if err == nil {
				err = io.EOF
			}
			done <- fmt.Errorf("server output ended (%w); its stderr: %q", err, s.stderr.String())
			return
		}
		done <- json.Unmarshal(s.lines.Bytes(), v)
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		// The reader goroutine ends when stop closes the pipe.
		return fmt.Errorf("no answer from the server in %v", timeout)
	}
}

// stats asks the server for its statistics.
func (s *serverProc) stats() (serverStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st serverStats
	if _, err := io.WriteString(s.stdin, "stats\n"); err != nil {
		return st, fmt.Errorf("asking the server for stats: %w", err)
	}
	return st, s.readLine(&st, 5*time.Second)
}

// proc samples the server's CPU time and memory from /proc.
func (s *serverProc) proc() (procSample, error) { return readProc(s.pid) }

// serverStopDelay is how long a server whose input closed may take to
// exit before it is killed.
const serverStopDelay = 5 * time.Second

// stop closes the server's input, which makes it exit, and kills it (by
// its PID) if it has not within serverStopDelay.
func (s *serverProc) stop() error {
	s.stdin.Close()
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	select {
	case err := <-exited:
		return err
	case <-time.After(serverStopDelay):
		s.cmd.Process.Kill()
		<-exited
		return errors.New("the server did not exit when asked; killed")
	}
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
