//go:build linux && !nolimpet

package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/limpetnet/limpet/bench/netlab"
)

// RunMatrix runs every row of the plan in order. Emulated and migration
// rows share one netlab whose link is reconfigured per row, rebuilt when a
// row needs another link MTU (PathSpec.MTU); if the lab cannot be built
// (no root), those rows are skipped with the reason and the loopback rows
// still run. A row with a PathMTU narrows the path for its runs only, and
// the kernels forget the path MTU they learned before the next row.
func RunMatrix(ctx context.Context, p MatrixPlan) []PathResult {
	var (
		lab    *netlab.Lab
		labErr error // why no lab can be built at all
		built  bool  // whether a lab was ever built
	)
	defer func() {
		if lab != nil {
			lab.Close()
		}
	}()
	openLab := func(path PathSpec) error {
		if labErr != nil {
			return labErr
		}
		if lab != nil && lab.MTU() == path.LabMTU() {
			return nil
		}
		if lab != nil {
			if err := lab.Close(); err != nil {
				p.progress("closing the %d-byte MTU lab: %v", lab.MTU(), err)
			}
			lab = nil
		}
		link := netlab.SymmetricLink(path.LinkConfig(p.Seed))
		var err error
		lab, err = netlab.New(netlab.Options{Link: &link, MTU: path.MTU})
		switch {
		case err == nil:
			built = true
		case !built:
			// Without root, every later row would fail the same way.
			labErr = fmt.Errorf("network lab unavailable (it needs Linux, root and nft, ip, tc, conntrack, ethtool): %w", err)
			return labErr
		default:
			return fmt.Errorf("building a lab with a %d-byte MTU: %w", path.LabMTU(), err)
		}
		return nil
	}

	var results []PathResult
	for i, path := range p.Paths {
		if ctx.Err() != nil {
			break
		}
		p.progress("row %d/%d: %s", i+1, len(p.Paths), path.Name)
		if path.Loopback {
			results = append(results, measurePath(ctx, &p, path, Loopback))
			continue
		}
		if err := openLab(path); err != nil {
			results = append(results, PathResult{Path: path, Skipped: err.Error()})
			continue
		}
		if err := lab.SetLink(netlab.SymmetricLink(path.LinkConfig(p.Seed + uint64(i)))); err != nil {
			results = append(results, PathResult{Path: path, Skipped: "setting the link: " + err.Error()})
			continue
		}
		if path.PathMTU != 0 {
			if err := lab.SetPathMTU(path.PathMTU); err != nil {
				results = append(results, PathResult{Path: path, Skipped: "setting the path MTU: " + err.Error()})
				continue
			}
		}
		results = append(results, runLabRow(ctx, &p, lab, path))
		if path.PathMTU != 0 {
			if err := errors.Join(lab.SetPathMTU(0), lab.FlushPathMTUCache()); err != nil {
				p.progress("%s: restoring the path MTU: %v", path.Name, err)
			}
		}
	}
	return results
}

// runLabRow runs one row on the lab, whose link is set for it.
func runLabRow(ctx context.Context, p *MatrixPlan, lab *netlab.Lab, path PathSpec) PathResult {
	res := PathResult{Path: path}
	switch {
	case path.Fairness != "":
		for rep := range p.Reps {
			r := RunFairness(ctx, LabNetwork(lab, path.Name), path.Fairness, path.fairnessLimpet(), path.FairnessHeadStart, FairnessWarmup, FairnessWindow)
			first := "limpet"
			if strings.HasPrefix(path.fairnessLimpet(), "tcp-") {
				first = "first flow"
			}
			p.progress("%s: [%d/%d] %s %.1f Mbit/s, other flow %.1f Mbit/s, %s's share %.2f %s", path.Name, rep+1, p.Reps, first, r.LimpetMbit, r.OtherMbit, first, r.LimpetShare, r.Err)
			res.Fairness = append(res.Fairness, r)
		}
	case path.RequestResponse != nil:
		for rep := range p.Reps {
			for _, proto := range p.requestResponseProtocols() {
				runCtx, cancel := context.WithTimeout(ctx, p.runTimeout()+2*time.Minute)
				r := RunRequestResponse(runCtx, LabNetwork(lab, path.Name), proto, *path.RequestResponse)
				cancel()
				p.progress("%s: [%d/%d] %s: %d exchanges, p50 %s, p99 %s, max %s %s", path.Name, rep+1, p.Reps, proto, r.Requests,
					formatMillis(r.P50), formatMillis(r.P99), formatMillis(r.Max), r.Err)
				res.RequestResponse = append(res.RequestResponse, r)
			}
		}
	case path.Disruption == nil:
		res = measurePath(ctx, p, path, LabNetwork(lab, path.Name))
	default:
		reps := p.Reps
		if path.Disruption.Blackout > time.Minute {
			// Minutes per run, and the outcome hardly varies.
			reps = 1
		}
		for rep := range reps {
			for _, proto := range path.Disruption.protocols() {
				r := RunDisruption(ctx, lab, proto, *path.Disruption)
				p.progress("%s: [%d/%d] %s: %s, %s in %.1f s", path.Name, rep+1, reps, proto, r.Outcome(), formatMiB(r.Bytes), r.Seconds)
				res.Disruptions = append(res.Disruptions, r)
			}
		}
	}
	return res
}
