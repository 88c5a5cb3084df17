package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestSendErrors checks the sender's clear one-line errors and exit
// statuses for the failures a person meets first.
func TestSendErrors(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f")
	writeRandomFile(t, src, 1000, 1)
	// A UDP socket that never answers stands for a host that drops
	// everything; a closed port gets ICMP port unreachable on loopback.
	silent, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	closed, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.LocalAddr().String()
	closed.Close()
	recv := startRecv(t, nil, "--listen", "127.0.0.1:0", "--dir", t.TempDir())

	tests := []struct {
		desc     string
		args     []string
		wantCode int
		wantLast string
	}{
		{
			desc:     "unreachable host",
			args:     []string{"--timeout", "1s", src, silent.LocalAddr().String()},
			wantCode: 1,
			wantLast: "qsend: no answer from " + silent.LocalAddr().String() + " within 1s: the host is unreachable or no qsend receiver is running there",
		},
		{
			desc:     "nothing listening",
			args:     []string{src, closedAddr},
			wantCode: 1,
			wantLast: "qsend: " + closedAddr + " refused the connection: no qsend receiver is listening there",
		},
		{
			desc:     "file not found",
			args:     []string{filepath.Join(filepath.Dir(src), "missing"), recv.addr},
			wantCode: 1,
			wantLast: "qsend: " + filepath.Join(filepath.Dir(src), "missing") + ": no such file or directory",
		},
		{
			desc:     "usage",
			args:     []string{src},
			wantCode: 2,
			wantLast: "Run 'qsend send --help' for usage.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			res := newSender(t).run(t, time.Minute, tt.args...)
			if res.code != tt.wantCode || lastLine(res.stderr) != tt.wantLast {
				t.Fatalf("got exit %d, last line %q; want %d, %q", res.code, lastLine(res.stderr), tt.wantCode, tt.wantLast)
			}
		})
	}
	t.Run("json summary of a failure", func(t *testing.T) {
		res := newSender(t).run(t, time.Minute, "--json", src, closedAddr)
		sum := res.summary(t)
		if want := closedAddr + " refused the connection: no qsend receiver is listening there"; res.code != 1 || sum.Error != want || sum.Files != 1 || sum.Bytes != 1000 {
			t.Fatalf("got exit %d, summary %+v; want 1 and error %q for 1 file of 1000 bytes", res.code, sum, want)
		}
	})
}

// TestDiskFull receives into a 8 MiB tmpfs: both sides say the device is
// full, the sender exits 1, and no file appears under its final name.
func TestDiskFull(t *testing.T) {
	requireRoot(t, "mounting a tmpfs")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v: %s", err, out)
	}
	recv := startRecv(t, nil, "--listen", "127.0.0.1:0", "--dir", dir)
	// Cleanups run last in, first out, so this one runs before the
	// receiver's own and before TempDir's removal: stop the receiver, then
	// unmount.
	t.Cleanup(func() {
		recv.kill()
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})

	src := filepath.Join(t.TempDir(), "big.bin")
	writeRandomFile(t, src, 16<<20, 3)
	res := newSender(t).run(t, time.Minute, "--pin", recv.key, src, recv.addr)
	want := "qsend: receiver: no space left on device writing big.bin at "
	if res.code != 1 || !strings.Contains(res.stderr, want) {
		t.Fatalf("got exit %d, stderr %q; want 1 and %q", res.code, res.stderr, want)
	}
	waitFor(t, 10*time.Second, "the receiver to log the full device", func() bool {
		return strings.Contains(recv.stderr.String(), "no space left on device writing big.bin at ")
	})
	if got := listDir(t, dir); !reflect.DeepEqual(got, []string{".qsend"}) {
		t.Fatalf("receiving directory holds %q, want only .qsend (no big.bin)", got)
	}
	t.Logf("sender: %s", lastLine(res.stderr))
}

// requireRoot skips a test that needs root outside CI, and fails it in CI,
// which runs as root.
func requireRoot(t *testing.T, what string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s needs root, and CI runs as root", what)
	}
	t.Skipf("%s needs root", what)
}

// TestPermissionDenied runs each side as nobody against files it may not
// touch: the sender cannot read a file, and the receiver cannot write into
// a directory. Both give one clear line and a non-zero exit.
func TestPermissionDenied(t *testing.T) {
	requireRoot(t, "switching to the nobody user")
	const nobody = 65534
	asNobody := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("setpriv (util-linux) is missing: %v", err)
	}
	// A directory nobody owns and may reach.
	ownedByNobody := func() string {
		t.Helper()
		d := t.TempDir()
		for _, p := range []string{filepath.Dir(d), d} {
			if err := os.Chmod(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chown(d, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		return d
	}

	t.Run("sender cannot read", func(t *testing.T) {
		secret := filepath.Join(ownedByNobody(), "secret")
		writeRandomFile(t, secret, 100, 1)
		if err := os.Chown(secret, 0, 0); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(secret, 0o600); err != nil {
			t.Fatal(err)
		}
		s := &sender{home: ownedByNobody(), wrapper: asNobody}
		res := s.run(t, time.Minute, secret, "127.0.0.1:9")
		if want := "qsend: " + secret + ": permission denied"; res.code != 1 || lastLine(res.stderr) != want {
			t.Fatalf("got exit %d, last line %q; want 1, %q", res.code, lastLine(res.stderr), want)
		}
	})

	t.Run("receiver cannot write", func(t *testing.T) {
		dir := ownedByNobody()
		if err := os.Mkdir(filepath.Join(dir, "locked"), 0o755); err != nil { // root's
			t.Fatal(err)
		}
		recv := startRecv(t, asNobody, "--listen", "127.0.0.1:0", "--dir", dir)
		src := filepath.Join(t.TempDir(), "locked")
		if err := os.Mkdir(src, 0o755); err != nil {
			t.Fatal(err)
		}
		writeRandomFile(t, filepath.Join(src, "file"), 100, 1)
		res := newSender(t).run(t, time.Minute, "--pin", recv.key, src, recv.addr)
		if want := "qsend: receiver: permission denied putting in place locked/file"; res.code != 1 || !strings.Contains(res.stderr, want) {
			t.Fatalf("got exit %d, stderr %q; want 1 and %q", res.code, res.stderr, want)
		}
		if want := "qsend: 1 of 1 files were not delivered (see above)"; lastLine(res.stderr) != want {
			t.Fatalf("got last line %q, want %q", lastLine(res.stderr), want)
		}
		if got := listDir(t, filepath.Join(dir, "locked")); len(got) != 0 {
			t.Fatalf("locked directory holds %q, want nothing", got)
		}
	})
}
