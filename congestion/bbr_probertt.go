package congestion

import "time"

// BBR's minimum RTT and ProbeRTT (draft-ietf-ccwg-bbr, "ProbeRTT"):
// the minimum RTT stands 10 s; if no sample as low came for 5 s, ProbeRTT
// halves the window for 200 ms and a round trip, so the queue drains and
// every BBR flow on the bottleneck measures the empty path.

// updateMinRTT takes the ACK's RTT sample into the 5 s and 10 s filters.
func (b *BBR) updateMinRTT(now time.Time) {
	if b.probeRTTMinStamp.IsZero() {
		b.probeRTTMinStamp, b.minRTTStamp = now, now
	}
	b.probeRTTExpired = now.Sub(b.probeRTTMinStamp) > bbrProbeRTTInterval
	if s := b.rttSample; s > 0 && (b.probeRTTMinDelay == 0 || s < b.probeRTTMinDelay || b.probeRTTExpired) {
		b.probeRTTMinDelay = s
		b.probeRTTMinStamp = now
	}
	expired := now.Sub(b.minRTTStamp) > bbrMinRTTFilter
	if b.probeRTTMinDelay > 0 && (b.minRTT == 0 || b.probeRTTMinDelay < b.minRTT || expired) {
		b.minRTT = b.probeRTTMinDelay
		b.minRTTStamp = b.probeRTTMinStamp
	}
}

// checkProbeRTT enters ProbeRTT when the 5 s minimum expired, unless the
// sender just restarted from idle (an idle period drains the queue too).
func (b *BBR) checkProbeRTT(now time.Time) {
	if b.state != BBRProbeRTT && b.probeRTTExpired && !b.idleRestart {
		b.state = BBRProbeRTT
		b.pacingGain, b.cwndGain = 1, bbrProbeRTTCwndGain
		b.saveCwnd()
		b.probeRTTDoneStamp = time.Time{}
		b.ackPhase = acksProbeStopping
		b.startRound()
	}
	if b.state == BBRProbeRTT {
		b.handleProbeRTT(now)
	}
	if b.sample.delivered > 0 {
		b.idleRestart = false
	}
}

// handleProbeRTT holds the small window for bbrProbeRTTDuration and a
// round trip once what is in flight has fallen to it.
func (b *BBR) handleProbeRTT(now time.Time) {
	b.rs.onAppLimited() // its low delivery rates say nothing of the path
	switch {
	case b.probeRTTDoneStamp.IsZero() && float64(b.inFlight) <= b.probeRTTCwnd():
		b.probeRTTDoneStamp = now.Add(bbrProbeRTTDuration)
		b.probeRTTRoundDone = false
		b.startRound()
	case !b.probeRTTDoneStamp.IsZero():
		if b.roundStart {
			b.probeRTTRoundDone = true
		}
		if b.probeRTTRoundDone {
			b.checkProbeRTTDone(now)
		}
	}
}

// checkProbeRTTDone leaves ProbeRTT once its time is up: for CRUISE
// (what is in flight is below the BDP already), or Startup if the pipe
// was never full.
func (b *BBR) checkProbeRTTDone(now time.Time) {
	if b.probeRTTDoneStamp.IsZero() || !now.After(b.probeRTTDoneStamp) {
		return
	}
	b.probeRTTMinStamp = now
	b.restoreCwnd()
	b.resetShortTermModel()
	if b.fullBwReached {
		b.startProbeBWDown(now)
		b.startProbeBWCruise()
		return
	}
	b.enterStartup()
}

// probeRTTCwnd is ProbeRTT's window: half a BDP, at least the minimum.
func (b *BBR) probeRTTCwnd() float64 {
	return max(b.bdpMultiple(b.bw, bbrProbeRTTCwndGain), float64(b.minPipe()))
}
