package bench

import "time"

// FairnessResult is what two competing flows got from one bottleneck: one
// limpet stream and another flow, a TCP connection or a second limpet
// stream, started as RunFairness says.
type FairnessResult struct {
	// Mbit/s of each flow over the measured window (after the warm-up).
	LimpetMbit float64 `json:"limpet_mbit_per_s"`
	OtherMbit  float64 `json:"other_mbit_per_s"`
	// LimpetShare is LimpetMbit over the sum: 0.5 is an even split.
	LimpetShare float64 `json:"limpet_share"`
	// Congestion is the other flow's: the TCP congestion controller
	// ("cubic", "bbr"), or "limpet" for a second limpet flow.
	Congestion string `json:"other_flow"`
	// Limpet is the limpet flows' protocol: limpet or limpet-bbr.
	Limpet string  `json:"limpet_protocol"`
	Window float64 `json:"window_seconds"`
	Err    string  `json:"error,omitempty"`
}

// FairnessWarmup and FairnessWindow are how long the matrix's fairness rows
// let the two flows settle and then measure them: CUBIC's window cycles last
// seconds at 50 ms, so a shorter window catches one flow on its way up.
const (
	FairnessWarmup = 5 * time.Second
	FairnessWindow = 30 * time.Second
)
