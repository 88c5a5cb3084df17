package bench

import (
	"context"
	"slices"
	"time"
)

// MatrixPlan is a run of the scenario matrix.
type MatrixPlan struct {
	Paths   []PathSpec
	Runners []Runner
	// Reps is how many times each protocol runs each transfer of a row,
	// alternating protocols.
	Reps int
	// SmallSize is the short transfer whose completion time (handshake
	// included) a row reports; BulkSize the long one whose goodput it
	// reports, stopped at BulkCap on paths too slow to finish it.
	SmallSize, BulkSize int64
	BulkCap             time.Duration
	// LoopbackBulkSize replaces BulkSize on loopback, where 100 MiB takes
	// a few tens of milliseconds.
	LoopbackBulkSize int64
	// RunTimeout bounds every single run (default: BulkCap plus a minute).
	RunTimeout time.Duration
	// Seed makes the emulated links' losses repeatable.
	Seed uint64
	// Progress, if set, receives one line per step.
	Progress func(format string, args ...any)
}

// PathResult is what one row of the matrix measured.
type PathResult struct {
	Path PathSpec `json:"path"`
	// Skipped says why the row did not run (no root for namespaces, not
	// Linux); empty when it ran.
	Skipped string `json:"skipped,omitempty"`
	// Small and Bulk are every run of the two transfers, with their
	// per-protocol summaries.
	Small        []Result  `json:"small,omitempty"`
	Bulk         []Result  `json:"bulk,omitempty"`
	SmallSummary []Summary `json:"small_summary,omitempty"`
	BulkSummary  []Summary `json:"bulk_summary,omitempty"`
	// Disruptions are the runs of a migration row.
	Disruptions []DisruptionResult `json:"disruptions,omitempty"`
	// Fairness are the runs of a fairness row.
	Fairness []FairnessResult `json:"fairness,omitempty"`
	// RequestResponse are the runs of a request/response row.
	RequestResponse []RequestResponseResult `json:"request_response,omitempty"`
}

func (p *MatrixPlan) progress(format string, args ...any) {
	if p.Progress != nil {
		p.Progress(format, args...)
	}
}

// requestResponseProtocols are the protocols of RequestResponseProtocols
// the plan runs.
func (p *MatrixPlan) requestResponseProtocols() []string {
	var out []string
	for _, proto := range RequestResponseProtocols {
		if slices.ContainsFunc(p.Runners, func(r Runner) bool { return r.Protocol == proto }) {
			out = append(out, proto)
		}
	}
	return out
}

func (p *MatrixPlan) runTimeout() time.Duration {
	if p.RunTimeout > 0 {
		return p.RunTimeout
	}
	return p.BulkCap + time.Minute
}

// rowRunners returns the runners of a row: the plan's, and on a row whose
// bottleneck marks ECN, tcp-cubic-ecn right after tcp-cubic and
// limpet-noecn right after limpet (when the plan has the one and not
// already the other), so that the row compares each with and without ECN.
func rowRunners(runners []Runner, path PathSpec) []Runner {
	if !path.CoDelECN {
		return runners
	}
	runners = insertAfter(runners, ProtocolTCPCubic, ProtocolTCPCubicECN)
	return insertAfter(runners, ProtocolLimpet, ProtocolLimpetNoECN)
}

// insertAfter adds the runner of protocol extra right after that of base,
// if runners have base and not extra.
func insertAfter(runners []Runner, base, extra string) []Runner {
	i := slices.IndexFunc(runners, func(r Runner) bool { return r.Protocol == base })
	if i < 0 || slices.ContainsFunc(runners, func(r Runner) bool { return r.Protocol == extra }) {
		return runners
	}
	x, err := NewRunner(extra)
	if err != nil {
		panic(err) // a protocol of our own
	}
	return slices.Insert(slices.Clone(runners), i+1, x)
}

// measurePath runs the small and the bulk transfer of one row on nw.
func measurePath(ctx context.Context, p *MatrixPlan, path PathSpec, nw Network) PathResult {
	res := PathResult{Path: path}
	bulk, timeCap := p.BulkSize, p.BulkCap
	if path.Loopback {
		bulk, timeCap = p.LoopbackBulkSize, 0
	}
	runners := rowRunners(p.Runners, path)
	report := func(kind string) Plan {
		return Plan{
			Runners: runners, Network: nw, Reps: p.Reps, RunTimeout: p.runTimeout(),
			OnResult: func(rep int, r Result) { p.progress("%s: %s [%d/%d] %v", path.Name, kind, rep+1, p.Reps, r) },
		}
	}
	small := report(FormatSize(p.SmallSize))
	small.Size = p.SmallSize
	res.Small = Compare(ctx, small)
	res.SmallSummary = Summarize(res.Small)

	big := report(FormatSize(bulk))
	big.Size, big.TimeCap = bulk, timeCap
	res.Bulk = Compare(ctx, big)
	res.BulkSummary = Summarize(res.Bulk)
	return res
}
