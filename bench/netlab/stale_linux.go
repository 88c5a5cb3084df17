package netlab

import (
	"os"
	"regexp"
	"strconv"

	"golang.org/x/sys/unix"
)

// labNamePattern matches the namespace names New creates: "lp", the
// creating process's pid, "n", a counter, and the side.
var labNamePattern = regexp.MustCompile(`^lp([0-9]+)n[0-9]+-(client|router|server)$`)

// sweepStaleLabs deletes namespaces left behind by lab processes that no
// longer exist, such as a test binary killed by a timeout before its
// cleanups ran. Namespaces of live processes are never touched. It is best
// effort: a failure here must not stop a new lab from being built.
func sweepStaleLabs(t tools) {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	var stale []string
	for _, e := range entries {
		m := labNamePattern.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if unix.Kill(pid, 0) == unix.ESRCH {
			stale = append(stale, e.Name())
		}
	}
	_ = deleteNamespaces(t.ip, stale)
}
