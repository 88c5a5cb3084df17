package transport

import "time"

// Delivery receipts (docs/PROTOCOL.md section 7) ride with ACKs: a
// receipt alone is a packet for the peer to receive, open and acknowledge,
// and an application reading a bulk stream in 64 KiB pieces made one for
// every two or three data packets, whatever the ACK frequency. A read
// whose only answer is a receipt therefore waits, at most our current
// max_ack_delay, for a packet that goes anyway: an ACK, data, or another
// control frame. Reads that free flow-control credit and the read of a
// stream's last byte are answered at once, as before.

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
		c.streams.receiptsAt = now.Add(c.acks.MaxAckDelay())
	}
	c.streams.receipts = append(c.streams.receipts, s)
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

// receiptsDeadline is when waiting receipts go without an ACK to ride
// with, or the zero time.
func (c *Conn) receiptsDeadline() time.Time {
	if len(c.streams.receipts) == 0 {
		return time.Time{}
	}
	return c.streams.receiptsAt
}
