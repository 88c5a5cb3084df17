package netlab

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"

	"golang.org/x/sys/unix"
)

// The emulated link runs in a process of its own: the program itself,
// started again with emulatorChildEnv set, which package netlab's init
// turns into the forwarder before main runs. In the measuring process its
// goroutines shared the Go scheduler's Ps with a transport under test
// that runs in Go too (limpet, both ends): while the transport kept the
// Ps busy, the forwarder's timers waited for a time slice, the link
// delivered in bursts (ACKs sent over 14 ms arrived within 0.3 ms) and
// went idle between them. Limpet moved 80 Mbit/s through the 100 Mbit/s
// CoDel link and 58–78 at 1% loss; with the forwarder in its own process
// and a P for each of its goroutines, 91 and 90, as TCP BBR does. A
// kernel TCP stack never competed with it, so TCP's figures change less.
const emulatorChildEnv = "LIMPET_NETLAB_EMULATOR_CHILD"

func init() {
	if os.Getenv(emulatorChildEnv) == "1" {
		os.Exit(runEmulatorChild(os.Stdin, os.Stdout))
	}
}

// emulatorStart is the first message to the child: the link and the TUN
// devices' MTU. The devices are its files 3 (client) and 4 (router).
type emulatorStart struct {
	Link LinkConfig
	MTU  int
}

// emulatorRequest is every later message: "config" with Link, "stats", or
// "close".
type emulatorRequest struct {
	Op   string
	Link LinkConfig `json:",omitzero"`
}

// emulatorReply answers each message, the start included.
type emulatorReply struct {
	Err   string    `json:",omitempty"`
	Stats LinkStats `json:",omitzero"`
}

// runEmulatorChild is the child's whole life: it forwards until its
// parent asks it to close or goes away (its standard input ends).
func runEmulatorChild(in io.Reader, out io.Writer) int {
	dec, enc := json.NewDecoder(bufio.NewReader(in)), json.NewEncoder(out)
	var start emulatorStart
	if err := dec.Decode(&start); err != nil {
		fmt.Fprintln(os.Stderr, "netlab emulator: reading its start:", err)
		return 1
	}
	// The files arrive in blocking mode (exec hands them over that way);
	// non-blocking, they use the poller, and closing one wakes its reader.
	var files [2]*os.File
	for i, name := range []string{"tun:client", "tun:router"} {
		fd := 3 + i
		if err := unix.SetNonblock(fd, true); err != nil {
			fmt.Fprintln(os.Stderr, "netlab emulator:", err)
			return 1
		}
		files[i] = os.NewFile(uintptr(fd), name)
	}
	emu, err := startEmulator(files[0], files[1], start.Link, start.MTU)
	if err != nil {
		enc.Encode(emulatorReply{Err: err.Error()})
		return 1
	}
	enc.Encode(emulatorReply{})
	for {
		var req emulatorRequest
		if err := dec.Decode(&req); err != nil {
			emu.close() // the parent is gone
			return 0
		}
		var reply emulatorReply
		switch req.Op {
		case "config":
			if err := emu.setConfig(req.Link); err != nil {
				reply.Err = err.Error()
			}
		case "stats":
			reply.Stats = emu.stats()
		case "close":
			if err := emu.close(); err != nil {
				reply.Err = err.Error()
			}
			reply.Stats = emu.stats()
			enc.Encode(reply)
			return 0
		default:
			reply.Err = fmt.Sprintf("unknown request %q", req.Op)
		}
		if err := enc.Encode(reply); err != nil {
			emu.close()
			return 0
		}
	}
}

// emulatorProcess is the parent's handle on the child.
type emulatorProcess struct {
	cmd *exec.Cmd

	mu     sync.Mutex // one request at a time
	enc    *json.Encoder
	dec    *json.Decoder
	stdin  io.WriteCloser
	last   LinkStats // the counters the child last reported, for stats after close
	closed bool
	err    error // from close
}

// startEmulatorProcess hands the two TUN files to a child forwarder; the
// parent's copies are closed, so the devices go when the child does.
func startEmulatorProcess(client, router *os.File, cfg LinkConfig, mtu int) (*emulatorProcess, error) {
	defer closeFiles(client, router)
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("netlab: starting the link emulator: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), emulatorChildEnv+"=1")
	if os.Getenv("GOMAXPROCS") == "" {
		// Its four goroutines each get a P: a sender's nanosleep holds
		// its P, and with two the readers and the other sender waited
		// (limpet moved 58 Mbit/s at 1% loss, against 90).
		cmd.Env = append(cmd.Env, "GOMAXPROCS=4")
	}
	cmd.ExtraFiles = []*os.File{client, router}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("netlab: starting the link emulator: %w", err)
	}
	p := &emulatorProcess{cmd: cmd, enc: json.NewEncoder(stdin), dec: json.NewDecoder(bufio.NewReader(stdout)), stdin: stdin}
	reply, err := p.exchange(emulatorStart{Link: cfg, MTU: mtu})
	if err == nil && reply.Err != "" {
		err = errors.New(reply.Err)
	}
	if err != nil {
		stdin.Close()
		cmd.Wait()
		return nil, fmt.Errorf("netlab: starting the link emulator: %w", err)
	}
	return p, nil
}

// exchange sends msg and reads the reply; the caller holds mu or owns p.
func (p *emulatorProcess) exchange(msg any) (emulatorReply, error) {
	var reply emulatorReply
	if err := p.enc.Encode(msg); err != nil {
		return reply, fmt.Errorf("netlab: link emulator: %w", err)
	}
	if err := p.dec.Decode(&reply); err != nil {
		return reply, fmt.Errorf("netlab: link emulator: %w", err)
	}
	return reply, nil
}

func (p *emulatorProcess) setConfig(cfg LinkConfig) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	reply, err := p.exchange(emulatorRequest{Op: "config", Link: cfg})
	if err != nil {
		return err
	}
	if reply.Err != "" {
		return fmt.Errorf("%w: %s", ErrInvalidArgument, reply.Err)
	}
	return nil
}

func (p *emulatorProcess) stats() LinkStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return p.last
	}
	reply, err := p.exchange(emulatorRequest{Op: "stats"})
	if err != nil {
		return p.last
	}
	p.last = reply.Stats
	return reply.Stats
}

// close stops the child and returns what stopped its forwarding early, if
// anything did.
func (p *emulatorProcess) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return p.err
	}
	p.closed = true
	reply, err := p.exchange(emulatorRequest{Op: "close"})
	if err == nil {
		p.last = reply.Stats
		if reply.Err != "" {
			err = errors.New(reply.Err)
		}
	}
	p.stdin.Close()
	if werr := p.cmd.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("netlab: link emulator: %w", werr)
	}
	p.err = err
	return err
}
