// Command qflood runs issue 17's flood harness (package bench/flood): each
// attack in turn against a limpet echo listener in a child process pinned
// to one core, while legitimate clients on the other core measure Dial
// latency, echo round trips and bulk goodput. It prints a markdown table,
// one row per attack after a baseline row with no attack.
//
// By default it runs every attack at the rates, 12 s each, about
// five minutes in all (as root, so the junk Initials can come from spoofed
// sources). -slowloris-bytes 16MiB reproduces the slowloris (1.6
// GiB asked of the server; a minute longer).
//
// Usage:
//
//	qflood [-attacks all|LIST] [-duration 12s] [-warmup 1s] [-rates NAME=N,...]
//	       [-pool 4096] [-fill N] [-max-conns 1000]
//	       [-slowloris-streams 100] [-slowloris-bytes 4MiB]
//	       [-dialers 4] [-dial-interval 50ms] [-dial-timeout 10s] [-echo-interval 10ms]
//	       [-server-cpu 0] [-client-cpu 1] [-label TEXT] [-out FILE]
//
// The attacks are baseline, unknown-key, stale-replay, stale-token,
// retry-abandon, replay-fill, conn-exhaust, slowloris, junk-initials and
// reset-oracle (a check, not a flood); the baseline always runs first.
// The table goes to standard output (and to -out FILE) with the command
// line and the date; progress goes to standard error. qflood exits with
// status 2 on a flag error, 1 if a row failed or the output could not be
// written, and 0 otherwise.
//
// It is a command of its own rather than a mode of qbench because it
// pins its whole process to one core, starts itself again as the server
// (the LIMPET_FLOOD_SERVER environment variable), and has flags of its
// own that share nothing with qbench's matrix.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/limpetnet/limpet/bench"
	"github.com/limpetnet/limpet/bench/flood"
)

func main() {
	if flood.IsServerProcess() {
		os.Exit(flood.Serve(os.Stdin, os.Stdout))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed flags.
type options struct {
	plan  flood.Plan
	label string
	out   string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("qflood", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := flood.DefaultPlan()
	attacks := fs.String("attacks", "all", "comma-separated attacks to run (the baseline always runs first): "+strings.Join(attackNames(), ", "))
	duration := fs.Duration("duration", def.Duration, "measured time per row: two thirds Dials and echoes, one third bulk")
	warmup := fs.Duration("warmup", def.Warmup, "attack time before the measurements start")
	rates := fs.String("rates", "", "per-second rates, overriding the defaults, as name=rate,...: "+formatRates(def.Rates))
	pool := fs.Int("pool", def.Pool, "distinct message 1s each handshake flood cycles through")
	fill := fs.Int("fill", def.FillCount, "most message 1s the replay-fill attacker sends")
	maxConns := fs.Int("max-conns", def.MaxConns, "the server's MaxConns in the conn-exhaust row")
	slowStreams := fs.Int("slowloris-streams", def.SlowlorisStreams, "streams the slowloris attacker opens")
	slowBytes := bench.Size(def.SlowlorisBytes)
	fs.Var(&slowBytes, "slowloris-bytes", "bytes the slowloris attacker writes on each stream")
	dialers := fs.Int("dialers", def.Dialers, "legitimate clients dialing in a loop")
	dialInterval := fs.Duration("dial-interval", def.DialInterval, "pause between one client's Dials")
	dialTimeout := fs.Duration("dial-timeout", def.DialTimeout, "handshake timeout of the legitimate Dials")
	echoInterval := fs.Duration("echo-interval", def.EchoInterval, "pause between echoes")
	serverCPU := fs.Int("server-cpu", def.ServerCPU, "CPU the server is pinned to")
	clientCPU := fs.Int("client-cpu", def.ClientCPU, "CPU the attackers and clients are pinned to")
	label := fs.String("label", "", "title of the table, such as \"before (707ebc1)\"")
	out := fs.String("out", "", "also write the markdown to this file")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	plan := def
	var err error
	if plan.Attacks, err = flood.ParseAttacks(*attacks); err != nil {
		return options{}, fmt.Errorf("-attacks: %w", err)
	}
	if err := flood.ParseRates(*rates, plan.Rates); err != nil {
		return options{}, fmt.Errorf("-rates: %w", err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"duration", *duration}, {"dial-interval", *dialInterval}, {"dial-timeout", *dialTimeout}, {"echo-interval", *echoInterval}} {
		if d.v <= 0 {
			return options{}, fmt.Errorf("-%s %v: want a positive duration", d.name, d.v)
		}
	}
	if *warmup < 0 {
		return options{}, fmt.Errorf("-warmup %v: want 0 or more", *warmup)
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"pool", *pool}, {"fill", *fill}, {"max-conns", *maxConns}, {"slowloris-streams", *slowStreams}, {"dialers", *dialers}} {
		if n.v < 1 {
			return options{}, fmt.Errorf("-%s %d: want at least 1", n.name, n.v)
		}
	}
	if *maxConns < 3 {
		return options{}, fmt.Errorf("-max-conns %d: want at least 3 (the legitimate clients hold 2)", *maxConns)
	}
	if *serverCPU < 0 || *clientCPU < 0 || *serverCPU == *clientCPU {
		return options{}, fmt.Errorf("-server-cpu %d, -client-cpu %d: want two different CPUs", *serverCPU, *clientCPU)
	}
	plan.Duration, plan.Warmup = *duration, *warmup
	plan.Pool, plan.FillCount, plan.MaxConns = *pool, *fill, *maxConns
	plan.SlowlorisStreams, plan.SlowlorisBytes = *slowStreams, int64(slowBytes)
	plan.Dialers, plan.DialInterval, plan.DialTimeout, plan.EchoInterval = *dialers, *dialInterval, *dialTimeout, *echoInterval
	plan.ServerCPU, plan.ClientCPU = *serverCPU, *clientCPU
	return options{plan: plan, label: *label, out: *out}, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "qflood: %v\n", err)
		return 2
	}
	var outFile *os.File
	if o.out != "" {
		if outFile, err = os.Create(o.out); err != nil {
			fmt.Fprintf(stderr, "qflood: -out: %v\n", err)
			return 2
		}
		defer outFile.Close()
	}
	o.plan.Progress = func(format string, args ...any) {
		fmt.Fprintf(stderr, "qflood: "+format+"\n", args...)
	}
	rep := flood.Run(ctx, o.plan)
	rep.Label = o.label
	rep.Command = commandLine(args)
	md := rep.Markdown()
	io.WriteString(stdout, md)
	status := 0
	for _, row := range rep.Rows {
		if row.Err != "" {
			status = 1
		}
	}
	if outFile != nil {
		if _, err := io.WriteString(outFile, md); err != nil {
			fmt.Fprintf(stderr, "qflood: -out: %v\n", err)
			return 1
		}
		if err := outFile.Close(); err != nil {
			fmt.Fprintf(stderr, "qflood: -out: %v\n", err)
			return 1
		}
	}
	return status
}

func attackNames() []string {
	var names []string
	for _, a := range flood.Attacks() {
		names = append(names, string(a))
	}
	return names
}

func formatRates(rates map[flood.Attack]float64) string {
	var parts []string
	for _, a := range flood.Attacks() {
		if r, ok := rates[a]; ok {
			parts = append(parts, fmt.Sprintf("%s=%g", a, r))
		}
	}
	return strings.Join(parts, ",")
}

// commandLine renders the invocation as "qflood args…", for reports.
func commandLine(args []string) string { return bench.CommandLine("qflood", args) }
