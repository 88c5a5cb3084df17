package main

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// makeSmallTree writes n files of 0–64 KiB under root in nested directories
// with varied permission bits, plus one empty directory and one read-only
// directory with files in it.
func makeSmallTree(t *testing.T, root string, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	fileModes := []fs.FileMode{0o600, 0o640, 0o644, 0o664, 0o700, 0o755, 0o400, 0o444}
	dirModes := []fs.FileMode{0o700, 0o750, 0o755, 0o555}
	var dirs []string
	for a := range 10 {
		for b := range 5 {
			dirs = append(dirs, filepath.Join(root, fmt.Sprintf("d%d", a), fmt.Sprintf("s%d", b)))
		}
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		dir := dirs[i%len(dirs)]
		p := filepath.Join(dir, fmt.Sprintf("file-%04d.dat", i))
		writeRandomFile(t, p, rng.Int64N(64<<10+1), uint64(i)+100)
		if err := os.Chmod(p, fileModes[i%len(fileModes)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Modes last, deepest first, so a read-only directory is filled first.
	for i, d := range dirs {
		if err := os.Chmod(d, dirModes[i%len(dirModes)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "empty"), 0o710); err != nil {
		t.Fatal(err)
	}
}

// TestTreeAndLargeFile sends a tree of 1,000 small files and one 1 GiB file
// over loopback and checks that every path, kind, mode and SHA-256 arrives
// identical.
func TestTreeAndLargeFile(t *testing.T) {
	src := t.TempDir()
	tree := filepath.Join(src, "tree")
	makeSmallTree(t, tree, 1000)
	big := filepath.Join(src, "big.bin")
	const bigSize = 1 << 30
	writeRandomFile(t, big, bigSize, 7)

	dst := t.TempDir()
	recv := startRecv(t, nil, "--listen", "127.0.0.1:0", "--dir", dst, "--once", "--json")
	start := time.Now()
	res := newSender(t).run(t, 10*time.Minute, "--json", "--pin", recv.key, tree, big, recv.addr)
	elapsed := time.Since(start)
	if res.code != 0 {
		t.Fatalf("send exited %d; stderr:\n%s\nreceiver stderr:\n%s", res.code, res.stderr, recv.stderr.String())
	}
	if code := recv.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("recv --once exited %d; stderr:\n%s", code, recv.stderr.String())
	}

	want := snapshotTree(t, src)
	got := snapshotTree(t, dst)
	compareTrees(t, got, want)
	if e := got["tree/empty"]; e.kind != "dir" || e.mode != 0o710 {
		t.Errorf("empty directory: got %+v, want a directory with mode 0710", e)
	}

	sum := res.summary(t)
	if sum.Files != 1001 || sum.FilesFailed != 0 || sum.Error != "" {
		t.Errorf("got summary %+v, want 1001 files and no failures", sum)
	}
	var total int64
	for p, e := range want {
		if e.kind == "file" {
			info, err := os.Stat(filepath.Join(src, p))
			if err != nil {
				t.Fatal(err)
			}
			total += info.Size()
		}
	}
	if sum.Bytes != total || sum.BytesSentThisRun != total || sum.DeliveredBytes != total || sum.ResumedBytes != 0 {
		t.Errorf("got bytes %d, sent %d, delivered %d, resumed %d; want %d, %d, %d, 0",
			sum.Bytes, sum.BytesSentThisRun, sum.DeliveredBytes, sum.ResumedBytes, total, total, total)
	}
	if !strings.Contains(res.stderr, "sent 1001 files") {
		t.Errorf("stderr %q lacks the final line", res.stderr)
	}
	t.Logf("1,000 small files + 1 GiB: %s in %.1f s (%.0f MB/s goodput by --json), %d bytes retransmitted",
		formatMiB(total), elapsed.Seconds(), sum.GoodputMBps, sum.RetransmittedBytes)
}

func formatMiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// TestSendAgainIsIdempotent sends a tree twice: the second run finds every
// file in place, checks it by hash and sends no data.
func TestSendAgainIsIdempotent(t *testing.T) {
	src := t.TempDir()
	tree := filepath.Join(src, "tree")
	makeSmallTree(t, tree, 50)
	dst := t.TempDir()
	recv := startRecv(t, nil, "--listen", "127.0.0.1:0", "--dir", dst)
	s := newSender(t)
	first := s.run(t, time.Minute, "--json", tree, recv.addr)
	if first.code != 0 {
		t.Fatalf("first send exited %d; stderr:\n%s", first.code, first.stderr)
	}
	second := s.run(t, time.Minute, "--json", tree, recv.addr)
	if second.code != 0 {
		t.Fatalf("second send exited %d; stderr:\n%s", second.code, second.stderr)
	}
	sum1, sum2 := first.summary(t), second.summary(t)
	if sum2.BytesSentThisRun != 0 || sum2.ResumedBytes != sum1.Bytes {
		t.Errorf("second run: sent %d, resumed %d; want 0 sent and %d resumed", sum2.BytesSentThisRun, sum2.ResumedBytes, sum1.Bytes)
	}
	compareTrees(t, snapshotTree(t, dst), snapshotTree(t, src))
}
