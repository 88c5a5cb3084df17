//go:build !nolimpet

package bench

import (
	"strings"
	"testing"
)

func TestRunLimpetLoopback(t *testing.T) {
	r := RunLimpet(testContext(t), Loopback, smallRun)
	checkSmallRun(t, r, ProtocolLimpet)
	if strings.Contains(r.Detail, "FEC") {
		t.Errorf("Detail %q: plain limpet sent FEC repair packets", r.Detail)
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
