//go:build nolimpet

package bench

import (
	"context"
	"errors"
	"time"
)

// errLimpetNotBuilt is the error of every limpet row in a build with the
// nolimpet tag, which leaves package transport out.
var errLimpetNotBuilt = errors.New("bench: built with the nolimpet tag: no limpet transport")

// RunLimpet reports an error row: this build has no limpet transport.
func RunLimpet(ctx context.Context, nw Network, size int64) Result {
	return failedResult(ProtocolLimpet, errLimpetNotBuilt)
}

// RunLimpetBBR reports an error row: this build has no limpet transport.
func RunLimpetBBR(ctx context.Context, nw Network, size int64) Result {
	return failedResult(ProtocolLimpetBBR, errLimpetNotBuilt)
}

// RunLimpetNoFEC reports an error row: this build has no limpet transport.
func RunLimpetNoFEC(ctx context.Context, nw Network, size int64) Result {
	return failedResult(ProtocolLimpetNoFEC, errLimpetNotBuilt)
}

// RunLimpetFEC reports an error row: this build has no limpet transport.
func RunLimpetFEC(ctx context.Context, nw Network, size int64) Result {
	return failedResult(ProtocolLimpetFEC, errLimpetNotBuilt)
}

// RunLimpetNoECN reports an error row: this build has no limpet transport.
func RunLimpetNoECN(ctx context.Context, nw Network, size int64) Result {
	return failedResult(ProtocolLimpetNoECN, errLimpetNotBuilt)
}

// QlogDir is unused: this build has no limpet transport.
var QlogDir string

// SelfTest reports a failure: this build has no limpet transport.
func SelfTest(ctx context.Context) SelfTestResult {
	return SelfTestResult{Protocol: ProtocolLimpet, Bytes: SelfTestSize, Err: errLimpetNotBuilt.Error()}
}

// limpetExchanges reports that this build has no limpet transport.
func limpetExchanges(ctx context.Context, nw Network, protocol string, spec RequestResponseSpec) ([]time.Duration, error) {
	return nil, errLimpetNotBuilt
}
