package netlab

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalidArgument is matched by errors.Is when a loss percentage is out
// of range.
var ErrInvalidArgument = errors.New("netlab: invalid argument")

// lossResolution is the denominator of SetLoss's drop probability: numgen
// draws a number below it for every packet, so loss is exact to 0.01 %.
const lossResolution = 10000

// Blackout(true) drops every packet the router forwards, in both
// directions, until Blackout(false): a path that dies and comes back, as
// when a phone leaves Wi-Fi coverage. NAT mappings survive a blackout
// unless it outlasts their conntrack timeout. Each call is one atomic
// nftables transaction and calling it twice with the same value is
// harmless.
func (l *Lab) Blackout(on bool) error {
	l.opMu.Lock()
	defer l.opMu.Unlock()
	script := "flush chain inet lab blackout\n"
	if on {
		script += "add rule inet lab blackout counter drop\n"
	}
	return l.run(Router, script, l.tools.nft, "-f", "-")
}

// SetLoss makes the router drop each forwarded packet, in either direction,
// independently with the given probability in percent (0 to 100, to a
// hundredth of a percent). SetLoss(0) removes the loss.
func (l *Lab) SetLoss(percent float64) error {
	if math.IsNaN(percent) || percent < 0 || percent > 100 {
		return fmt.Errorf("%w: loss %v%% not in [0, 100]", ErrInvalidArgument, percent)
	}
	l.opMu.Lock()
	defer l.opMu.Unlock()
	script := "flush chain inet lab loss\n"
	switch threshold := int(math.Round(percent * lossResolution / 100)); {
	case threshold <= 0:
	case threshold >= lossResolution:
		script += "add rule inet lab loss counter drop\n"
	default:
		script += fmt.Sprintf("add rule inet lab loss numgen random mod %d < %d counter drop\n",
			lossResolution, threshold)
	}
	return l.run(Router, script, l.tools.nft, "-f", "-")
}

// rateBurstTime is how much traffic, in time at the configured rate, the
// token bucket lets through back to back; rateMinBurst keeps the burst
// above a few full-size packets at low rates, which tbf needs to pass them
// at all.
const (
	rateBurstTime = 0.005 // seconds
	rateMinBurst  = 16 * 1024
	rateLatency   = "50ms"
)

// SetRate limits each direction of the path to bitsPerSecond with a token
// bucket (tc tbf) on both of the router's links; 0 removes the limit.
// Packets beyond what the bucket's 50 ms queue holds are dropped, like a
// bottleneck link with a modest buffer.
func (l *Lab) SetRate(bitsPerSecond uint64) error {
	l.opMu.Lock()
	defer l.opMu.Unlock()
	var batch string
	if bitsPerSecond == 0 {
		if !l.rateLimit {
			return nil
		}
		batch = fmt.Sprintf("qdisc del dev %s root\nqdisc del dev %s root\n", routerClientLink, routerServerLink)
	} else {
		burst := uint64(float64(bitsPerSecond) / 8 * rateBurstTime)
		burst = max(burst, rateMinBurst)
		for _, dev := range []string{routerClientLink, routerServerLink} {
			batch += fmt.Sprintf("qdisc replace dev %s root tbf rate %dbit burst %d latency %s\n",
				dev, bitsPerSecond, burst, rateLatency)
		}
	}
	if err := l.run(Router, batch, l.tools.tc, "-batch", "-"); err != nil {
		return err
	}
	l.rateLimit = bitsPerSecond != 0
	return nil
}
