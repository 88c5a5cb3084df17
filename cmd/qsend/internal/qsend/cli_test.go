package qsend

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport"
)

// TestHelpMentionsEveryFlag keeps the hand-written help texts in step with
// the flag sets.
func TestHelpMentionsEveryFlag(t *testing.T) {
	var out string
	var ro recvOptions
	var so sendOptions
	tests := []struct {
		desc string
		fs   *flag.FlagSet
		help string
	}{
		{desc: "keygen", fs: keygenFlags(&out), help: keygenHelp},
		{desc: "recv", fs: recvFlags(&ro), help: recvHelp},
		{desc: "send", fs: sendFlags(&so), help: sendHelp},
	}
	for _, tt := range tests {
		tt.fs.VisitAll(func(f *flag.Flag) {
			spelling := "--" + f.Name
			if len(f.Name) == 1 {
				spelling = "-" + f.Name
			}
			if !strings.Contains(tt.help, spelling+" ") {
				t.Errorf("%s help does not mention %s", tt.desc, spelling)
			}
			if !strings.Contains(mainHelp, "qsend "+tt.desc) {
				t.Errorf("main help does not mention qsend %s", tt.desc)
			}
		})
	}
}

func TestMainHelpAndUsage(t *testing.T) {
	tests := []struct {
		desc       string
		args       []string
		wantCode   int
		wantStdout string // a substring; "" means empty
		wantStderr string
	}{
		{desc: "--help", args: []string{"--help"}, wantCode: ExitOK, wantStdout: "Usage:"},
		{desc: "help send", args: []string{"help", "send"}, wantCode: ExitOK, wantStdout: "Usage: qsend send"},
		{desc: "send --help", args: []string{"send", "--help"}, wantCode: ExitOK, wantStdout: "Usage: qsend send"},
		{desc: "recv -h", args: []string{"recv", "-h"}, wantCode: ExitOK, wantStdout: "Usage: qsend recv"},
		{desc: "keygen --help", args: []string{"keygen", "--help"}, wantCode: ExitOK, wantStdout: "Usage: qsend keygen"},
		{desc: "no arguments", args: nil, wantCode: ExitUsage, wantStderr: "Usage:"},
		{desc: "unknown command", args: []string{"sned"}, wantCode: ExitUsage, wantStderr: `unknown command "sned"`},
		{desc: "unknown flag", args: []string{"send", "--pni", "x", "f", "h:1"}, wantCode: ExitUsage, wantStderr: "flag provided but not defined: -pni"},
		{desc: "send without receiver", args: []string{"send", "file"}, wantCode: ExitUsage, wantStderr: "want at least one FILE or DIR and then HOST:PORT"},
		{desc: "bad pin", args: []string{"send", "--pin", "abc", "f", "h:1"}, wantCode: ExitUsage, wantStderr: `key "abc"`},
		{desc: "bad rate", args: []string{"send", "--rate", "0", "f", "h:1"}, wantCode: ExitUsage, wantStderr: "must be positive"},
		{desc: "bad parallel", args: []string{"send", "--parallel", "100", "f", "h:1"}, wantCode: ExitUsage, wantStderr: "--parallel 100"},
		{desc: "recv positional", args: []string{"recv", "somedir"}, wantCode: ExitUsage, wantStderr: "the directory goes after --dir"},
		{desc: "bad allow", args: []string{"recv", "--allow", "nope"}, wantCode: ExitUsage, wantStderr: `key "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), tt.args, Env{Home: t.TempDir()}, &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("got exit %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if tt.wantStdout == "" && stdout.Len() > 0 || !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("got stdout %q, want it to contain %q", stdout.String(), tt.wantStdout)
			}
			if tt.wantStderr == "" && stderr.Len() > 0 || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("got stderr %q, want it to contain %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

func TestParseArgsIntersperses(t *testing.T) {
	tests := []struct {
		desc    string
		args    []string
		wantPos []string
		wantPin bool
		wantKey string
	}{
		{desc: "flags first", args: []string{"--key", "k", "a", "h:1"}, wantPos: []string{"a", "h:1"}, wantKey: "k"},
		{desc: "flags last", args: []string{"a", "b", "h:1", "--key", "k"}, wantPos: []string{"a", "b", "h:1"}, wantKey: "k"},
		{desc: "flags between", args: []string{"a", "--json", "b", "h:1"}, wantPos: []string{"a", "b", "h:1"}},
		{desc: "double dash ends flags", args: []string{"--", "--key", "h:1"}, wantPos: []string{"--key", "h:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var o sendOptions
			pos, err := parseArgs(sendFlags(&o), tt.args, sendHelp, &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(pos, tt.wantPos) || o.key != tt.wantKey {
				t.Fatalf("got positional %q, key %q, want %q, %q", pos, o.key, tt.wantPos, tt.wantKey)
			}
		})
	}
}

func TestReceiverAddr(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{in: "host.example:9", want: "host.example:9", ok: true},
		{in: "host.example", want: "host.example:4433", ok: true},
		{in: "198.18.0.1", want: "198.18.0.1:4433", ok: true},
		{in: "[2001:2::1]:9", want: "[2001:2::1]:9", ok: true},
		{in: "[2001:2::1]", want: "[2001:2::1]:4433", ok: true},
		{in: "2001:2::1"},
		{in: ":9"},
		{in: "dir/file"},
		{in: ""},
	}
	for _, tt := range tests {
		got, err := receiverAddr(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("receiverAddr(%q) = %q, %v, want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "id")
	var stdout, stderr bytes.Buffer
	if code := Main(context.Background(), []string{"keygen", "-o", path}, Env{}, &stdout, &stderr); code != ExitOK {
		t.Fatalf("got exit %d, stderr %q", code, stderr.String())
	}
	key, err := crypto.LoadPrivateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := stdout.String(), key.Public().String()+"\n"; got != want {
		t.Fatalf("got stdout %q, want the public key %q", got, want)
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil || string(pub) != key.Public().String()+"\n" {
		t.Fatalf("got %s.pub %q, %v, want the public key", path, pub, err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("got key file %v, %v, want mode 0600", info, err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := Main(context.Background(), []string{"keygen", "-o", path}, Env{}, &stdout, &stderr); code != ExitError {
		t.Fatalf("second keygen to the same file: got exit %d, want %d", code, ExitError)
	}
	if !strings.Contains(stderr.String(), "already exists") {
		t.Fatalf("got stderr %q, want it to say the file exists", stderr.String())
	}
	if again, err := crypto.LoadPrivateKey(path); err != nil || again != key {
		t.Fatal("second keygen changed the existing key")
	}
}

func TestKeygenDefaultPathFollowsXDG(t *testing.T) {
	xdg := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := Main(context.Background(), []string{"keygen"}, Env{Home: "/nonexistent", XDGConfigHome: xdg}, &stdout, &stderr); code != ExitOK {
		t.Fatalf("got exit %d, stderr %q", code, stderr.String())
	}
	if _, err := crypto.LoadPrivateKey(filepath.Join(xdg, "qsend", "key")); err != nil {
		t.Fatal(err)
	}
}

func TestSenderIdentityIsPersistent(t *testing.T) {
	env := Env{Home: t.TempDir()}
	k1, created, err := senderIdentity(env, "")
	if err != nil || created == "" {
		t.Fatalf("first use: got %v, created %q, want a new key", err, created)
	}
	k2, created, err := senderIdentity(env, "")
	if err != nil || created != "" || k2 != k1 {
		t.Fatalf("second use: got %v, created %q, same key %v; want the same key", err, created, k2 == k1)
	}
}

func TestFECFlag(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want transport.FECConfig
		ok   bool
	}{
		{"auto", transport.FECConfig{}, true},
		{"off", transport.FECConfig{Disable: true}, true},
		{"8+2", transport.FECConfig{GroupSize: 8, Repair: 2}, true},
		{"32+32", transport.FECConfig{GroupSize: 32, Repair: 32}, true},
		{"8+0", transport.FECConfig{}, false},
		{"2+3", transport.FECConfig{}, false},
		{"33+1", transport.FECConfig{}, false},
		{"8", transport.FECConfig{}, false},
		{"true", transport.FECConfig{}, false},
		{"x+y", transport.FECConfig{}, false},
	} {
		var f fecFlag
		err := f.Set(tt.in)
		if (err == nil) != tt.ok || (tt.ok && f.cfg != tt.want) {
			t.Errorf("Set(%q) = %v, %+v; want ok %v, %+v", tt.in, err, f.cfg, tt.ok, tt.want)
		}
	}
}
