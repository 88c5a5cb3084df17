package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStatsAndQlog sends a file with --stats and --qlog on both ends: the
// sender prints its bottleneck report on stderr and in the --json summary,
// and each end leaves one qlog trace, named by the same connection ID.
func TestStatsAndQlog(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f.bin")
	writeRandomFile(t, src, 8<<20, 3)
	dst, sendLogs, recvLogs := t.TempDir(), filepath.Join(t.TempDir(), "new", "qlog"), t.TempDir()
	recv := startRecv(t, nil, "--listen", "127.0.0.1:0", "--dir", dst, "--once", "--stats", "--qlog", recvLogs)
	res := newSender(t).run(t, time.Minute, "--json", "--stats", "--qlog", sendLogs, "--pin", recv.key, src, recv.addr)
	if res.code != 0 {
		t.Fatalf("send exited %d; stderr:\n%s", res.code, res.stderr)
	}
	if code := recv.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("recv exited %d; stderr:\n%s", code, recv.stderr.String())
	}
	if hashFile(t, src) != hashFile(t, filepath.Join(dst, "f.bin")) {
		t.Fatalf("file differs after the transfer")
	}

	sum := res.summary(t)
	b := sum.Bottleneck
	if b == nil {
		t.Fatalf("--json --stats summary has no bottleneck: %s", res.stdout)
	}
	known := map[string]bool{"application": true, "congestion_window": true, "pacing": true, "peer_stream_window": true,
		"peer_connection_window": true, "socket": true, "cpu": true}
	for k := range b.Limited {
		if !known[k] {
			t.Errorf("bottleneck names an unknown limit %q", k)
		}
	}
	// A loopback sender is busy: the CPU's share is there.
	if b.Limited["cpu"] <= 0 || b.SmoothedRTTMS <= 0 {
		t.Errorf("bottleneck %+v: want CPU time and an RTT", b)
	}
	if !strings.Contains(res.stderr, "qsend: stats: over ") || !strings.Contains(res.stderr, "RTT") {
		t.Errorf("sender stderr lacks the report:\n%s", res.stderr)
	}
	if !strings.Contains(recv.stderr.String(), "qsend: stats: over ") {
		t.Errorf("receiver stderr lacks the report:\n%s", recv.stderr.String())
	}

	sent, _ := filepath.Glob(filepath.Join(sendLogs, "*_client.sqlog"))
	got, _ := filepath.Glob(filepath.Join(recvLogs, "*_server.sqlog"))
	if len(sent) != 1 || len(got) != 1 || strings.TrimSuffix(filepath.Base(sent[0]), "_client.sqlog") != strings.TrimSuffix(filepath.Base(got[0]), "_server.sqlog") {
		t.Fatalf("traces %v and %v, want one each for the same connection", sent, got)
	}
	for _, f := range append(sent, got...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte("\x1e{")) || !bytes.Contains(data, []byte(`"name":"transport:packet_sent"`)) ||
			!bytes.Contains(data, []byte(`"name":"connectivity:connection_closed"`)) {
			t.Errorf("%s is not a complete trace (%d bytes)", f, len(data))
		}
	}
}

// TestQlogDirUnusable checks that --qlog naming a file is a one-line
// error and exit status 1, before anything is sent.
func TestQlogDirUnusable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	recv := startRecv(t, nil, "--listen", "127.0.0.1:0", "--dir", t.TempDir())
	defer recv.kill()
	res := newSender(t).run(t, time.Minute, "--qlog", filepath.Join(file, "sub"), "--pin", recv.key, file, recv.addr)
	if res.code != 1 || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 || !strings.Contains(res.stderr, "--qlog") {
		t.Errorf("exit %d, stderr %q; want 1 and one line naming --qlog", res.code, res.stderr)
	}
}
