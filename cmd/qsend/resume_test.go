package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestResumeAfterReceiverKilled kills the receiver (SIGKILL) halfway
// through a 512 MiB file, restarts it with the same key and directory, and
// re-runs the sender: the transfer completes byte-exact and the second run
// sends only what the receiver had not durably written.
func TestResumeAfterReceiverKilled(t *testing.T) {
	const size = 512 << 20
	src := filepath.Join(t.TempDir(), "big.bin")
	writeRandomFile(t, src, size, 5)
	want := hashFile(t, src)
	keyFile, _ := keygen(t)
	dir := t.TempDir()
	recv := startRecv(t, nil, "--listen", "127.0.0.1:0", "--dir", dir, "--key", keyFile)
	s := newSender(t)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	first, _, firstStderr := s.command(ctx, "--json", src, recv.addr)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	firstDone := make(chan error, 1)
	go func() { firstDone <- first.Wait() }()
	waitFor(t, 2*time.Minute, "the partial to pass half the file", func() bool { return partialSize(dir) >= size/2 })
	recv.kill()
	atKill := partialSize(dir) // stable now: nobody writes it any more

	// Same key and port: the first sender's next packets draw a stateless
	// reset from the new receiver, so it fails fast with the resume hint.
	again := startRecv(t, nil, "--listen", recv.addr, "--dir", dir, "--key", keyFile, "--once")
	select {
	case err := <-firstDone:
		if code := exitStatus(err); code != 3 {
			t.Fatalf("interrupted sender exited %d, want 3; stderr:\n%s", code, firstStderr.String())
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("interrupted sender still running; stderr:\n%s", firstStderr.String())
	}
	msg := lastLine(firstStderr.String())
	for _, part := range []string{"transfer interrupted: ", " of 512.0 MiB delivered; re-run the same command to resume"} {
		if !strings.Contains(msg, part) {
			t.Errorf("interrupted sender said %q, want it to contain %q", msg, part)
		}
	}

	res := s.run(t, 5*time.Minute, "--json", src, recv.addr)
	if res.code != 0 {
		t.Fatalf("resumed send exited %d; stderr:\n%s\nreceiver:\n%s", res.code, res.stderr, again.stderr.String())
	}
	if got := hashFile(t, filepath.Join(dir, "big.bin")); got != want {
		t.Fatalf("hash after resume %s, want %s", got, want)
	}
	sum := res.summary(t)
	lost := atKill - sum.ResumedBytes                          // received before the kill but not yet fsync'd
	resent := sum.BytesSentThisRun - (size - sum.ResumedBytes) // sent twice within the second run
	if sum.ResumedBytes <= 0 || sum.ResumedBytes > atKill {
		t.Fatalf("resumed from %d with %d bytes received at the kill, want 0 < resumed <= received", sum.ResumedBytes, atKill)
	}
	if resent != 0 {
		t.Errorf("the second run sent %d bytes beyond the missing part, want 0", resent)
	}
	// At most one checkpoint interval (16 MiB) is ever unsynced.
	if lost > size/10 {
		t.Errorf("%d bytes received before the kill were not kept, want under 10%% of %d", lost, size)
	}
	if code := again.wait(t, 30*time.Second); code != 0 {
		t.Errorf("recv --once exited %d", code)
	}
	t.Logf("killed the receiver at %s of 512 MiB received; resumed from %s (%.1f%% of the file re-sent: data received but not yet fsync'd); second run sent %s; interrupted sender said: %s",
		formatMiB(atKill), formatMiB(sum.ResumedBytes), 100*float64(size-sum.ResumedBytes-(size-atKill))/size, formatMiB(sum.BytesSentThisRun), msg)
}

// TestResumeAfterSenderKilled kills the sender halfway: the receiver still
// holds the old connection, the new session replaces it, and the transfer
// resumes from everything the receiver had read.
func TestResumeAfterSenderKilled(t *testing.T) {
	const size = 128 << 20
	src := filepath.Join(t.TempDir(), "big.bin")
	writeRandomFile(t, src, size, 6)
	dir := t.TempDir()
	recv := startRecv(t, nil, "--listen", "127.0.0.1:0", "--dir", dir, "--once")
	s := newSender(t)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The rate keeps the transfer long enough to stop it in the middle.
	first, _, _ := s.command(ctx, "--rate", "64M", "--pin", recv.key, src, recv.addr)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the partial to pass a quarter of the file", func() bool { return partialSize(dir) >= size/4 })
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()

	res := s.run(t, 5*time.Minute, "--json", "--pin", recv.key, src, recv.addr)
	if res.code != 0 {
		t.Fatalf("resumed send exited %d; stderr:\n%s\nreceiver:\n%s", res.code, res.stderr, recv.stderr.String())
	}
	sum := res.summary(t)
	if sum.ResumedBytes < size/4 || sum.BytesSentThisRun != size-sum.ResumedBytes {
		t.Fatalf("resumed %d and sent %d, want at least %d resumed and exactly the rest sent", sum.ResumedBytes, sum.BytesSentThisRun, size/4)
	}
	if !strings.Contains(recv.stderr.String(), "superseded by a new connection from the same sender") {
		t.Errorf("receiver stderr lacks the superseded session:\n%s", recv.stderr.String())
	}
	if got, want := hashFile(t, filepath.Join(dir, "big.bin")), hashFile(t, src); got != want {
		t.Fatalf("hash after resume %s, want %s", got, want)
	}
	if code := recv.wait(t, 30*time.Second); code != 0 {
		t.Errorf("recv --once exited %d", code)
	}
}

// TestResumeRehashesPartial damages the receiver's partial before the
// sender comes back: the prefix hashes differ, so the file is sent again
// from the start and arrives intact.
func TestResumeRehashesPartial(t *testing.T) {
	const size = 64 << 20
	src := filepath.Join(t.TempDir(), "big.bin")
	writeRandomFile(t, src, size, 8)
	dir := t.TempDir()
	recv := startRecv(t, nil, "--listen", "127.0.0.1:0", "--dir", dir)
	s := newSender(t)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	first, _, _ := s.command(ctx, "--rate", "16M", "--pin", recv.key, src, recv.addr)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "some data at the receiver", func() bool { return partialSize(dir) >= 20<<20 })
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	// The old session may still hold the partial open; damaging it
	// through a file of our own works all the same.
	parts, _ := filepath.Glob(filepath.Join(dir, ".qsend", "*.part"))
	if len(parts) != 1 {
		t.Fatalf("got partials %q, want one", parts)
	}
	f, err := os.OpenFile(parts[0], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("damaged"), 1000); err != nil {
		t.Fatal(err)
	}
	f.Close()

	res := s.run(t, 5*time.Minute, "--json", "--verbose", "--pin", recv.key, src, recv.addr)
	if res.code != 0 {
		t.Fatalf("send exited %d; stderr:\n%s", res.code, res.stderr)
	}
	sum := res.summary(t)
	// The sender streams from the offered offset while the receiver hashes
	// its prefix, so up to a flow-control window is sent in vain before the
	// restart; then the whole file goes again.
	if sum.ResumedBytes != 0 || sum.BytesSentThisRun < size {
		t.Fatalf("resumed %d, sent %d; want 0 resumed and the whole %d sent again", sum.ResumedBytes, sum.BytesSentThisRun, size)
	}
	if !strings.Contains(res.stderr, "the partial copy differs from the sender's file; sending it from the start") {
		t.Errorf("sender stderr lacks the restart:\n%s", res.stderr)
	}
	if got, want := hashFile(t, filepath.Join(dir, "big.bin")), hashFile(t, src); got != want {
		t.Fatalf("hash %s, want %s", got, want)
	}
}
