package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/limpetnet/limpet/bench/netlab"
)

// TestNATRebinding sends 256 MiB from the client namespace of a network
// lab to a receiver in its server namespace while the NAT between them
// moves the flow to a new external port every 2 s. The transfer completes
// byte-exact, and the receiver, which sees the sender's address change,
// counts a migration for each rebinding.
func TestNATRebinding(t *testing.T) {
	lab := netlab.NewForTest(t, netlab.Options{})
	const size = 256 << 20
	src := filepath.Join(t.TempDir(), "big.bin")
	writeRandomFile(t, src, size, 9)
	dir := t.TempDir()
	recv := startRecv(t, []string{"ip", "netns", "exec", lab.Namespace(netlab.Server)},
		"--listen", lab.ServerAddr().String()+":0", "--dir", dir, "--once", "--json", "--quiet")
	s := newSender(t)
	s.wrapper = []string{"ip", "netns", "exec", lab.Namespace(netlab.Client)}

	// 36 MB/s makes the transfer last about 7.5 s: three rebindings.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd, stdout, stderr := s.command(ctx, "--json", "--rate", "36M", "--pin", recv.key, src, recv.addr)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	rebinds := 0
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	var waitErr error
wait:
	for {
		select {
		case waitErr = <-done:
			break wait
		case <-tick.C:
			if err := lab.RebindNAT(); err != nil {
				t.Fatalf("RebindNAT: %v", err)
			}
			rebinds++
		}
	}
	elapsed := time.Since(start)
	res := sendResult{code: exitStatus(waitErr), stdout: stdout.String(), stderr: stderr.String()}
	if res.code != 0 {
		t.Fatalf("send exited %d after %d rebindings; stderr:\n%s\nreceiver:\n%s", res.code, rebinds, res.stderr, recv.stderr.String())
	}
	if code := recv.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("recv --once exited %d; stderr:\n%s", code, recv.stderr.String())
	}
	if got, want := hashFile(t, filepath.Join(dir, "big.bin")), hashFile(t, src); got != want {
		t.Fatalf("hash %s, want %s", got, want)
	}
	sum := res.summary(t)
	// The receiver's JSON line follows its "listening on" line.
	lines := strings.Split(strings.TrimSpace(recv.stdout.String()), "\n")
	recvSum := sendResult{stdout: lines[len(lines)-1]}.summary(t)
	if rebinds < 2 {
		t.Fatalf("only %d rebindings happened during the transfer, want at least 2 (it took %v)", rebinds, elapsed)
	}
	// The last rebinding may come after the last data packet.
	if recvSum.Migrations < uint64(rebinds-1) {
		t.Errorf("the receiver saw %d path changes across %d rebindings, want at least %d", recvSum.Migrations, rebinds, rebinds-1)
	}
	t.Logf("256 MiB across %d NAT rebindings in %.1f s: byte-exact; receiver saw %d path changes, sender %d; sender retransmitted %s",
		rebinds, elapsed.Seconds(), recvSum.Migrations, sum.Migrations, formatMiB(int64(sum.RetransmittedBytes)))
}

// TestFECOverLoss sends the same 32 MiB file three times through a path
// that drops 2% of packets each way: with --fec off, with the default
// (adaptive) FEC, and with --fec 8+2. Every copy arrives
// byte-exact. Off sends no repair packets. Adaptive sends some (the tail
// of the file, resends) but under 2% of the file's packets, since a
// window-limited transfer is not protected. Fixed 8+2 sends a quarter as
// many repair packets as data packets and the receiver rebuilds lost
// packets from them.
func TestFECOverLoss(t *testing.T) {
	lab := netlab.NewForTest(t, netlab.Options{})
	if err := lab.SetLoss(2); err != nil {
		t.Fatalf("SetLoss: %v", err)
	}
	const size = 32 << 20
	src := filepath.Join(t.TempDir(), "data.bin")
	writeRandomFile(t, src, size, 12)
	want := hashFile(t, src)
	s := newSender(t)
	s.wrapper = []string{"ip", "netns", "exec", lab.Namespace(netlab.Client)}

	const dataPackets = size / 1400
	for _, mode := range []string{"off", "", "8+2"} {
		dir := t.TempDir()
		recv := startRecv(t, []string{"ip", "netns", "exec", lab.Namespace(netlab.Server)},
			"--listen", lab.ServerAddr().String()+":0", "--dir", dir, "--once", "--json", "--quiet")
		args := []string{"--json", "--pin", recv.key, src, recv.addr}
		if mode != "" {
			args = append([]string{"--fec", mode}, args...)
		}
		start := time.Now()
		res := s.run(t, 3*time.Minute, args...)
		elapsed := time.Since(start)
		if res.code != 0 {
			t.Fatalf("%q: send exited %d; stderr:\n%s", mode, res.code, res.stderr)
		}
		if code := recv.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("recv --once exited %d; stderr:\n%s", code, recv.stderr.String())
		}
		if got := hashFile(t, filepath.Join(dir, "data.bin")); got != want {
			t.Fatalf("%q: hash %s, want %s", mode, got, want)
		}
		sum := res.summary(t)
		// The receiver's JSON line follows its "listening on" line.
		lines := strings.Split(strings.TrimSpace(recv.stdout.String()), "\n")
		recvSum := sendResult{stdout: lines[len(lines)-1]}.summary(t)
		t.Logf("%q: 32 MiB through 2%% loss in %.2f s, %s retransmitted, %d repair packets, %d packets rebuilt by the receiver",
			mode, elapsed.Seconds(), formatMiB(int64(sum.RetransmittedBytes)), sum.FECRepairPackets, recvSum.FECRebuiltPackets)
		switch mode {
		case "off":
			if sum.FECRepairPackets != 0 || recvSum.FECRebuiltPackets != 0 {
				t.Errorf("--fec=off: %d repair packets, %d rebuilt; want none", sum.FECRepairPackets, recvSum.FECRebuiltPackets)
			}
		case "":
			if sum.FECRepairPackets >= dataPackets/50 {
				t.Errorf("adaptive FEC: %d repair packets for about %d data packets, want under 2%%", sum.FECRepairPackets, dataPackets)
			}
		case "8+2":
			if sum.FECRepairPackets < dataPackets/5 || recvSum.FECRebuiltPackets == 0 {
				t.Errorf("--fec: %d repair packets sent, %d packets rebuilt; want a quarter of about %d and some rebuilt", sum.FECRepairPackets, recvSum.FECRebuiltPackets, dataPackets)
			}
		}
	}
}

// TestOutageLongerThanIdleTimeout cuts the path between a sender and a
// receiver in the middle of a 64 MiB file for 8 s, longer than the 3 s
// idle timeout both are given, so both connections die; once with the
// client keeping its address and once with it renumbered during the
// outage. The sender rides it out: it reconnects by itself, the transfer
// carries on where the receiver had read, and it exits 0 with the file
// byte-exact, without being run again.
func TestOutageLongerThanIdleTimeout(t *testing.T) {
	for _, renumber := range []bool{false, true} {
		t.Run(fmt.Sprintf("renumber=%v", renumber), func(t *testing.T) {
			lab := netlab.NewForTest(t, netlab.Options{})
			const size = 64 << 20
			src := filepath.Join(t.TempDir(), "big.bin")
			writeRandomFile(t, src, size, 21)
			dir := t.TempDir()
			recv := startRecv(t, []string{"ip", "netns", "exec", lab.Namespace(netlab.Server)},
				"--listen", lab.ServerAddr().String()+":0", "--dir", dir, "--once", "--json", "--quiet", "--idle-timeout", "3s")
			s := newSender(t)
			s.wrapper = []string{"ip", "netns", "exec", lab.Namespace(netlab.Client)}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			// 16 MB/s: about 4 s of sending around the outage.
			cmd, stdout, stderr := s.command(ctx, "--json", "--rate", "16M", "--idle-timeout", "3s", "--pin", recv.key, src, recv.addr)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			waitFor(t, time.Minute, "a quarter of the file to arrive", func() bool { return partialSize(dir) >= size/4 })
			if err := lab.Blackout(true); err != nil {
				t.Fatal(err)
			}
			if renumber {
				if err := lab.ChangeClientIP(); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(8 * time.Second)
			atRestore := partialSize(dir)
			if err := lab.Blackout(false); err != nil {
				t.Fatal(err)
			}
			var waitErr error
			select {
			case waitErr = <-done:
			case <-ctx.Done():
				t.Fatalf("the sender did not finish; stderr:\n%s", stderr.String())
			}
			res := sendResult{code: exitStatus(waitErr), stdout: stdout.String(), stderr: stderr.String()}
			if res.code != 0 {
				t.Fatalf("send exited %d; stderr:\n%s\nreceiver:\n%s", res.code, res.stderr, recv.stderr.String())
			}
			if code := recv.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("recv --once exited %d; stderr:\n%s", code, recv.stderr.String())
			}
			if got, want := hashFile(t, filepath.Join(dir, "big.bin")), hashFile(t, src); got != want {
				t.Fatalf("hash %s, want %s", got, want)
			}
			for _, want := range []string{"connection lost (", "resumed after "} {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("sender's stderr lacks %q:\n%s", want, res.stderr)
				}
			}
			if !strings.Contains(recv.stderr.String(), ": resumed after ") {
				t.Errorf("receiver's stderr does not report the resumption:\n%s", recv.stderr.String())
			}
			sum := res.summary(t)
			if sum.BytesSentThisRun != size || sum.ResumedBytes != 0 {
				t.Errorf("sent %d bytes of file data, resumed %d; want the whole file once, in one run", sum.BytesSentThisRun, sum.ResumedBytes)
			}
			if sum.Reconnections != 1 || sum.ResentBytes <= 0 || sum.ResentBytes > 16<<20 {
				t.Errorf("summary: %d reconnections, %d bytes resent; want 1 and at most a 16 MiB window", sum.Reconnections, sum.ResentBytes)
			}
			resumed := ""
			for _, l := range strings.Split(res.stderr, "\n") {
				if strings.Contains(l, "resumed after") {
					resumed = l
				}
			}
			t.Logf("64 MiB across an 8 s outage (renumbered: %v), %s received when the path came back; sender: %s", renumber, formatMiB(atRestore), resumed)
		})
	}
}
