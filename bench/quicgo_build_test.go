package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeBuild writes a file standing in for the program and counts its calls.
func fakeBuild(calls *atomic.Int32, err error) func(context.Context, string) (string, error) {
	return func(ctx context.Context, dir string) (string, error) {
		calls.Add(1)
		if err != nil {
			return "", err
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		path := filepath.Join(dir, "quicgo-peer")
		return path, os.WriteFile(path, []byte("#!/bin/false\n"), 0o755)
	}
}

func TestPeerBuilderBuildsOnce(t *testing.T) {
	var calls atomic.Int32
	b := &peerBuilder{build: fakeBuild(&calls, nil), tempDir: t.TempDir()}
	paths := make([]string, 8)
	var wg sync.WaitGroup
	for i := range paths {
		wg.Go(func() {
			p, err := b.binary(context.Background())
			if err != nil {
				t.Errorf("binary: %v", err)
			}
			paths[i] = p
		})
	}
	wg.Wait()
	if got := calls.Load(); got != 1 {
		t.Errorf("8 concurrent callers: %d builds, want 1", got)
	}
	for _, p := range paths {
		if p != paths[0] {
			t.Errorf("callers got different paths %q and %q", paths[0], p)
		}
	}
	if _, err := os.Stat(paths[0]); err != nil {
		t.Errorf("built program: %v", err)
	}
	if dir, want := filepath.Base(filepath.Dir(paths[0])), fmt.Sprintf("%s%d-", peerDirPrefix, os.Getpid()); !strings.HasPrefix(dir, want) {
		t.Errorf("build directory %q, want its name to start %q (the owner's process ID)", dir, want)
	}

	if err := b.remove(); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(paths[0])); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after remove, stat of the build directory: %v, want it gone", err)
	}
	p, err := b.binary(context.Background())
	if err != nil || calls.Load() != 2 || p == paths[0] {
		t.Errorf("after remove: got %q, %v after %d builds; want a second build in a new directory", p, err, calls.Load())
	}
	if err := b.remove(); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if err := b.remove(); err != nil {
		t.Errorf("second remove: %v, want nil", err)
	}
}

func TestPeerBuilderKeepsFailures(t *testing.T) {
	errNoToolchain := errors.New("no go command")
	var calls atomic.Int32
	b := &peerBuilder{build: fakeBuild(&calls, errNoToolchain), tempDir: t.TempDir()}
	for i := range 3 {
		if _, err := b.binary(context.Background()); !errors.Is(err, errNoToolchain) {
			t.Errorf("call %d: error %v, want errNoToolchain", i, err)
		}
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("3 calls after a failure: %d builds, want 1 (failure kept)", got)
	}
	b.remove()
	b.binary(context.Background())
	if got := calls.Load(); got != 2 {
		t.Errorf("after remove: %d builds, want 2 (failure forgotten)", got)
	}
}

func TestPeerBuilderRetriesAfterCancellation(t *testing.T) {
	var calls atomic.Int32
	b := &peerBuilder{build: fakeBuild(&calls, nil), tempDir: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.binary(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled build: error %v, want context.Canceled", err)
	}
	p, err := b.binary(context.Background())
	if err != nil || calls.Load() != 2 {
		t.Errorf("after a cancelled build: got %q, %v after %d builds; want a fresh build", p, err, calls.Load())
	}
	b.remove()
}

func TestPeersModuleDir(t *testing.T) {
	dir, err := peersModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	if !isPeersModule(dir) || filepath.Base(dir) != "peers" {
		t.Errorf("peersModuleDir() = %q, want bench/peers", dir)
	}
	if isPeersModule(filepath.Dir(dir)) || isPeersModule(t.TempDir()) {
		t.Errorf("isPeersModule accepts a directory without the peers' go.mod")
	}
}

// TestMainModuleHasNoQuicGo keeps quic-go out of the limpet module: only
// bench/peers may require it.
func TestMainModuleHasNoQuicGo(t *testing.T) {
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join("..", name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "quic-go") {
			t.Errorf("../%s mentions quic-go; only bench/peers/go.mod may", name)
		}
	}
}

func TestRemoveOrphanedPeerDirs(t *testing.T) {
	// A process that has exited: its ID names an orphan.
	exited := exec.Command(os.Args[0], "-test.run=^$")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := exited.Process.Pid
	if processExists(deadPID) {
		t.Fatalf("processExists(%d) = true for a process that has exited", deadPID)
	}
	if !processExists(os.Getppid()) {
		t.Fatalf("processExists(%d) = false for our parent", os.Getppid())
	}

	tmp := t.TempDir()
	now := time.Now()
	old := now.Add(-2 * orphanAge)
	tests := []struct {
		desc     string
		name     string
		modTime  time.Time
		wantKept bool
	}{
		{desc: "dead owner, old", name: fmt.Sprintf("%s%d-123", peerDirPrefix, deadPID), modTime: old, wantKept: false},
		{desc: "dead owner, recent", name: fmt.Sprintf("%s%d-124", peerDirPrefix, deadPID), modTime: now, wantKept: true},
		{desc: "live owner", name: fmt.Sprintf("%s%d-125", peerDirPrefix, os.Getppid()), modTime: old, wantKept: true},
		{desc: "this process", name: fmt.Sprintf("%s%d-126", peerDirPrefix, os.Getpid()), modTime: old, wantKept: true},
		{desc: "no dash after the ID (an older naming)", name: fmt.Sprintf("%s%d", peerDirPrefix, deadPID), modTime: old, wantKept: true},
		{desc: "not a number", name: peerDirPrefix + "x-127", modTime: old, wantKept: true},
		{desc: "someone else's", name: fmt.Sprintf("other-%d-128", deadPID), modTime: old, wantKept: true},
	}
	for _, tt := range tests {
		dir := filepath.Join(tmp, tt.name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "quicgo-peer"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(dir, tt.modTime, tt.modTime); err != nil {
			t.Fatal(err)
		}
	}
	removeOrphanedPeerDirs(tmp, now)
	for _, tt := range tests {
		_, err := os.Stat(filepath.Join(tmp, tt.name))
		if kept := err == nil; kept != tt.wantKept {
			t.Errorf("%s: %s kept = %v, want %v", tt.desc, tt.name, kept, tt.wantKept)
		}
	}
}
