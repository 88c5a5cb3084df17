package qsend

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/limpetnet/limpet/transport"
)

func TestDiskErrorMessage(t *testing.T) {
	tests := []struct {
		desc      string
		err       error
		wantMsg   string
		wantFatal bool
	}{
		{desc: "full", err: &fs.PathError{Op: "write", Path: ".qsend/x.part", Err: syscall.ENOSPC}, wantMsg: "no space left on device", wantFatal: true},
		{desc: "quota", err: &fs.PathError{Op: "write", Path: "x", Err: syscall.EDQUOT}, wantMsg: "disk quota exceeded", wantFatal: true},
		{desc: "read-only", err: &fs.PathError{Op: "open", Path: "x", Err: syscall.EROFS}, wantMsg: "read-only file system", wantFatal: true},
		{desc: "permission", err: &fs.PathError{Op: "open", Path: "x", Err: syscall.EACCES}, wantMsg: "permission denied"},
		{desc: "rename onto a directory", err: &os.LinkError{Op: "rename", Old: ".qsend/a", New: "b", Err: syscall.EISDIR}, wantMsg: "is a directory"},
		{desc: "other errno hides the state path", err: &fs.PathError{Op: "write", Path: ".qsend/x.part", Err: syscall.EIO}, wantMsg: "input/output error"},
		{desc: "plain error", err: errors.New("odd"), wantMsg: "odd"},
	}
	for _, tt := range tests {
		msg, fatal := diskErrorMessage(tt.err)
		if msg != tt.wantMsg || fatal != tt.wantFatal {
			t.Errorf("%s: got %q, %v, want %q, %v", tt.desc, msg, fatal, tt.wantMsg, tt.wantFatal)
		}
	}
	res := diskFailure(&fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}, "writing", "big.bin", 16_672_358)
	if want := "no space left on device writing big.bin at 15.9 MiB"; res.Message != want {
		t.Errorf("got %q, want %q", res.Message, want)
	}
}

func TestDescribeConnError(t *testing.T) {
	tests := []struct {
		desc          string
		err           error
		wantMsg       string
		wantResumable bool
	}{
		{desc: "idle timeout", err: transport.ErrIdleTimeout, wantMsg: "idle timeout", wantResumable: true},
		{desc: "receiver restarted", err: transport.ErrStatelessReset, wantMsg: "receiver restarted", wantResumable: true},
		{desc: "receiver aborted", err: &transport.ApplicationError{Code: codeAbort, Reason: "no space left on device", Remote: true}, wantMsg: "receiver: no space left on device"},
		{desc: "receiver stopping", err: &transport.ApplicationError{Code: codeShutdown, Reason: "receiver shutting down", Remote: true}, wantMsg: "receiver shutting down", wantResumable: true},
		{desc: "key not allowed", err: &transport.TransportError{Code: transport.UnknownClientKey, Remote: true}, wantMsg: "--allow"},
		{desc: "escape sequences are neutralised", err: &transport.ApplicationError{Code: codeAbort, Reason: "x\x1b[2J", Remote: true}, wantMsg: "x?[2J"},
	}
	for _, tt := range tests {
		msg, resumable := describeConnError(fmt.Errorf("wrapped: %w", tt.err))
		if !strings.Contains(msg, tt.wantMsg) || resumable != tt.wantResumable {
			t.Errorf("%s: got %q, %v, want %q, %v", tt.desc, msg, resumable, tt.wantMsg, tt.wantResumable)
		}
	}
}

func TestProgressLineWithoutTerminal(t *testing.T) {
	var out bytes.Buffer
	con := newConsole(&out)
	if con.tty {
		t.Fatal("a buffer was taken for a terminal")
	}
	p := newProgress(con, "sent", true)
	p.setTotal(4<<20, 3)
	p.startFile(0, "big.bin", 4<<20, 0)
	now := time.Unix(100, 0)
	p.render(now)
	p.add(0, 1<<20)
	p.endFile(1, true)
	lines := p.render(now.Add(time.Second))
	p.close()
	want := []string{" 25% 1.0 MiB / 4.0 MiB sent, 1.0 MB/s, ETA 0:03, 1/3 files"}
	if len(lines) != 1 || lines[0] != want[0] {
		t.Fatalf("got %q, want %q", lines, want)
	}
}
