// Command qbench compares limpet with TCP (CUBIC and BBR), TLS 1.3 over
// TCP and the other protocols it knows over a matrix of paths: loopback, and
// a 100 Mbit/s link with RTT 10, 50 and 200 ms and 0–3 % loss, bursty loss,
// reordering, NAT rebinding, a client address change and a blackout, path
// MTUs of 1280 and 1420 bytes, jumbo frames, a path MTU that drops
// mid-transfer and rises again (with ICMP, and as a black hole), and a
// CoDel bottleneck that marks ECN, all emulated in Linux network
// namespaces (bench/netlab). It prints markdown tables, and with -out
// writes the JSON results and the SVG plots.
//
// By default it runs the standard matrix, a few minutes: loopback, a clean
// and a 1 %-loss path at RTT 50 ms, and a NAT rebinding. -full runs every
// row with larger transfers and three repetitions (about an hour and a
// half; the 90 s outage rows run once); -quick is a smoke run of under a minute. -full -rows TEXT runs
// the full matrix's rows whose name contains TEXT, such as "MTU" (the path
// MTU rows) or "CoDel", or any of several texts separated by "|".
//
// Usage:
//
//	qbench [-full | -quick | -matrix standard|full|quick|loopback] [-rows TEXT] [-reps 2]
//	       [-size 1GiB] [-bulk 100MiB] [-cap 20s] [-protocols LIST]
//	       [-json FILE] [-out DIR] [-timeout D]
//	qbench -replot FILE.json -out DIR
//
// With -replot it measures nothing: it reads the report of an earlier run
// (its -json file or -out's report.json) and rewrites report.md and the
// plots in DIR.
//
// Before the matrix it runs a limpet self-test: a 1 MiB echo checked by
// SHA-256. The tables go to standard output with the command line and the
// date; progress goes to standard error. Rows that need the network lab
// are skipped, with the reason, when it cannot be built (not root, not
// Linux). A protocol that fails shows it in its cell and the others still
// run. qbench exits with status 2 on a flag error (including a -json file
// or -out directory it cannot create), 1 if writing the results fails at
// the end, and 0 otherwise.
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
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/limpetnet/limpet/bench"
)

const (
	defaultLoopbackSize = 1 << 30
	defaultBulkSize     = 32 << 20
	defaultSmallSize    = 1 << 20
	defaultBulkCap      = 10 * time.Second
	defaultReps         = 2
	fullBulkSize        = 100 << 20
	fullBulkCap         = 20 * time.Second
	fullReps            = 3
	quickLoopbackSize   = 128 << 20
	quickBulkSize       = 16 << 20
	quickBulkCap        = 5 * time.Second
	// selfTestTimeout bounds the self-test, which takes milliseconds when
	// the protocol works.
	selfTestTimeout = 10 * time.Second
	// timelineSamples bounds each disruption run's progress samples in
	// the JSON report (every millisecond would be megabytes); a stall keeps
	// both its ends, so the plots lose nothing a reader could see.
	timelineSamples = 1000
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed flags.
type options struct {
	matrix       string
	paths        []bench.PathSpec
	loopbackSize int64
	bulkSize     int64
	bulkCap      time.Duration
	reps         int
	runners      []bench.Runner
	jsonPath     string
	outDir       string
	runTimeout   time.Duration
	replot       string
	qlogFile     string
	qlogDir      string
}

// parseFlags reads args. Explicit sizes and -reps win over -quick.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("qbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	loopbackSize := bench.Size(defaultLoopbackSize)
	fs.Var(&loopbackSize, "size", "bytes per bulk run on loopback, such as 1GiB, 256MiB or 100MB (MB = 10^6 bytes)")
	bulkSize := bench.Size(defaultBulkSize)
	fs.Var(&bulkSize, "bulk", "bytes per bulk run on emulated paths (stopped at -cap on slow paths)")
	bulkCap := fs.Duration("cap", defaultBulkCap, "time cap on an emulated bulk run; a capped run reports the goodput so far")
	reps := fs.Int("reps", defaultReps, "runs per protocol and transfer, alternating protocols; tables show the median")
	full := fs.Bool("full", false, "every row of the matrix, about an hour and a half: -matrix full -bulk 100MiB -cap 20s -reps 3")
	quick := fs.Bool("quick", false, "smoke run of every kind of row, under a minute: -matrix quick -size 128MiB -bulk 16MiB -cap 5s -reps 1")
	matrix := fs.String("matrix", "standard", "which rows: standard, full, quick or loopback")
	rows := fs.String("rows", "", "run only the rows whose name contains this text (or one of several, separated by |)")
	jsonPath := fs.String("json", "", "also write the report as JSON to this file")
	outDir := fs.String("out", "", "write report.json, report.md and the SVG plots into this directory")
	protocols := fs.String("protocols", strings.Join(bench.Protocols(), ","), "comma-separated protocols to compare")
	timeout := fs.Duration("timeout", 0, "bound on each run (default 20s plus 10 MB/s of the largest size)")
	replotFile := fs.String("replot", "", "measure nothing: rewrite report.md and the plots in -out DIR from this report JSON file")
	qlogFile := fs.String("qlogplot", "", "measure nothing: plot this qlog trace (.sqlog) as FILE.svg, or into -out DIR: congestion window, bytes in flight, RTT and losses over time")
	qlogDir := fs.String("qlog", "", "limpet runs write the qlog traces of both ends of each connection into this directory (plot one with -qlogplot)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *full && *quick {
		return options{}, errors.New("-full and -quick: choose one")
	}
	if *full {
		defaults := map[string]func(){
			"matrix": func() { *matrix = "full" },
			"bulk":   func() { bulkSize = fullBulkSize },
			"cap":    func() { *bulkCap = fullBulkCap },
			"reps":   func() { *reps = fullReps },
		}
		for name, apply := range defaults {
			if !set[name] {
				apply()
			}
		}
	}
	if *quick {
		defaults := map[string]func(){
			"matrix": func() { *matrix = "quick" },
			"size":   func() { loopbackSize = quickLoopbackSize },
			"bulk":   func() { bulkSize = quickBulkSize },
			"cap":    func() { *bulkCap = quickBulkCap },
			"reps":   func() { *reps = 1 },
		}
		for name, apply := range defaults {
			if !set[name] {
				apply()
			}
		}
	}
	if *reps < 1 {
		return options{}, fmt.Errorf("-reps %d: want at least 1", *reps)
	}
	if *timeout < 0 {
		return options{}, fmt.Errorf("-timeout %v: want a positive duration", *timeout)
	}
	if *bulkCap <= 0 {
		return options{}, fmt.Errorf("-cap %v: want a positive duration", *bulkCap)
	}
	if *replotFile != "" && *outDir == "" {
		return options{}, errors.New("-replot needs -out DIR")
	}
	var paths []bench.PathSpec
	switch *matrix {
	case "standard":
		paths = bench.StandardMatrix()
	case "full":
		paths = bench.FullMatrix()
	case "quick":
		paths = bench.QuickMatrix()
	case "loopback":
		paths = []bench.PathSpec{{Name: "loopback", Loopback: true}}
	default:
		return options{}, fmt.Errorf("-matrix %q: want standard, full, quick or loopback", *matrix)
	}
	if *rows != "" {
		var kept []bench.PathSpec
		for _, p := range paths {
			for text := range strings.SplitSeq(*rows, "|") {
				if text != "" && strings.Contains(p.Name, text) {
					kept = append(kept, p)
					break
				}
			}
		}
		if len(kept) == 0 {
			return options{}, fmt.Errorf("-rows %q: no row of the %s matrix matches", *rows, *matrix)
		}
		paths = kept
	}
	runners, err := bench.ParseProtocols(*protocols)
	if err != nil {
		return options{}, fmt.Errorf("-protocols: %w", err)
	}
	o := options{
		matrix: *matrix, paths: paths, loopbackSize: int64(loopbackSize), bulkSize: int64(bulkSize),
		bulkCap: *bulkCap, reps: *reps, runners: runners, jsonPath: *jsonPath, outDir: *outDir, runTimeout: *timeout,
		replot: *replotFile, qlogFile: *qlogFile, qlogDir: *qlogDir,
	}
	if o.runTimeout == 0 {
		o.runTimeout = 20*time.Second + time.Duration(float64(max(o.loopbackSize, o.bulkSize))/(10*bench.MB)*float64(time.Second))
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
	if o.replot != "" {
		return replot(o.replot, o.outDir, stderr)
	}
	if o.qlogFile != "" {
		return plotQlog(o.qlogFile, o.outDir, stderr)
	}
	if o.qlogDir != "" {
		if err := os.MkdirAll(o.qlogDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "qbench: -qlog: %v\n", err)
			return 2
		}
		bench.QlogDir = o.qlogDir
	}
	// The quic-go runner builds its peer program into a temporary directory.
	defer bench.RemovePeerBinaries()
	// Create the outputs now, so that a bad path is a flag error rather
	// than a loss discovered after an hour of measuring.
	var jsonFile *os.File
	if o.jsonPath != "" {
		if jsonFile, err = os.Create(o.jsonPath); err != nil {
			fmt.Fprintf(stderr, "qbench: -json: %v\n", err)
			return 2
		}
		defer jsonFile.Close()
	}
	if o.outDir != "" {
		if err := os.MkdirAll(o.outDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "qbench: -out: %v\n", err)
			return 2
		}
	}
	var protocols []string
	for _, r := range o.runners {
		protocols = append(protocols, r.Protocol)
	}
	report := bench.Report{
		Command:      commandLine(args),
		Date:         time.Now().UTC().Truncate(time.Second),
		GoVersion:    runtime.Version(),
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
		CPUs:         runtime.NumCPU(),
		GOMAXPROCS:   runtime.GOMAXPROCS(0),
		LoadAverage:  loadAverage(),
		LoopbackSize: o.loopbackSize,
		BulkSize:     o.bulkSize,
		SmallSize:    defaultSmallSize,
		BulkCap:      o.bulkCap,
		Reps:         o.reps,
		Protocols:    protocols,
	}

	fmt.Fprintf(stderr, "qbench: self-test (limpet, %s echo)\n", bench.FormatSize(bench.SelfTestSize))
	stCtx, cancel := context.WithTimeout(ctx, selfTestTimeout)
	report.SelfTest = bench.SelfTest(stCtx)
	cancel()
	fmt.Fprintln(stderr, "qbench:", report.SelfTest)

	report.Paths = bench.RunMatrix(ctx, bench.MatrixPlan{
		Paths:            o.paths,
		Runners:          o.runners,
		Reps:             o.reps,
		SmallSize:        defaultSmallSize,
		BulkSize:         o.bulkSize,
		BulkCap:          o.bulkCap,
		LoopbackBulkSize: o.loopbackSize,
		RunTimeout:       o.runTimeout,
		Seed:             1,
		Progress: func(format string, args ...any) {
			fmt.Fprintf(stderr, "qbench: "+format+"\n", args...)
		},
	})

	var md strings.Builder
	writeMarkdown(&md, report)
	io.WriteString(stdout, md.String())
	report.ThinTimelines(timelineSamples)
	if jsonFile != nil {
		if err := writeJSON(jsonFile, report); err != nil {
			fmt.Fprintf(stderr, "qbench: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "qbench: wrote %s\n", o.jsonPath)
	}
	if o.outDir != "" {
		if err := writeOutDir(o.outDir, report, md.String()); err != nil {
			fmt.Fprintf(stderr, "qbench: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "qbench: wrote the report and plots to %s\n", o.outDir)
	}
	return 0
}

// writeOutDir writes report.json, report.md and the plots.
func writeOutDir(dir string, r bench.Report, md string) error {
	f, err := os.Create(filepath.Join(dir, "report.json"))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := writeJSON(f, r); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md), 0o644); err != nil {
		return err
	}
	return writePlots(dir, r)
}

func writeMarkdown(w io.Writer, r bench.Report) {
	fmt.Fprintf(w, "## qbench, %s\n\n", r.Date.Format("2006-01-02 15:04:05 UTC"))
	fmt.Fprintf(w, "`%s`  \n", r.Command)
	fmt.Fprintf(w, "%s %s, %d CPUs, GOMAXPROCS %d", r.GoVersion, r.Platform, r.CPUs, r.GOMAXPROCS)
	if r.LoadAverage != "" {
		fmt.Fprintf(w, ", load average %s", r.LoadAverage)
	}
	fmt.Fprintf(w, "; client→server; bulk transfers of %s on loopback and %s on emulated paths (stopped after %v), and %s transfers; %d run(s) per protocol and transfer, protocols alternating.  \n",
		bench.FormatSize(r.LoopbackSize), bench.FormatSize(r.BulkSize), r.BulkCap, bench.FormatSize(r.SmallSize), r.Reps)
	fmt.Fprintf(w, "%s\n\n", r.SelfTest)
	io.WriteString(w, bench.FormatMatrixMarkdown(r.Paths, r.Protocols))
	io.WriteString(w, "\nGoodput: bytes the server application read per second of the bulk transfer (Mbit/s = 10^6 bits/s), median and min–max over the runs; "+
		"a run stopped by the time cap counts the bytes read until then. Times run from the start of the dial (handshake included) to the server's last byte; "+
		"time to first byte ends at the server's first byte. CPU s/GiB: user+sys time of the whole process per GiB moved (client and server, or both peer processes for quic-go). "+
		"On emulated paths the link runs in a process of its own, whose CPU is not counted. "+
		"Emulated paths: a userspace link between the client and router namespaces with half the RTT of delay each way, a drop-tail queue of one bandwidth-delay product, and the loss in each direction; "+
		"on the CoDel row the queue is managed by CoDel (RFC 8289: 5 ms target, 100 ms interval), which marks ECN-capable packets CE and drops the others, behind a drop-tail limit of four RTTs. "+
		"Path MTU rows: an n-MTU tunnel makes the router forward at most n-byte packets and answer longer ones with ICMP; a jumbo link has every link at 9000 bytes; MTU sizes are of IP packets, limpet's datagram size of UDP payloads (28 bytes less over IPv4). "+
		"Congestion control: tcp-cubic and tcp-bbr set it per socket; tls runs over the kernel's default (BBR on this machine), quic-go over its own CUBIC, limpet over its CUBIC with HyStart++ and pacing.\n")
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

// commandLine renders the invocation as "qbench args…", for reports.
func commandLine(args []string) string { return bench.CommandLine("qbench", args) }
