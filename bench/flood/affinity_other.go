//go:build !linux

package flood

import (
	"errors"
	"os/exec"
)

var errNoAffinity = errors.New("CPU pinning needs Linux")

func pinProcess(cpu int) (restore func(), err error) { return nil, errNoAffinity }

func startOnCPU(cmd *exec.Cmd, cpu int) error { return errNoAffinity }
