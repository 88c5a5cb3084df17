//go:build !linux || nolimpet

package bench

import "context"

// RunMatrix runs the loopback rows of the plan; the emulated and migration
// rows need the Linux network lab and are reported as skipped.
func RunMatrix(ctx context.Context, p MatrixPlan) []PathResult {
	var results []PathResult
	for _, path := range p.Paths {
		if ctx.Err() != nil {
			break
		}
		if !path.Loopback {
			results = append(results, PathResult{Path: path, Skipped: "emulated paths need the Linux network lab (bench/netlab)"})
			continue
		}
		results = append(results, measurePath(ctx, &p, path, Loopback))
	}
	return results
}
