package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrUnknownProtocol reports a protocol name ParseProtocols does not know.
var ErrUnknownProtocol = errors.New("bench: unknown protocol")

// Protocols returns every protocol name in the order Compare alternates
// them: the two TCP baselines, TLS, quic-go, then limpet as it comes, with
// BBR, with FEC off, and with fixed FEC.
func Protocols() []string {
	return []string{ProtocolTCPCubic, ProtocolTCPBBR, ProtocolTLS, ProtocolQuicGo, ProtocolLimpet, ProtocolLimpetBBR, ProtocolLimpetNoFEC, ProtocolLimpetFEC}
}

// protocolOrder is every protocol NewRunner knows, in alternation order:
// Protocols, with tcp-cubic-ecn after tcp-cubic and limpet-noecn after
// limpet, which run only where asked for.
func protocolOrder() []string {
	order := Protocols()
	order = slices.Insert(order, slices.Index(order, ProtocolTCPCubic)+1, ProtocolTCPCubicECN)
	return slices.Insert(order, slices.Index(order, ProtocolLimpet)+1, ProtocolLimpetNoECN)
}

// Runner measures one transfer of size bytes with one protocol over a
// Network.
type Runner struct {
	Protocol string
	Run      func(ctx context.Context, nw Network, size int64) Result
}

// NewRunner returns the Runner for a protocol name, or an error wrapping
// ErrUnknownProtocol.
func NewRunner(protocol string) (Runner, error) {
	var run func(context.Context, Network, int64) Result
	switch protocol {
	case ProtocolTCPCubic:
		run = func(ctx context.Context, nw Network, size int64) Result { return RunTCP(ctx, nw, size, "cubic") }
	case ProtocolTCPBBR:
		run = func(ctx context.Context, nw Network, size int64) Result { return RunTCP(ctx, nw, size, "bbr") }
	case ProtocolTCPCubicECN:
		run = func(ctx context.Context, nw Network, size int64) Result { return RunTCPECN(ctx, nw, size, "cubic") }
	case ProtocolTLS:
		run = RunTLS
	case ProtocolQuicGo:
		run = RunQuicGo
	case ProtocolLimpet:
		run = RunLimpet
	case ProtocolLimpetFEC:
		run = RunLimpetFEC
	case ProtocolLimpetNoFEC:
		run = RunLimpetNoFEC
	case ProtocolLimpetBBR:
		run = RunLimpetBBR
	case ProtocolLimpetNoECN:
		run = RunLimpetNoECN
	default:
		return Runner{}, fmt.Errorf("%w %q (want one of %s)", ErrUnknownProtocol, protocol, strings.Join(protocolOrder(), ", "))
	}
	return Runner{Protocol: protocol, Run: run}, nil
}

// ParseProtocols turns a comma-separated list such as "tls,tcp-cubic" into
// Runners in the canonical alternation order of Protocols, whatever order
// the list names them in. Empty names, duplicates and unknown names are
// errors.
func ParseProtocols(list string) ([]Runner, error) {
	var names []string
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
			return nil, fmt.Errorf("bench: empty protocol name in %q", list)
		case slices.Contains(names, name):
			return nil, fmt.Errorf("bench: protocol %q named twice", name)
		}
		names = append(names, name)
	}
	order := protocolOrder()
	var runners []Runner
	for _, name := range names {
		r, err := NewRunner(name)
		if err != nil {
			return nil, err
		}
		runners = append(runners, r)
	}
	slices.SortStableFunc(runners, func(a, b Runner) int {
		return slices.Index(order, a.Protocol) - slices.Index(order, b.Protocol)
	})
	return runners, nil
}

// Plan is one comparison: which protocols, how many bytes each run moves,
// and how many times each protocol runs.
type Plan struct {
	Runners []Runner
	// Network is where the transfers run; nil means Loopback.
	Network Network
	Size    int64
	Reps    int
	// RunTimeout bounds each run; a run that exceeds it becomes an error
	// row and the comparison goes on. Zero means no bound.
	RunTimeout time.Duration
	// TimeCap, if set, stops a run after this long and keeps it as a
	// measurement of the bytes delivered so far (Result.Capped): on a
	// lossy long path a fixed size could take an hour for TCP.
	TimeCap time.Duration
	// OnStart and OnResult, if set, are called before and after each run
	// (rep counts from 0), for progress reports.
	OnStart  func(rep int, protocol string)
	OnResult func(rep int, r Result)
}

// Compare runs the plan: every runner once in order, then again, Reps
// times, so that a machine's slow drifts spread evenly over the protocols
// instead of favouring whichever ran first. It stops early, returning the
// results so far, when ctx is done.
func Compare(ctx context.Context, p Plan) []Result {
	results := make([]Result, 0, len(p.Runners)*max(p.Reps, 0))
	for rep := range p.Reps {
		for _, runner := range p.Runners {
			if ctx.Err() != nil {
				return results
			}
			if p.OnStart != nil {
				p.OnStart(rep, runner.Protocol)
			}
			r := runOne(ctx, runner, p.network(), p.Size, p.RunTimeout, p.TimeCap)
			results = append(results, r)
			if p.OnResult != nil {
				p.OnResult(rep, r)
			}
		}
	}
	return results
}

func (p Plan) network() Network {
	if p.Network == nil {
		return Loopback
	}
	return p.Network
}

func runOne(ctx context.Context, runner Runner, nw Network, size int64, timeout, timeCap time.Duration) Result {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	runCtx := ctx
	if timeCap > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeoutCause(ctx, timeCap, errTimeCap)
		defer cancel()
	}
	r := runner.Run(runCtx, nw, size)
	r.Protocol = runner.Protocol
	if timeCap > 0 && !r.OK() && ctx.Err() == nil && errors.Is(context.Cause(runCtx), errTimeCap) && r.Bytes > 0 {
		r.Capped, r.Err, r.cause = true, "", nil
		r.complete(time.Duration(r.Seconds*float64(time.Second)), r.partialCPU)
	}
	return r
}

// errTimeCap is the cause of a run stopped by Plan.TimeCap.
var errTimeCap = errors.New("bench: time cap reached")
