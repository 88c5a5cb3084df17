package main

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/limpetnet/limpet/bench"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		desc          string
		args          []string
		wantRows      int
		wantLoopback  int64
		wantBulk      int64
		wantCap       time.Duration
		wantReps      int
		wantProtocols []string
		wantTimeout   time.Duration
	}{
		{
			desc: "defaults: the standard matrix", args: nil,
			wantRows: len(bench.StandardMatrix()), wantLoopback: 1 << 30, wantBulk: 32 << 20, wantCap: 10 * time.Second,
			wantReps: 2, wantProtocols: bench.Protocols(),
			wantTimeout: 20*time.Second + time.Duration(float64(1<<30)/10e6*float64(time.Second)),
		},
		{
			desc: "full", args: []string{"-full"},
			wantRows: len(bench.FullMatrix()), wantLoopback: 1 << 30, wantBulk: 100 << 20, wantCap: 20 * time.Second,
			wantReps: 3, wantProtocols: bench.Protocols(),
			wantTimeout: 20*time.Second + time.Duration(float64(1<<30)/10e6*float64(time.Second)),
		},
		{
			desc: "quick", args: []string{"-quick"},
			wantRows: len(bench.QuickMatrix()), wantLoopback: 128 << 20, wantBulk: 16 << 20, wantCap: 5 * time.Second,
			wantReps: 1, wantProtocols: bench.Protocols(),
			wantTimeout: 20*time.Second + time.Duration(float64(128<<20)/10e6*float64(time.Second)),
		},
		{
			desc: "explicit size, reps and matrix win over quick", args: []string{"-size", "100MB", "-quick", "-reps", "2", "-matrix", "loopback"},
			wantRows: 1, wantLoopback: 100e6, wantBulk: 16 << 20, wantCap: 5 * time.Second, wantReps: 2, wantProtocols: bench.Protocols(),
			wantTimeout: 30 * time.Second,
		},
		{
			desc: "protocols, timeout and a row filter", args: []string{"-full", "-protocols", "tls,tcp-cubic", "-timeout", "7s", "-rows", "RTT 200 ms", "-cap", "9s"},
			wantRows: len(bench.MatrixLosses), wantLoopback: 1 << 30, wantBulk: 100 << 20, wantCap: 9 * time.Second,
			wantReps: 3, wantProtocols: []string{"tcp-cubic", "tls"},
			wantTimeout: 7 * time.Second,
		},
	}
	for _, tt := range tests {
		o, err := parseFlags(tt.args, io.Discard)
		if err != nil {
			t.Errorf("%s: parseFlags(%q): %v", tt.desc, tt.args, err)
			continue
		}
		var names []string
		for _, r := range o.runners {
			names = append(names, r.Protocol)
		}
		if len(o.paths) != tt.wantRows || o.loopbackSize != tt.wantLoopback || o.bulkSize != tt.wantBulk || o.bulkCap != tt.wantCap ||
			o.reps != tt.wantReps || !reflect.DeepEqual(names, tt.wantProtocols) || o.runTimeout != tt.wantTimeout {
			t.Errorf("%s: got %d rows, loopback %d, bulk %d, cap %v, reps %d, protocols %v, timeout %v; want %d, %d, %d, %v, %d, %v, %v",
				tt.desc, len(o.paths), o.loopbackSize, o.bulkSize, o.bulkCap, o.reps, names, o.runTimeout,
				tt.wantRows, tt.wantLoopback, tt.wantBulk, tt.wantCap, tt.wantReps, tt.wantProtocols, tt.wantTimeout)
		}
	}
}

func TestFlagErrorsExitTwo(t *testing.T) {
	tests := []struct {
		desc string
		args []string
		want string // in the message on standard error
	}{
		{desc: "bad size", args: []string{"-size", "lots"}, want: "bad size"},
		{desc: "full and quick", args: []string{"-full", "-quick"}, want: "choose one"},
		{desc: "zero reps", args: []string{"-reps", "0"}, want: "-reps 0"},
		{desc: "unknown protocol", args: []string{"-protocols", "tcp,tls"}, want: "unknown protocol"},
		{desc: "negative timeout", args: []string{"-timeout", "-1s"}, want: "-timeout"},
		{desc: "stray argument", args: []string{"tls"}, want: "unexpected arguments"},
		{desc: "unknown flag", args: []string{"-fast"}, want: "not defined"},
		{desc: "unknown matrix", args: []string{"-matrix", "huge"}, want: "-matrix"},
		{desc: "no matching row", args: []string{"-rows", "Mars"}, want: "no row"},
		{desc: "zero cap", args: []string{"-cap", "0s"}, want: "-cap"},
	}
	for _, tt := range tests {
		var stdout, stderr strings.Builder
		if code := run(context.Background(), tt.args, &stdout, &stderr); code != 2 {
			t.Errorf("%s: exit code %d, want 2", tt.desc, code)
		}
		if !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%s: stderr %q does not mention %q", tt.desc, stderr.String(), tt.want)
		}
		if stdout.Len() != 0 {
			t.Errorf("%s: stdout %q, want nothing", tt.desc, stdout.String())
		}
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		desc string
		args []string
		want string
	}{
		{desc: "plain", args: []string{"-quick", "-protocols", "tcp-cubic,tls"}, want: "qbench -quick -protocols tcp-cubic,tls"},
		{desc: "needs quoting", args: []string{"-json", "my results.json", "-size", "it's"}, want: `qbench -json 'my results.json' -size 'it'\''s'`},
		{desc: "empty argument", args: []string{"-json", ""}, want: "qbench -json ''"},
	}
	for _, tt := range tests {
		if got := commandLine(tt.args); got != tt.want {
			t.Errorf("%s: commandLine(%q) = %q, want %q", tt.desc, tt.args, got, tt.want)
		}
	}
}

func TestUncreatableJSONFileIsAFlagError(t *testing.T) {
	var stdout, stderr strings.Builder
	args := []string{"-json", t.TempDir() + "/no/such/dir/out.json", "-protocols", "tls"}
	if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "-json") || stdout.Len() != 0 {
		t.Errorf("stdout %q, stderr %q: want nothing and a -json error", stdout.String(), stderr.String())
	}
}
