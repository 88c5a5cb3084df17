package transport

import (
	"time"

	"github.com/limpetnet/limpet/ackframes"
)

// Delivery receipts (docs/PROTOCOL.md section 7) ride with ACKs: a
// receipt alone is a packet for the peer to receive, open and acknowledge,
// and an application reading a bulk stream in 64 KiB pieces made one for
// every two or three data packets, whatever the ACK frequency. A read
// whose only answer is a receipt therefore waits for a packet that goes
// anyway (an ACK, data, or another control frame), at most receiptWait.
// Reads that free flow-control credit and the read of a stream's last byte
// are answered at once, as before.

// queueAfterRead decides how the loop answers the application's read of s.
func (c *Conn) queueAfterRead(s *Stream, now time.Time) {
	s.mu.Lock()
	urgent := s.recv == nil || s.recv.WindowUpdateDue() || s.recv.AllRead() || s.recv.Done()
	s.mu.Unlock()
	if urgent || c.streams.connRecv.UpdateDue() {
		c.queueCtrl(s)
		return
	}
	if s.queuedCtrl || s.queuedReceipt {
		return
	}
	s.queuedReceipt = true
	if len(c.streams.receipts) == 0 {
		c.streams.receiptsAt = now.Add(c.receiptWait())
	}
	c.streams.receipts = append(c.streams.receipts, s)
}

// receiptWait is how long a receipt may wait for a packet to ride with: an
// eighth of the smoothed RTT, so that a sender waiting on it (WaitConsumed
// after each message) loses little, but at least min_ack_delay and at most
// both the ACK delay in force and our max_ack_delay parameter; a bulk
// transfer's ACKs come more often than that and carry the receipts.
func (c *Conn) receiptWait() time.Duration {
	wait := max(c.loss.rtt.Smoothed()/8, minAckDelay)
	return min(wait, c.acks.MaxAckDelay(), ackframes.DefaultMaxAckDelay)
}

// releaseReceipts moves the waiting receipts to the control frames due if
// the packet being built goes anyway (ackDue, or frames or data are
// queued) or their time has come.
func (c *Conn) releaseReceipts(now time.Time, ackDue bool) {
	if len(c.streams.receipts) == 0 {
		return
	}
	if !ackDue && len(c.streams.ctrl) == 0 && c.streams.sched.Len() == 0 && now.Before(c.streams.receiptsAt) {
		return
	}
	for i, s := range c.streams.receipts {
		s.queuedReceipt = false
		c.queueCtrl(s)
		c.streams.receipts[i] = nil
	}
	c.streams.receipts = c.streams.receipts[:0]
	c.streams.receiptsAt = time.Time{}
}
