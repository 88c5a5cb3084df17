//go:build linux && !nolimpet && measure

package bench

import (
	"context"
	"testing"
	"time"

	"github.com/limpetnet/limpet/bench/netlab"
)

// TestSessionOutlivesOutage: a 64 MiB transfer on a limpet session
// through a 90 s blackout, half again longer than the 60 s idle timeout,
// on the 100 Mbit/s, 50 ms link, once with the client renumbered during
// the blackout. The connection dies; the session reconnects and the
// stream completes byte-exact, sending again at most one flow-control
// window (16 MiB). A real-time lab run, so .ci/measure runs it.
func TestSessionOutlivesOutage(t *testing.T) {
	paths := outagePaths()
	link := netlab.SymmetricLink(paths[0].LinkConfig(1))
	lab := netlab.NewForTest(t, netlab.Options{Link: &link})
	for _, path := range paths {
		t.Run(path.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			r := RunDisruption(ctx, lab, DisruptLimpetSession, *path.Disruption)
			resume, _ := r.SlowestResume()
			t.Logf("%s: %s, %s in %.1f s; data again %v after the path returned; %s", r.Protocol, r.Outcome(), formatMiB(r.Bytes), r.Seconds, resume, r.Detail)
			if !r.Survived {
				t.Fatalf("the session did not survive: %s", r.Err)
			}
			if r.Resumptions != 1 {
				t.Errorf("%d resumptions, want 1", r.Resumptions)
			}
			if r.Resent > 16<<20 {
				t.Errorf("%s sent again, more than a 16 MiB flow-control window", formatMiB(r.Resent))
			}
		})
	}
}
