package ackframes

import "github.com/limpetnet/limpet/packet"

// ECNState is where a path's ECN validation stands (RFC 9000 §13.4.2).
type ECNState uint8

const (
	// ECNTesting: the first packets on the path go out marked ECT(0).
	ECNTesting ECNState = iota
	// ECNUnknown: ECNTestingPackets have been marked; no more are until
	// the peer's counts show the marks arrive.
	ECNUnknown
	// ECNCapable: the counts confirmed the marks; every packet is marked.
	ECNCapable
	// ECNFailed: the marks do not survive the path (bleached, mangled,
	// all turned CE, or the marked packets all lost); nothing is marked.
	ECNFailed
)

// String returns the state's name, as qlog writes it.
func (s ECNState) String() string {
	switch s {
	case ECNTesting:
		return "testing"
	case ECNUnknown:
		return "unknown"
	case ECNCapable:
		return "capable"
	}
	return "failed"
}

// ECNTestingPackets is how many packets a path's test marks before it
// waits for the verdict (RFC 9000 Appendix A.4 suggests 10).
const ECNTestingPackets = 10

// ECNValidator decides whether the sender marks its packets ECT(0) on the
// current path and turns the peer's ACK_ECN counts into congestion
// signals. The transport tells it which packets it marked, and for each
// ACK frame how many newly acknowledged packets were marked and what
// counts the frame carried. It is owned by the connection's goroutine.
type ECNValidator struct {
	state ECNState
	// testSent counts packets marked in the testing state; testResolved,
	// those of them acknowledged or lost; testLost, lost.
	testSent, testResolved, testLost int
	firstTestPN, lastTestPN          packet.PacketNumber

	markedSent uint64           // every packet sent ECT(0), all paths
	prev       packet.ECNCounts // the largest counts the peer reported
	seenCounts bool
	// largestAcked is the largest packet number an ACK frame validated so
	// far acknowledged.
	largestAcked packet.PacketNumber
}

// NewECNValidator starts testing; disabled starts (and stays) failed.
func NewECNValidator(disabled bool) *ECNValidator {
	v := &ECNValidator{firstTestPN: packet.InvalidPacketNumber, largestAcked: packet.InvalidPacketNumber}
	if disabled {
		v.state = ECNFailed
	}
	return v
}

// State is the validation state.
func (v *ECNValidator) State() ECNState { return v.state }

// ShouldMark reports whether the next packet goes out ECT(0).
func (v *ECNValidator) ShouldMark() bool {
	return v.state == ECNCapable || v.state == ECNTesting
}

// OnSent records a packet sent, marked or not.
func (v *ECNValidator) OnSent(pn packet.PacketNumber, marked bool) {
	if !marked {
		return
	}
	v.markedSent++
	if v.state == ECNTesting {
		if v.testSent == 0 {
			v.firstTestPN = pn
		}
		v.lastTestPN = pn
		v.testSent++
		if v.testSent >= ECNTestingPackets {
			v.state = ECNUnknown
		}
	}
}

// IsTest reports whether pn, sent marked, was a test packet of the
// current path.
func (v *ECNValidator) IsTest(pn packet.PacketNumber) bool {
	return v.testSent > 0 && pn >= v.firstTestPN && pn <= v.lastTestPN
}

// OnMarkedLost records the loss of a packet sent marked. Losing every
// test packet fails validation: some paths drop ECT packets.
func (v *ECNValidator) OnMarkedLost(pn packet.PacketNumber) {
	if v.state == ECNFailed || v.state == ECNCapable || !v.IsTest(pn) {
		return
	}
	v.testResolved++
	v.testLost++
	if v.state == ECNUnknown && v.testLost >= v.testSent {
		v.state = ECNFailed
	}
}

// OnAck validates one ACK frame's ECN counts. newlyAckedMarked is how many
// packets the frame newly acknowledged that were sent ECT(0) and that the
// peer must have counted (the transport leaves out packets the peer may
// have rebuilt from FEC repair, which carry no codepoint), of which
// newlyAckedTest were test packets of the current path. It returns how
// many more packets the peer counts as CE than before: a congestion signal
// when positive. The state may change.
//
// Only a frame that raises the largest acknowledged packet number is held
// to the shortfall rule (RFC 9000 §13.4.2.1): one that fills in older
// ranges may follow counts that already covered them.
func (v *ECNValidator) OnAck(f *packet.AckFrame, newlyAckedMarked, newlyAckedTest int) (newCE uint64) {
	if v.state == ECNFailed {
		return 0
	}
	raises := len(f.Ranges) == 0 || v.largestAcked == packet.InvalidPacketNumber || f.LargestAcked() > v.largestAcked
	if len(f.Ranges) > 0 && raises {
		v.largestAcked = f.LargestAcked()
	}
	if !raises {
		newlyAckedMarked = 0
	}
	if !f.HasECN {
		if newlyAckedMarked > 0 {
			v.state = ECNFailed // the marks, or the peer's counting, are gone
		}
		return 0
	}
	c := f.ECN
	if v.seenCounts && (c.ECT0 < v.prev.ECT0 || c.ECT1 < v.prev.ECT1 || c.CE < v.prev.CE) {
		// Counts only grow; a frame reordered behind a newer one says
		// nothing new.
		return 0
	}
	switch {
	case c.ECT1 > 0, c.ECT0+c.CE > v.markedSent:
		// We never send ECT(1), and cannot have more marks arrive than
		// we sent: something rewrites them.
		v.state = ECNFailed
		return 0
	case (c.ECT0-v.prev.ECT0)+(c.CE-v.prev.CE) < uint64(newlyAckedMarked):
		// Marked packets arrived unmarked: the path bleaches.
		v.state = ECNFailed
		return 0
	}
	newCE = c.CE - v.prev.CE
	ect0Grew := c.ECT0 > v.prev.ECT0
	v.prev, v.seenCounts = c, true
	if v.state == ECNTesting || v.state == ECNUnknown {
		v.testResolved += newlyAckedTest
		switch {
		case ect0Grew:
			v.state = ECNCapable
		case v.state == ECNUnknown && v.testResolved >= v.testSent:
			// Every test packet arrived as CE or was lost: a path that
			// marks everything tells nothing about congestion.
			v.state = ECNFailed
			return 0
		}
	}
	return newCE
}

// Restart tests a new path; the counts, which cover the packet number
// space, carry on. A validator that failed on the old path tries again.
func (v *ECNValidator) Restart(disabled bool) {
	if disabled {
		v.state = ECNFailed
		return
	}
	v.state = ECNTesting
	v.testSent, v.testResolved, v.testLost = 0, 0, 0
	v.firstTestPN = packet.InvalidPacketNumber
}
