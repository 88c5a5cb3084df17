package flood

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// setProcessAffinity sets the CPU affinity of every thread of this
// process. Threads the runtime starts later inherit it from the thread
// that starts them.
func setProcessAffinity(set *unix.CPUSet) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		// A thread that exited meanwhile is no error.
		if err := unix.SchedSetaffinity(tid, set); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("pinning thread %d: %w", tid, err)
		}
	}
	return nil
}

// pinProcess pins every thread of this process to cpu and returns a
// function that gives them back the affinity they had.
func pinProcess(cpu int) (restore func(), err error) {
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return nil, fmt.Errorf("reading CPU affinity: %w", err)
	}
	set.Set(cpu)
	if err := setProcessAffinity(&set); err != nil {
		setProcessAffinity(&old)
		return nil, err
	}
	return func() { setProcessAffinity(&old) }, nil
}

// startOnCPU starts cmd pinned to cpu. A child inherits the affinity of
// the thread that forks it, so startOnCPU forks from a thread pinned to
// cpu for the moment; the child's Go runtime then sees one processor from
// its start (GOMAXPROCS 1), as under taskset. Afterwards every thread of
// this process gets its affinity back, in case the runtime started one
// from the borrowed thread meanwhile.
func startOnCPU(cmd *exec.Cmd, cpu int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var mine, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &mine); err != nil {
		return fmt.Errorf("reading CPU affinity: %w", err)
	}
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pinning to CPU %d: %w", cpu, err)
	}
	err := cmd.Start()
	if rerr := setProcessAffinity(&mine); rerr != nil && err == nil {
		err = rerr
	}
	return err
}
