package bench

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// peersModule is the module path of bench/peers, checked so that the
// builder never compiles some other go.mod it happens to find.
const peersModule = "github.com/limpetnet/limpet/bench/peers"

// peerBuilder compiles the quicgo-peer program at most once per process,
// into a directory of its own, until remove deletes it.
//
// The directory's name carries the process ID, so that a later build can
// delete what a process that died without calling remove left behind.
type peerBuilder struct {
	// build compiles the program into dir and returns its path.
	build func(ctx context.Context, dir string) (string, error)
	// tempDir holds the build directories; empty means os.TempDir().
	tempDir string

	mu   sync.Mutex
	dir  string
	path string
	// err is a failure that trying again would repeat (no toolchain, a
	// compile error); a cancelled build is not kept.
	err error
}

var defaultPeerBuilder = &peerBuilder{build: buildQuicGoPeer}

// RemovePeerBinaries deletes the quicgo-peer program RunQuicGo built, if
// any; a later RunQuicGo builds it again. qbench calls it before exiting.
func RemovePeerBinaries() error {
	return defaultPeerBuilder.remove()
}

// binary returns the program's path, building it on the first call. Callers
// arriving during the build wait for it rather than start their own.
func (b *peerBuilder) binary(ctx context.Context) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.path != "" || b.err != nil {
		return b.path, b.err
	}
	tmp := cmp.Or(b.tempDir, os.TempDir())
	removeOrphanedPeerDirs(tmp, time.Now())
	dir, err := os.MkdirTemp(tmp, fmt.Sprintf("%s%d-", peerDirPrefix, os.Getpid()))
	if err != nil {
		return "", fmt.Errorf("bench: directory for quicgo-peer: %w", err)
	}
	path, err := b.build(ctx, dir)
	if err != nil {
		os.RemoveAll(dir)
		if ctx.Err() == nil {
			b.err = err
		}
		return "", err
	}
	b.dir, b.path = dir, path
	return path, nil
}

// remove deletes the built program and forgets it and any kept failure.
func (b *peerBuilder) remove() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var err error
	if b.dir != "" {
		err = os.RemoveAll(b.dir)
	}
	b.dir, b.path, b.err = "", "", nil
	return err
}

// peerDirPrefix starts the name of every build directory; the owner's
// process ID and a dash follow.
const peerDirPrefix = "limpet-quicgo-peer-"

// orphanAge is how old an orphaned build directory must be before it is
// removed: its owner is gone, but a process in another PID namespace that
// shares the temporary directory would look gone too.
const orphanAge = time.Hour

// removeOrphanedPeerDirs deletes the build directories in tmp whose owner
// process no longer exists and that are older than orphanAge. Failures
// are ignored: the directories only cost space.
func removeOrphanedPeerDirs(tmp string, now time.Time) {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), peerDirPrefix)
		pidText, _, dashed := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || !dashed || err != nil || pid <= 0 || pid == os.Getpid() || !e.IsDir() || processExists(pid) {
			continue
		}
		if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > orphanAge {
			os.RemoveAll(filepath.Join(tmp, e.Name()))
		}
	}
}

// maxBuildOutput bounds how much of the go command's complaint an error
// quotes: its last lines say what went wrong.
const maxBuildOutput = 2 << 10

// buildQuicGoPeer runs "go build ./cmd/quicgo-peer" in bench/peers.
func buildQuicGoPeer(ctx context.Context, dir string) (string, error) {
	src, err := peersModuleDir()
	if err != nil {
		return "", err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("bench: quic-go runs as a program built from %s, which needs the Go toolchain: %w", src, err)
	}
	out := filepath.Join(dir, "quicgo-peer")
	cmd := exec.CommandContext(ctx, goTool, "build", "-buildvcs=false", "-o", out, "./cmd/quicgo-peer")
	cmd.Dir = src
	// bench/peers is a module of its own; a workspace file must not pull
	// it into the limpet module's build list.
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if output, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("bench: building quicgo-peer: %w", ctx.Err())
		}
		output = bytes.TrimSpace(output)
		if len(output) > maxBuildOutput {
			output = output[len(output)-maxBuildOutput:]
		}
		return "", fmt.Errorf("bench: building quicgo-peer in %s (needs github.com/quic-go/quic-go from the module cache or the module proxy): %w: %s",
			src, err, output)
	}
	return out, nil
}

// errNoPeersModule reports a harness run away from its source tree.
var errNoPeersModule = errors.New("bench: cannot find bench/peers, the module of the quic-go peer; run from the limpet source tree")

// peersModuleDir finds bench/peers beside this source file, or else above
// the working directory (for a binary built with -trimpath).
func peersModuleDir() (string, error) {
	var candidates []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		candidates = append(candidates, filepath.Join(filepath.Dir(file), "peers"))
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			candidates = append(candidates, filepath.Join(dir, "bench", "peers"))
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	for _, dir := range candidates {
		if isPeersModule(dir) {
			return dir, nil
		}
	}
	return "", errNoPeersModule
}

// isPeersModule reports whether dir holds the go.mod of peersModule.
func isPeersModule(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for line := range bytes.Lines(b) {
		if string(bytes.TrimSpace(line)) == "module "+peersModule {
			return true
		}
	}
	return false
}
