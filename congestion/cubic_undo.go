package congestion

import "time"

// cubicUndo is what a Cubic needs to take back its last window reduction
// if the losses behind it prove spurious (RFC 9438 §4.9): the state just
// before the reduction, and the bytes declared lost in the congestion
// event against the bytes since found delivered.
type cubicUndo struct {
	valid      bool
	eventStart time.Time // the reduction's recoveryStart: losses declared since belong to it
	lostBytes  int       // reported by OnLoss during the event
	spurious   int       // of those, reported by OnSpuriousLoss

	saved cubicWindowState

	reductions, undone uint64 // counters, for tests and traces
}

// cubicWindowState is the part of a Cubic that a reduction changes.
type cubicWindowState struct {
	cwnd, ssthresh, cwndPrior int
	cwndFraction              float64
	wMax, k, cwndEpoch, wEst  float64
	epochStart                time.Time
	epochStarted              bool
	curveFromEpoch            bool
	recoveryStart             time.Time
	haveRecovery, inRecovery  bool
	hystartPhase              Phase
}

// saveUndo starts a congestion event at now with lostBytes lost, saving
// the state OnLoss is about to change.
func (c *Cubic) saveUndo(now time.Time, lostBytes int) {
	c.undo.valid = true
	c.undo.eventStart = now
	c.undo.lostBytes = lostBytes
	c.undo.spurious = 0
	c.undo.reductions++
	c.undo.saved = cubicWindowState{
		cwnd:           c.cwnd,
		ssthresh:       c.ssthresh,
		cwndPrior:      c.cwndPrior,
		cwndFraction:   c.cwndFraction,
		wMax:           c.wMax,
		k:              c.k,
		cwndEpoch:      c.cwndEpoch,
		wEst:           c.wEst,
		epochStart:     c.epochStart,
		epochStarted:   c.epochStarted,
		curveFromEpoch: c.curveFromEpoch,
		recoveryStart:  c.recoveryStart,
		haveRecovery:   c.haveRecovery,
		inRecovery:     c.inRecovery,
		hystartPhase:   c.hs.phase,
	}
}

// OnSpuriousLoss implements Controller. Once the spurious bytes of the
// congestion event that last reduced the window add up to all the bytes
// lost in it, the reduction was caused by reordering, not congestion, and
// everything it changed is restored: the window (or the current one, if it
// has grown past it since), ssthresh, W_max, K, cwnd_prior, the
// congestion avoidance epoch with its start time, and the recovery period
// and HyStart++ phase before it (RFC 9438 §4.9). Restoring the epoch start
// lets the curve continue as if the reduction had not happened.
//
// Only the last reduction can be undone, and not after persistent
// congestion: a run of losses spanning several probe timeouts says more
// about the path than a late packet does.
func (c *Cubic) OnSpuriousLoss(now time.Time, bytes int, lostAt time.Time) {
	u := &c.undo
	if !u.valid || bytes <= 0 || lostAt.Before(u.eventStart) {
		return
	}
	u.spurious += bytes
	if u.spurious < u.lostBytes {
		return
	}
	u.valid = false
	u.undone++
	cwnd := c.cwnd
	s := &u.saved
	c.cwnd, c.ssthresh, c.cwndPrior = s.cwnd, s.ssthresh, s.cwndPrior
	c.cwndFraction = s.cwndFraction
	c.wMax, c.k, c.cwndEpoch, c.wEst = s.wMax, s.k, s.cwndEpoch, s.wEst
	c.epochStart, c.epochStarted = s.epochStart, s.epochStarted
	c.curveFromEpoch = s.curveFromEpoch
	c.recoveryStart, c.haveRecovery, c.inRecovery = s.recoveryStart, s.haveRecovery, s.inRecovery
	c.hs.phase = s.hystartPhase
	if cwnd > c.cwnd {
		c.cwnd = cwnd
		c.cwndFraction = 0
	}
}

// Reductions reports how many times a loss reduced the window since the
// controller was created or last Reset, and how many of those reductions
// OnSpuriousLoss undid.
func (c *Cubic) Reductions() (total, undone uint64) {
	return c.undo.reductions, c.undo.undone
}
