package wire

import (
	"errors"
	"strings"
	"testing"
)

func TestValidatePath(t *testing.T) {
	tests := []struct {
		desc string
		path string
		ok   bool
	}{
		{desc: "plain name", path: "a.txt", ok: true},
		{desc: "nested", path: "dir/sub/file.bin", ok: true},
		{desc: "dots inside names", path: "a..b/.hidden/..c", ok: true},
		{desc: "unicode", path: "données/résumé.pdf", ok: true},
		{desc: "spaces", path: "my dir/my file", ok: true},
		{desc: "state dir deeper down is an ordinary name", path: "x/.qsend", ok: true},
		{desc: "longest component", path: strings.Repeat("n", MaxComponentLen), ok: true},
		{desc: "empty", path: ""},
		{desc: "absolute", path: "/etc/passwd"},
		{desc: "parent", path: ".."},
		{desc: "parent prefix", path: "../evil"},
		{desc: "parent in the middle", path: "a/../../b"},
		{desc: "parent at the end", path: "a/.."},
		{desc: "dot", path: "."},
		{desc: "dot component", path: "a/./b"},
		{desc: "trailing slash", path: "a/"},
		{desc: "double slash", path: "a//b"},
		{desc: "NUL", path: "a\x00b"},
		{desc: "newline", path: "a\nb"},
		{desc: "escape", path: "a\x1b[2Jb"},
		{desc: "DEL", path: "a\x7fb"},
		{desc: "C1 control", path: "a\u009bb"},
		{desc: "backslash", path: `a\..\..\b`},
		{desc: "invalid UTF-8", path: "a\xffb"},
		{desc: "state dir", path: ".qsend"},
		{desc: "inside state dir", path: ".qsend/partial"},
		{desc: "component too long", path: strings.Repeat("n", MaxComponentLen+1)},
		{desc: "path too long", path: strings.Repeat("abcdefg/", MaxPathLen/8) + "x"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			err := ValidatePath(tt.path)
			if tt.ok && err != nil {
				t.Fatalf("ValidatePath(%q) = %v, want nil", tt.path, err)
			}
			if !tt.ok && !errors.Is(err, ErrBadPath) {
				t.Fatalf("ValidatePath(%q) = %v, want ErrBadPath", tt.path, err)
			}
		})
	}
}

func TestValidatePathMessageIsOneShortLine(t *testing.T) {
	err := ValidatePath(strings.Repeat("../", 2000))
	if err == nil {
		t.Fatal("got nil error for a hostile path")
	}
	if msg := err.Error(); len(msg) > 200 || strings.ContainsAny(msg, "\n\r") {
		t.Fatalf("got message of %d bytes %q, want one line under 200 bytes", len(msg), msg)
	}
}

func TestComparePathsPutsDescendantsFirst(t *testing.T) {
	tests := []struct {
		desc string
		a, b string
		want int // sign
	}{
		{desc: "parent before child", a: "a", b: "a/b", want: -1},
		{desc: "child before sibling with lower byte", a: "a/b", b: "a-b", want: -1},
		{desc: "child before sibling with higher byte", a: "a/z", b: "a0", want: -1},
		{desc: "equal", a: "x/y", b: "x/y", want: 0},
		{desc: "ordinary order", a: "b", b: "a", want: 1},
	}
	for _, tt := range tests {
		got := comparePaths(tt.a, tt.b)
		if sign(got) != tt.want {
			t.Errorf("%s: comparePaths(%q, %q) = %d, want sign %d", tt.desc, tt.a, tt.b, got, tt.want)
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
