package flood

import "time"

// pacer spreads sends evenly at a fixed rate. The sender asks how many
// sends are due (due), makes them, and reports them (sent); between
// batches it waits until next. A sender that falls behind, because its
// core was busy, does not catch up in one burst: due never returns more
// than burst, and the backlog beyond it is forgotten (counted in skipped),
// so the rate offered never spikes above the plan's and the achieved rate
// (what the report shows) says when the attacker could not keep up.
type pacer struct {
	rate  float64 // sends per second, > 0
	burst int     // most sends due at once, >= 1
	start time.Time
	// credited counts sends accounted for since start: made, or skipped.
	credited int64
	skipped  int64
}

func newPacer(rate float64, burst int, start time.Time) *pacer {
	return &pacer{rate: rate, burst: max(burst, 1), start: start}
}

// due returns how many sends are due at now, at most burst.
func (p *pacer) due(now time.Time) int {
	// The epsilon keeps a whole number of sends (10 at 10 ms of 1,000/s)
	// from flooring to one less in floating point.
	owed := int64(p.rate*now.Sub(p.start).Seconds()+1e-9) - p.credited
	if owed <= 0 {
		return 0
	}
	if owed > int64(p.burst) {
		p.skipped += owed - int64(p.burst)
		p.credited += owed - int64(p.burst)
		owed = int64(p.burst)
	}
	return int(owed)
}

// sent records n sends made.
func (p *pacer) sent(n int) { p.credited += int64(n) }

// next returns when the next send falls due.
func (p *pacer) next() time.Time {
	return p.start.Add(time.Duration(float64(p.credited+1) / p.rate * float64(time.Second)))
}
