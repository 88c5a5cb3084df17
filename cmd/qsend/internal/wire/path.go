package wire

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Limits on a path. Linux allows 4096 bytes per path and 255 per name; a
// path that fits here fits there.
const (
	MaxPathLen      = 4096
	MaxComponentLen = 255
)

// StateDir is the directory, directly under the receiving directory, where a
// receiver keeps partial files and their resume records. No entry may name
// it, so a sender can neither read nor overwrite another sender's partials.
const StateDir = ".qsend"

// ErrBadPath matches (errors.Is) every path ValidatePath refuses.
var ErrBadPath = errors.New("unsafe path")

// ValidatePath reports whether p may name an entry under the receiving
// directory. It accepts only relative, slash-separated paths of plain names:
// no leading or trailing slash, no empty, "." or ".." component, no NUL,
// backslash or other control character, valid UTF-8, and not StateDir or
// anything inside it. Together with os.Root on the receiver, which refuses
// symbolic links that lead out of the directory, this keeps a malicious
// sender from writing anywhere else.
func ValidatePath(p string) error {
	if err := validatePath(p); err != nil {
		return fmt.Errorf("%w %q: %s", ErrBadPath, truncateForMessage(p), err)
	}
	return nil
}

func validatePath(p string) error {
	switch {
	case p == "":
		return errors.New("empty")
	case len(p) > MaxPathLen:
		return fmt.Errorf("longer than %d bytes", MaxPathLen)
	case !utf8.ValidString(p):
		return errors.New("not valid UTF-8")
	case strings.HasPrefix(p, "/"):
		return errors.New("absolute")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return errors.New("control character")
		}
		if r == '\\' {
			return errors.New("backslash (not portable, and a separator on Windows)")
		}
	}
	for i, name := range strings.Split(p, "/") {
		switch {
		case name == "":
			return errors.New("empty component (double or trailing slash)")
		case name == "." || name == "..":
			return fmt.Errorf("%q component", name)
		case len(name) > MaxComponentLen:
			return fmt.Errorf("component longer than %d bytes", MaxComponentLen)
		case i == 0 && name == StateDir:
			return fmt.Errorf("%s is the receiver's own state directory", StateDir)
		}
	}
	// Belt and braces: whatever the checks above missed, the local form must
	// stay inside the directory on this operating system too.
	if !filepath.IsLocal(filepath.FromSlash(p)) {
		return errors.New("not local")
	}
	return nil
}

// truncateForMessage keeps error messages one short line even for a
// 4096-byte hostile path.
func truncateForMessage(p string) string {
	const max = 80
	if len(p) <= max {
		return p
	}
	return p[:max] + "…"
}
