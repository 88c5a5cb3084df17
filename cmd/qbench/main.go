// Command qbench compares limpet's bulk-transfer throughput and CPU cost
// with TCP (CUBIC and BBR) and TLS 1.3 over TCP, all over loopback inside
// one process, and prints a markdown table.
//
// Usage:
//
//	qbench [-size 1GiB] [-reps 3] [-quick] [-json FILE] [-protocols tcp-cubic,tcp-bbr,tls,limpet] [-timeout D]
//
// Before the comparison it runs a limpet self-test: a 1 MiB echo checked by
// SHA-256. The table goes to standard output with the command line and the
// date; progress goes to standard error. A protocol that fails shows its
// error in its row and the others still run. qbench exits with status 2 on
// a flag error (including a -json file it cannot create), 1 if writing the
// created -json file fails at the end, and 0 otherwise.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"time"

	"github.com/limpetnet/limpet/bench"
)

const (
	defaultSize = 1 << 30
	quickSize   = 128 << 20
	// selfTestTimeout bounds the self-test, which takes milliseconds when
	// the protocol works.
	selfTestTimeout = 10 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed flags.
type options struct {
	size       int64
	reps       int
	runners    []bench.Runner
	jsonPath   string
	runTimeout time.Duration
}

// parseFlags reads args. Explicit -size and -reps win over -quick.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("qbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	size := bench.Size(defaultSize)
	fs.Var(&size, "size", "bytes per run, such as 1GiB, 256MiB or 100MB (MB = 10^6 bytes)")
	reps := fs.Int("reps", 3, "runs per protocol, alternating protocols; the table shows the median")
	quick := fs.Bool("quick", false, "smoke run: -size 128MiB -reps 1, under a minute")
	jsonPath := fs.String("json", "", "also write every result and the summary as JSON to this file")
	protocols := fs.String("protocols", strings.Join(bench.Protocols(), ","), "comma-separated protocols to compare")
	timeout := fs.Duration("timeout", 0, "bound on each run (default 20s plus 10 MB/s of the size)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		if !set["size"] {
			size = quickSize
		}
		if !set["reps"] {
			*reps = 1
		}
	}
	if *reps < 1 {
		return options{}, fmt.Errorf("-reps %d: want at least 1", *reps)
	}
	if *timeout < 0 {
		return options{}, fmt.Errorf("-timeout %v: want a positive duration", *timeout)
	}
	runners, err := bench.ParseProtocols(*protocols)
	if err != nil {
		return options{}, fmt.Errorf("-protocols: %w", err)
	}
	o := options{size: int64(size), reps: *reps, runners: runners, jsonPath: *jsonPath, runTimeout: *timeout}
	if o.runTimeout == 0 {
		o.runTimeout = 20*time.Second + time.Duration(float64(o.size)/(10*bench.MB)*float64(time.Second))
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "qbench: %v\n", err)
		return 2
	}
	// Create the -json file now, so that a bad path is a flag error rather
	// than a loss discovered after minutes of measuring.
	var jsonFile *os.File
	if o.jsonPath != "" {
		if jsonFile, err = os.Create(o.jsonPath); err != nil {
			fmt.Fprintf(stderr, "qbench: -json: %v\n", err)
			return 2
		}
		defer jsonFile.Close()
	}
	report := bench.Report{
		Command:     commandLine(args),
		Date:        time.Now().UTC().Truncate(time.Second),
		GoVersion:   runtime.Version(),
		Platform:    runtime.GOOS + "/" + runtime.GOARCH,
		CPUs:        runtime.NumCPU(),
		GOMAXPROCS:  runtime.GOMAXPROCS(0),
		LoadAverage: loadAverage(),
		Size:        o.size,
		Reps:        o.reps,
	}

	fmt.Fprintf(stderr, "qbench: self-test (limpet, %s echo)\n", bench.FormatSize(bench.SelfTestSize))
	stCtx, cancel := context.WithTimeout(ctx, selfTestTimeout)
	report.SelfTest = bench.SelfTest(stCtx)
	cancel()
	fmt.Fprintln(stderr, "qbench:", report.SelfTest)

	report.Results = bench.Compare(ctx, bench.Plan{
		Runners:    o.runners,
		Size:       o.size,
		Reps:       o.reps,
		RunTimeout: o.runTimeout,
		OnStart: func(rep int, protocol string) {
			fmt.Fprintf(stderr, "qbench: [%d/%d] %s: moving %s\n", rep+1, o.reps, protocol, bench.FormatSize(o.size))
		},
		OnResult: func(rep int, r bench.Result) {
			fmt.Fprintf(stderr, "qbench: [%d/%d] %v\n", rep+1, o.reps, r)
		},
	})
	report.Summary = bench.Summarize(report.Results)

	writeMarkdown(stdout, report)
	if jsonFile != nil {
		if err := writeJSON(jsonFile, report); err != nil {
			fmt.Fprintf(stderr, "qbench: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "qbench: wrote %s\n", o.jsonPath)
	}
	return 0
}

func writeMarkdown(w io.Writer, r bench.Report) {
	fmt.Fprintf(w, "## qbench, %s\n\n", r.Date.Format("2006-01-02 15:04:05 UTC"))
	fmt.Fprintf(w, "`%s`  \n", r.Command)
	fmt.Fprintf(w, "%s %s, %d CPUs, GOMAXPROCS %d", r.GoVersion, r.Platform, r.CPUs, r.GOMAXPROCS)
	if r.LoadAverage != "" {
		fmt.Fprintf(w, ", load average %s", r.LoadAverage)
	}
	fmt.Fprintf(w, "; %s per run, client→server over loopback in one process; %d run(s) per protocol, protocols alternating.  \n",
		bench.FormatSize(r.Size), r.Reps)
	fmt.Fprintf(w, "%s\n\n", r.SelfTest)
	io.WriteString(w, bench.FormatMarkdown(r.Summary))
	io.WriteString(w, "\nMB/s: median, MB = 10^6 bytes; range is min–max over the runs. "+
		"Time runs from the start of the dial to the server having read the last byte. "+
		"CPU s/GiB: user+sys time of the whole process (client and server) per GiB moved. "+
		"TTFB: dial start to the server's first byte. "+
		"Ratios: this row's median over the tcp-cubic or tls median of this same run.\n")
}

func writeJSON(f *os.File, r bench.Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("writing -json file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing -json file: %w", err)
	}
	return nil
}

// loadAverage returns the 1, 5 and 15 minute load averages, or "" where
// /proc/loadavg does not exist.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	fields := strings.Fields(string(b))
	if len(fields) < 3 {
		return ""
	}
	return strings.Join(fields[:3], " ")
}

// commandLine renders the invocation as "qbench args…", quoting arguments
// that a shell would split, so it can be pasted back.
func commandLine(args []string) string {
	parts := []string{"qbench"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`|&;<>()*?[]{}!#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
