package qsend

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/limpetnet/limpet/cmd/qsend/internal/wire"
)

func TestBuildManifest(t *testing.T) {
	base := t.TempDir()
	mk := func(rel string, data string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(base, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	mk("tree/a.txt", "aaa", 0o640)
	mk("tree/sub/b.txt", "b", 0o600)
	mk("single.bin", "xyz", 0o644)
	if err := os.Mkdir(filepath.Join(base, "tree", "empty"), 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(base, "tree", "empty"), 0o711); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"tree", "tree/sub"} {
		if err := os.Chmod(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(base, "tree", "link")); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	warn := func(format string, args ...any) { warnings = append(warnings, format) }
	got, err := buildManifest([]string{filepath.Join(base, "tree") + "/", filepath.Join(base, "single.bin")}, warn)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		path string
		kind wire.Kind
		mode os.FileMode
		size int64
	}
	var rows []row
	for _, e := range got {
		rows = append(rows, row{e.Path, e.Kind, e.Mode, e.Size})
	}
	want := []row{
		{"tree", wire.KindDir, 0o755, 0},
		{"tree/a.txt", wire.KindFile, 0o640, 3},
		{"tree/empty", wire.KindDir, 0o711, 0},
		{"tree/sub", wire.KindDir, 0o755, 0},
		{"tree/sub/b.txt", wire.KindFile, 0o600, 1},
		{"single.bin", wire.KindFile, 0o644, 3},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("got entries\n%v\nwant\n%v", rows, want)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "symbolic link") {
		t.Fatalf("got warnings %q, want one about the symbolic link", warnings)
	}
}

func TestBuildManifestRefuses(t *testing.T) {
	base := t.TempDir()
	for _, rel := range []string{"a/x", "b/x", "bad\nname"} {
		p := filepath.Join(base, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		desc string
		args []string
		want string
	}{
		{desc: "missing", args: []string{filepath.Join(base, "nope")}, want: "nope: no such file or directory"},
		{desc: "same name twice", args: []string{filepath.Join(base, "a/x"), filepath.Join(base, "b/x")}, want: "would both arrive as x"},
		{desc: "name a receiver would refuse", args: []string{filepath.Join(base, "bad\nname")}, want: "control character"},
		{desc: "root", args: []string{"/"}, want: "file system root"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := buildManifest(tt.args, func(string, ...any) {})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if exitCode(err) != ExitError {
				t.Fatalf("got exit status %d, want %d", exitCode(err), ExitError)
			}
		})
	}
}
