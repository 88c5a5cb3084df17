package congestion

import "time"

// deliveryRing is how many packets' send state a rateSampler keeps at
// first, indexed by packet number: about 200 KiB, allocated on the first
// send. It doubles, up to maxDeliveryRing, while the bytes in flight
// could need more numbers than it holds; a packet whose state was
// overwritten gives no sample.
const (
	deliveryRing     = 1 << 12
	maxDeliveryRing  = 1 << 18
	ringBytesPerSlot = 1200 / 2
)

// rateSampler estimates the delivery rate, the bytes the peer
// acknowledged per second, the way draft-cheng-iccrg-delivery-rate-
// estimation does: each packet remembers how much had been delivered, and
// when, at the time it was sent; when it is acknowledged, the bytes
// delivered since over the longer of the send and the ACK intervals is
// one sample. Samples taken while the sender was application-limited
// only say the path carries at least that much.
type rateSampler struct {
	delivered     int64     // bytes acknowledged so far
	deliveredTime time.Time // when delivered last grew
	firstSentTime time.Time // send time of the packet whose ACK last grew it
	// appLimitedUntil, if non-zero, marks samples application-limited
	// until delivered passes it.
	appLimitedUntil int64
	inFlight        int   // bytes in flight, as the sampler counts them
	lost            int64 // bytes declared lost so far

	ring []packetDelivery
	base time.Time // the origin of the ring's times

	// The sample being built from one ACK frame: the most recently sent
	// packet it acknowledged decides.
	sample     rateSample
	haveSample bool
}

// packetDelivery is a packet's view of delivery when it was sent; times
// are offsets from the sampler's base.
type packetDelivery struct {
	pn            int64
	delivered     int64
	deliveredTime time.Duration
	firstSentTime time.Duration
	sentTime      time.Duration
	// txInFlight is the bytes in flight once the packet was sent, itself
	// included, and lost the bytes declared lost before it was sent:
	// together they give the loss rate of what was sent with it.
	txInFlight int
	lost       int64
	sent       bool
	appLimited bool
}

// rateSample is one delivery-rate sample.
type rateSample struct {
	delivered      int64         // bytes delivered over the interval
	interval       time.Duration // the longer of the send and ACK intervals
	priorDelivered int64         // delivered when the packet was sent
	txInFlight     int           // bytes in flight once it was sent
	lost           int64         // bytes declared lost since it was sent
	appLimited     bool
	sentTime       time.Time // of the packet the sample comes from
	valid          bool      // a packet of the ACK frame was found
}

// rate is the sample's bytes per second, or 0.
func (s rateSample) rate() float64 {
	if s.interval <= 0 {
		return 0
	}
	return float64(s.delivered) / s.interval.Seconds()
}

// onSent records packet pn of bytes sent at now.
func (r *rateSampler) onSent(now time.Time, pn int64, bytes int) {
	if pn < 0 {
		return
	}
	if r.inFlight <= 0 {
		// Nothing in flight: intervals start afresh, so an idle period is
		// not counted as delivery time.
		r.firstSentTime, r.deliveredTime = now, now
	}
	if r.ring == nil {
		r.ring = make([]packetDelivery, deliveryRing)
		r.base = now
	}
	// Room for twice the packet numbers of what is in flight, in the
	// smallest datagrams (ACK-only packets and skipped numbers come
	// between them).
	for r.inFlight > len(r.ring)*ringBytesPerSlot && len(r.ring) < maxDeliveryRing {
		r.grow()
	}
	r.ring[pn%int64(len(r.ring))] = packetDelivery{
		pn: pn, sent: true, delivered: r.delivered, deliveredTime: r.deliveredTime.Sub(r.base),
		firstSentTime: r.firstSentTime.Sub(r.base), sentTime: now.Sub(r.base), appLimited: r.appLimitedUntil != 0,
		txInFlight: r.inFlight + bytes, lost: r.lost,
	}
	r.inFlight += bytes
}

// onAcked records packet pn of bytes acknowledged at now.
func (r *rateSampler) onAcked(now time.Time, pn int64, bytes int) {
	r.inFlight = max(r.inFlight-bytes, 0)
	r.delivered += int64(bytes)
	r.deliveredTime = now
	if r.appLimitedUntil != 0 && r.delivered > r.appLimitedUntil {
		r.appLimitedUntil = 0
	}
	if r.ring == nil || pn < 0 {
		return
	}
	p := &r.ring[pn%int64(len(r.ring))]
	if !p.sent || p.pn != pn {
		return
	}
	p.sent = false
	sentTime := r.base.Add(p.sentTime)
	if r.haveSample && !sentTime.After(r.sample.sentTime) {
		return
	}
	r.sample = rateSample{
		priorDelivered: p.delivered,
		txInFlight:     p.txInFlight,
		lost:           p.lost, // made relative in take
		appLimited:     p.appLimited,
		sentTime:       sentTime,
		interval:       max(p.sentTime-p.firstSentTime, now.Sub(r.base.Add(p.deliveredTime))),
		valid:          true,
	}
	r.haveSample = true
	r.firstSentTime = sentTime
}

// grow doubles the ring, for a window of more packets than it holds.
func (r *rateSampler) grow() {
	ring := make([]packetDelivery, 2*len(r.ring))
	for _, p := range r.ring {
		if p.sent {
			ring[p.pn%int64(len(ring))] = p
		}
	}
	r.ring = ring
}

// onLost takes lost bytes out of flight.
func (r *rateSampler) onLost(bytes int) {
	r.inFlight = max(r.inFlight-bytes, 0)
	r.lost += int64(bytes)
}

// onRandomLoss takes lost packet pn (if not negative) of bytes out of
// flight without counting it lost: a loss judged random says nothing of
// what the path can carry.
func (r *rateSampler) onRandomLoss(pn int64, bytes int) {
	r.inFlight = max(r.inFlight-bytes, 0)
	r.forget(pn)
}

// onPacketLost takes lost packet pn of bytes out of flight and returns
// its send state, if the ring still holds it.
func (r *rateSampler) onPacketLost(pn int64, bytes int) (packetDelivery, bool) {
	r.onLost(bytes)
	return r.forget(pn)
}

// forget frees packet pn's slot, which no ACK will sample now, and
// returns what it held, if it held pn.
func (r *rateSampler) forget(pn int64) (packetDelivery, bool) {
	if r.ring == nil || pn < 0 {
		return packetDelivery{}, false
	}
	p := &r.ring[pn%int64(len(r.ring))]
	if !p.sent || p.pn != pn {
		return packetDelivery{}, false
	}
	p.sent = false
	return *p, true
}

// take returns the sample built from the ACK frame just processed, and
// whether it gives a rate: not when the interval is shorter than minRTT,
// which compressed ACKs make look like a rate the path cannot carry. A
// sample that gives no rate is still valid for counting round trips.
func (r *rateSampler) take(minRTT time.Duration) (rateSample, bool) {
	if !r.haveSample {
		return rateSample{}, false
	}
	r.haveSample = false
	s := r.sample
	s.delivered = r.delivered - s.priorDelivered
	s.lost = r.lost - s.lost
	if s.interval <= 0 || s.interval < minRTT {
		return s, false
	}
	return s, true
}

// onAppLimited marks the samples of packets sent from now on as
// application-limited, until what is in flight now has been delivered.
func (r *rateSampler) onAppLimited() {
	r.appLimitedUntil = max(r.delivered+int64(r.inFlight), 1)
}
