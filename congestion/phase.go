package congestion

// Phase is the state of a congestion controller's window management, for
// logs, qlog-style traces and tests.
type Phase uint8

const (
	// PhaseSlowStart grows the window by the bytes acknowledged
	// (RFC 9002 §7.3.1).
	PhaseSlowStart Phase = iota
	// PhaseConservativeSlowStart is HyStart++'s cautious slow start after
	// an RTT increase, growing at a quarter of the slow start rate
	// (RFC 9406 §4.2).
	PhaseConservativeSlowStart
	// PhaseCongestionAvoidance grows the window along the CUBIC curve or
	// the Reno-friendly estimate (RFC 9438 §4).
	PhaseCongestionAvoidance
	// PhaseRecovery follows a loss until a packet sent after it is
	// acknowledged; the window does not grow (RFC 9002 §7.3.2).
	PhaseRecovery
)

// String returns the phase's name as used in traces.
func (p Phase) String() string {
	switch p {
	case PhaseSlowStart:
		return "slow_start"
	case PhaseConservativeSlowStart:
		return "conservative_slow_start"
	case PhaseCongestionAvoidance:
		return "congestion_avoidance"
	case PhaseRecovery:
		return "recovery"
	default:
		return "unknown_phase"
	}
}
