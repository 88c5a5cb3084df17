//go:build linux && !nolimpet

package bench

import (
	"context"
	"fmt"

	"github.com/limpetnet/limpet/bench/netlab"
)

// RunMatrix runs every row of the plan in order. Emulated and migration
// rows share one netlab whose link is reconfigured per row; if the lab
// cannot be built (no root), those rows are skipped with the reason and
// the loopback rows still run.
func RunMatrix(ctx context.Context, p MatrixPlan) []PathResult {
	var (
		lab    *netlab.Lab
		labErr error
	)
	defer func() {
		if lab != nil {
			lab.Close()
		}
	}()
	openLab := func(path PathSpec) error {
		if lab != nil || labErr != nil {
			return labErr
		}
		link := netlab.SymmetricLink(path.LinkConfig(p.Seed))
		lab, labErr = netlab.New(netlab.Options{Link: &link})
		if labErr != nil {
			labErr = fmt.Errorf("network lab unavailable (it needs Linux, root and nft, ip, tc, conntrack, ethtool): %w", labErr)
		}
		return labErr
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
		if path.Fairness != "" {
			res := PathResult{Path: path}
			for rep := range p.Reps {
				r := RunFairness(ctx, LabNetwork(lab, path.Name), path.Fairness, FairnessWarmup, FairnessWindow)
				p.progress("%s: [%d/%d] limpet %.1f Mbit/s, TCP %.1f Mbit/s, limpet's share %.2f %s", path.Name, rep+1, p.Reps, r.LimpetMbit, r.TCPMbit, r.LimpetShare, r.Err)
				res.Fairness = append(res.Fairness, r)
			}
			results = append(results, res)
			continue
		}
		if path.Disruption == nil {
			results = append(results, measurePath(ctx, &p, path, LabNetwork(lab, path.Name)))
			continue
		}
		res := PathResult{Path: path}
		for rep := range p.Reps {
			for _, proto := range []string{DisruptTCP, DisruptLimpet} {
				r := RunDisruption(ctx, lab, proto, *path.Disruption)
				p.progress("%s: [%d/%d] %s: %s, %s in %.1f s", path.Name, rep+1, p.Reps, proto, r.Outcome(), formatMiB(r.Bytes), r.Seconds)
				res.Disruptions = append(res.Disruptions, r)
			}
		}
		results = append(results, res)
	}
	return results
}
