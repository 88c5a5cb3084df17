package flood

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: the kernel
// reports them in USER_HZ ticks, 100 a second on every Linux ABI.
const userHZ = 100

// procSample is what /proc says about a process at one moment.
type procSample struct {
	cpu time.Duration // user + system time, all threads
	rss int64         // resident set now (VmRSS), bytes
	hwm int64         // peak resident set (VmHWM), bytes
}

// readProc samples process pid from /proc.
func readProc(pid int) (procSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procSample{}, err
	}
	var s procSample
	if s.cpu, err = parseStatCPU(string(stat)); err != nil {
		return s, err
	}
	if s.rss, err = parseStatusBytes(string(status), "VmRSS"); err != nil {
		return s, err
	}
	if s.hwm, err = parseStatusBytes(string(status), "VmHWM"); err != nil {
		return s, err
	}
	return s, nil
}

// parseStatCPU returns utime+stime from a /proc/PID/stat line (fields 14
// and 15 of proc(5)). The command name, field 2, is in parentheses and may
// hold spaces and parentheses itself, so fields are counted from the last
// ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat %q: no command name", stat)
	}
	// After ") ": field 3 (state) is fields[0], so field n is fields[n-3].
	fields := strings.Fields(stat[i+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the name, want at least 13", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: CPU time %q: %w", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// parseStatusBytes returns a "Name:   1234 kB" field of /proc/PID/status
// in bytes.
func parseStatusBytes(status, name string) (int64, error) {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, name+":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("/proc status %s: %q: want a number of kB", name, strings.TrimSpace(rest))
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc status %s: %w", name, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("/proc status: no %s", name)
}
