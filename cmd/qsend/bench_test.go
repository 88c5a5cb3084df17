package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tcpReceiverEnv makes the test binary act as the receiving half of the
// plain TCP copy (see runTCPReceiver), so that, like qsend, the comparison
// runs its receiver in a process of its own.
const tcpReceiverEnv = "QSEND_TEST_TCP_RECEIVER_DIR"

// The plain TCP copy does what qsend does per file, minus encryption and
// resume: hash while reading, write to a temporary name, check the hash,
// fsync, rename, and answer only then.
//
//	sender → name length (16) name size (64) data sha256 (256)
//	receiver → "ok\n" or an error line
func runTCPReceiver(dir string) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	c, err := ln.Accept()
	if err != nil {
		return 1
	}
	defer c.Close()
	if err := receiveTCP(c, dir); err != nil {
		fmt.Fprintf(c, "error: %v\n", err)
		return 1
	}
	io.WriteString(c, "ok\n")
	return 0
}

func receiveTCP(c net.Conn, dir string) error {
	br := bufio.NewReaderSize(c, 256<<10)
	var nameLen uint16
	if err := binary.Read(br, binary.BigEndian, &nameLen); err != nil {
		return err
	}
	name := make([]byte, nameLen)
	if _, err := io.ReadFull(br, name); err != nil {
		return err
	}
	var size int64
	if err := binary.Read(br, binary.BigEndian, &size); err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+string(name)+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(io.MultiWriter(f, h), io.LimitReader(br, size), make([]byte, 256<<10)); err != nil {
		return err
	}
	want := make([]byte, sha256.Size)
	if _, err := io.ReadFull(br, want); err != nil {
		return err
	}
	if !bytes.Equal(h.Sum(nil), want) {
		return errors.New("hash mismatch")
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, string(name)))
}

// sendTCP is the sending half.
func sendTCP(addr, path string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(c, 256<<10)
	name := filepath.Base(path)
	binary.Write(bw, binary.BigEndian, uint16(len(name)))
	bw.WriteString(name)
	binary.Write(bw, binary.BigEndian, info.Size())
	h := sha256.New()
	if _, err := io.CopyBuffer(io.MultiWriter(bw, h), f, make([]byte, 256<<10)); err != nil {
		return err
	}
	bw.Write(h.Sum(nil))
	if err := bw.Flush(); err != nil {
		return err
	}
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if reply != "ok\n" {
		return errors.New(strings.TrimSpace(reply))
	}
	return nil
}

// BenchmarkLoopback1GiB sends one 1 GiB file over loopback with qsend,
// with the plain TCP copy above, and with scp (AES-128-GCM) when an sshd
// is installed, each as separate sender and receiver processes writing to
// disk. Run one iteration of each, so that they share the machine's
// conditions; QSEND_BENCH_DIR puts the files elsewhere than the test's
// temporary directory, such as on a tmpfs:
//
//	QSEND_BENCH_DIR=/dev/shm go test ./cmd/qsend -run '^$' -bench Loopback1GiB -benchtime 1x
func BenchmarkLoopback1GiB(b *testing.B) {
	const size = 1 << 30
	src := filepath.Join(benchDir(b), "big.bin")
	writeRandomFile(b, src, size, 11)
	want := hashFile(b, src)

	b.Run("qsend", func(b *testing.B) {
		b.SetBytes(size)
		s := newSender(b)
		for range b.N {
			b.StopTimer()
			dst := benchDir(b)
			warmPages(b, dst, size)
			recv := startRecv(b, nil, "--listen", "127.0.0.1:0", "--dir", dst, "--once")
			b.StartTimer()
			res := s.run(b, 10*time.Minute, "--quiet", "--pin", recv.key, src, recv.addr)
			b.StopTimer()
			if res.code != 0 {
				b.Fatalf("send exited %d: %s", res.code, res.stderr)
			}
			recv.wait(b, time.Minute)
			if got := hashFile(b, filepath.Join(dst, "big.bin")); got != want {
				b.Fatalf("hash %s, want %s", got, want)
			}
		}
	})

	b.Run("tcp_sha256_fsync", func(b *testing.B) {
		b.SetBytes(size)
		for range b.N {
			b.StopTimer()
			dst := benchDir(b)
			warmPages(b, dst, size)
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), tcpReceiverEnv+"="+dst)
			out, err := cmd.StdoutPipe()
			if err != nil {
				b.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			line, _ := bufio.NewReader(out).ReadString('\n')
			addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
			if !ok {
				cmd.Process.Kill()
				cmd.Wait()
				b.Fatalf("TCP receiver said %q", line)
			}
			b.StartTimer()
			err = sendTCP(addr, src)
			b.StopTimer()
			cmd.Wait()
			if err != nil {
				b.Fatal(err)
			}
			if got := hashFile(b, filepath.Join(dst, "big.bin")); got != want {
				b.Fatalf("hash %s, want %s", got, want)
			}
		}
	})

	b.Run("scp", func(b *testing.B) {
		sshd, err := startSSHD(b)
		if err != nil {
			b.Skip(err)
		}
		b.SetBytes(size)
		for range b.N {
			b.StopTimer()
			dst := benchDir(b)
			warmPages(b, dst, size)
			b.StartTimer()
			out, err := sshd.scp(src, dst)
			b.StopTimer()
			if err != nil {
				b.Fatalf("scp: %v: %s", err, out)
			}
			if got := hashFile(b, filepath.Join(dst, "big.bin")); got != want {
				b.Fatalf("hash %s, want %s", got, want)
			}
		}
	})
}

// warmPages writes size bytes into dir and removes them before a timed run,
// so that the run's file lands on memory the machine has touched before.
// On a virtual machine the first touch of fresh guest memory is slow: the
// first tool to write a GiB to tmpfs took 2.8 s for it where a later one,
// reusing the pages freed before it, took 1.6, which put whichever tool ran
// first at a disadvantage.
func warmPages(b *testing.B, dir string, size int64) {
	b.Helper()
	path := filepath.Join(dir, "warm.bin")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for n := int64(0); n < size; n += int64(len(chunk)) {
		if _, err := f.Write(chunk); err != nil {
			f.Close()
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		b.Fatal(err)
	}
}

// benchDir is a fresh directory for the benchmark's files: under
// $QSEND_BENCH_DIR if set, else the test's temporary directory.
func benchDir(b *testing.B) string {
	root := os.Getenv("QSEND_BENCH_DIR")
	if root == "" {
		return b.TempDir()
	}
	dir, err := os.MkdirTemp(root, "qsend-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// localSSHD is a throwaway sshd on 127.0.0.1 with its own host and client
// keys, for the scp comparison.
type localSSHD struct {
	dir  string
	port int
}

func startSSHD(b *testing.B) (*localSSHD, error) {
	sshdPath, err := exec.LookPath("/usr/sbin/sshd")
	if err != nil {
		return nil, errors.New("no sshd installed (apt-get install openssh-server)")
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("sshd needs root")
	}
	dir := b.TempDir()
	for _, k := range []string{"host", "client"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, k)).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ssh-keygen: %v: %s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "client.pub"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	config := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\nPermitRootLogin yes\nStrictModes no\nUsePAM no\nPidFile none\nSubsystem sftp internal-sftp\n",
		port, filepath.Join(dir, "host"), filepath.Join(dir, "authorized_keys"))
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(config), 0o600); err != nil {
		return nil, err
	}
	os.MkdirAll("/run/sshd", 0o755)
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	b.Cleanup(func() { cmd.Process.Kill(); <-done })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return &localSSHD{dir: dir, port: port}, nil
		}
		select {
		case <-done:
			return nil, fmt.Errorf("sshd exited: %s", stderr.String())
		case <-ctx.Done():
			return nil, errors.New("sshd did not start listening")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *localSSHD) scp(src, dstDir string) ([]byte, error) {
	return exec.Command("scp", "-q", "-c", "aes128-gcm@openssh.com", "-i", filepath.Join(s.dir, "client"), "-P", fmt.Sprint(s.port),
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
		src, "root@127.0.0.1:"+dstDir+"/").CombinedOutput()
}
