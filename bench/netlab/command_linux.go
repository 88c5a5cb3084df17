package netlab

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
)

// hostSide marks a command that runs in the test process's own namespace
// (creating and deleting the lab's namespaces and veth pairs).
const hostSide Side = -1

// run executes program inside side's namespace (or in the host namespace
// for hostSide). The child inherits the namespace of the locked thread that
// forks it, which is cheaper than `ip netns exec` and leaves mounts alone.
func (l *Lab) run(side Side, stdin, program string, args ...string) error {
	if side == hostSide {
		return runProgram(stdin, program, args...)
	}
	if err := l.In(side, func() error { return runProgram(stdin, program, args...) }); err != nil {
		return fmt.Errorf("in %s: %w", l.names[side], err)
	}
	return nil
}

// runProgram executes program with args, feeding it stdin, and returns an
// error that carries the program's output and input, since nft and ip
// explain their failures only there.
func runProgram(stdin, program string, args ...string) error {
	cmd := exec.Command(program, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		detail := ""
		if o := strings.TrimSpace(out.String()); o != "" {
			detail += ": " + o
		}
		if stdin != "" {
			detail += "\ninput:\n" + stdin
		}
		return fmt.Errorf("netlab: %s %s: %w%s", program, strings.Join(args, " "), err, detail)
	}
	return nil
}
