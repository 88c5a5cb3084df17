//go:build !nolimpet

package bench

import (
	"slices"
	"strings"
	"testing"
)

func TestRunLimpetLoopback(t *testing.T) {
	r := RunLimpet(testContext(t), Loopback, smallRun)
	checkSmallRun(t, r, ProtocolLimpet)
	if strings.Contains(r.Detail, "FEC") {
		t.Errorf("Detail %q: plain limpet sent FEC repair packets", r.Detail)
	}
	// The sender's bottleneck report comes with the result. On loopback
	// the sender is busy: the CPU's share is there.
	if r.Bottleneck == nil || len(r.Bottleneck.Limited) == 0 {
		t.Fatalf("no bottleneck report: %+v", r)
	}
	if !slices.ContainsFunc(r.Bottleneck.Limited, func(s LimitShare) bool { return s.Limit == "cpu" && s.Share > 0 }) {
		t.Errorf("bottleneck %v: no CPU time on loopback", r.Bottleneck.Limited)
	}
	if !strings.Contains(r.String(), "; limited by "+r.Bottleneck.Limited[0].Limit) {
		t.Errorf("result line %q does not name the main limit", r)
	}
}

// TestRunLimpetFECLoopback: the limpet-fec runner negotiates FEC and the
// client sends repair packets (2 per 8: about 200 for 1 MiB).
func TestRunLimpetFECLoopback(t *testing.T) {
	r := RunLimpetFEC(testContext(t), Loopback, smallRun)
	checkSmallRun(t, r, ProtocolLimpetFEC)
	if !strings.Contains(r.Detail, "FEC repair packets") {
		t.Errorf("Detail %q: no FEC repair packets sent", r.Detail)
	}
}
