package netlab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ErrMissingTool is matched by errors.Is when a program the lab needs is not
// installed.
var ErrMissingTool = errors.New("netlab: required program not installed")

// MissingToolError names a program the lab needs and the Debian package that
// provides it, so that the error message says exactly what to install.
type MissingToolError struct {
	Tool    string
	Package string
}

// Error says which program is missing and how to install it.
func (e *MissingToolError) Error() string {
	return fmt.Sprintf("netlab: %q not found in PATH, /usr/sbin or /sbin; install the Debian package %s (apt-get install -y %s)",
		e.Tool, e.Package, e.Package)
}

// Is makes errors.Is(err, ErrMissingTool) true for every MissingToolError.
func (e *MissingToolError) Is(target error) bool {
	return target == ErrMissingTool
}

// tools holds the absolute paths of the programs the lab runs. They are
// resolved once per lab so that a PATH without /usr/sbin (common for
// non-login shells and CI scripts) still finds them.
type tools struct {
	ip, nft, conntrack, ethtool, tc string
}

// requiredTools lists each program with the Debian package that ships it.
var requiredTools = []struct {
	name, pkg string
	field     func(*tools) *string
}{
	{"ip", "iproute2", func(t *tools) *string { return &t.ip }},
	{"tc", "iproute2", func(t *tools) *string { return &t.tc }},
	{"nft", "nftables", func(t *tools) *string { return &t.nft }},
	{"conntrack", "conntrack", func(t *tools) *string { return &t.conntrack }},
	{"ethtool", "ethtool", func(t *tools) *string { return &t.ethtool }},
}

// findTools resolves every required program, returning one
// MissingToolError per missing program joined together.
func findTools() (tools, error) {
	var found tools
	var missing []error
	for _, rt := range requiredTools {
		path, err := lookTool(rt.name)
		if err != nil {
			missing = append(missing, &MissingToolError{Tool: rt.name, Package: rt.pkg})
			continue
		}
		*rt.field(&found) = path
	}
	return found, errors.Join(missing...)
}

// lookTool finds name in PATH and then in the system directories that
// root's PATH usually has but a test runner's may not.
func lookTool(name string) (string, error) {
	if path, err := exec.LookPath(name); err == nil {
		return path, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		path := filepath.Join(dir, name)
		if info, err := os.Stat(path); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return path, nil
		}
	}
	return "", exec.ErrNotFound
}
