package streams

import "github.com/limpetnet/limpet/packet"

// Urgencies follow the Extensible Priorities scheme (RFC 9218 §4.1): 0 is
// the most urgent, 7 the least, and streams start at DefaultUrgency.
const (
	// DefaultUrgency is the urgency of a stream nobody prioritised.
	DefaultUrgency = 3
	// MaxUrgency is the least urgent level; larger values are clamped.
	MaxUrgency = 7
)

// Scheduler decides which stream's data goes into the next packet. Streams
// with data wait in one round-robin queue per urgency; the most urgent
// non-empty queue is served first, and within it each stream sends up to a
// quantum of bytes before moving to the back, so one large transfer cannot
// starve the others. Every operation is O(1) (eight queues to look at) and
// reuses its entries, so a steady set of streams schedules without
// allocating.
//
// The transport pushes a stream when it gains sendable data, asks Next
// whose turn it is, and reports what it sent with Sent. A Scheduler is not
// safe for concurrent use; it belongs to the connection goroutine.
type Scheduler struct {
	quantum int
	levels  [MaxUrgency + 1]schedQueue
	entries map[packet.StreamID]*schedEntry
	spare   []*schedEntry
	queued  int
}

type schedEntry struct {
	id         packet.StreamID
	urgency    uint8
	queued     bool
	sent       int // bytes sent in the current turn
	prev, next *schedEntry
}

type schedQueue struct{ head, tail *schedEntry }

// NewScheduler returns a scheduler whose turns last quantum bytes. A
// quantum of one packet's payload gives per-packet round robin; a quantum
// of 0 or less ends a turn at every Sent call.
func NewScheduler(quantum int) *Scheduler {
	return &Scheduler{quantum: quantum, entries: make(map[packet.StreamID]*schedEntry)}
}

func (s *Scheduler) entry(id packet.StreamID) *schedEntry {
	if e := s.entries[id]; e != nil {
		return e
	}
	var e *schedEntry
	if n := len(s.spare); n > 0 {
		e = s.spare[n-1]
		s.spare = s.spare[:n-1]
	} else {
		e = new(schedEntry)
	}
	*e = schedEntry{id: id, urgency: DefaultUrgency}
	s.entries[id] = e
	return e
}

// Push marks id as having data to send. A stream not already waiting joins
// the back of its urgency's queue; a waiting stream keeps its place.
func (s *Scheduler) Push(id packet.StreamID) {
	e := s.entry(id)
	if !e.queued {
		s.enqueue(e)
	}
}

// Next returns the stream whose turn it is, without removing it.
func (s *Scheduler) Next() (id packet.StreamID, ok bool) {
	for i := range s.levels {
		if e := s.levels[i].head; e != nil {
			return e.id, true
		}
	}
	return 0, false
}

// Sent records that id sent n bytes. If more is false the stream has nothing
// left and stops waiting until pushed again; otherwise its turn ends once it
// has sent a quantum, and it moves to the back of its queue.
func (s *Scheduler) Sent(id packet.StreamID, n int, more bool) {
	e := s.entries[id]
	if e == nil {
		if more {
			s.Push(id)
		}
		return
	}
	if !more {
		if e.queued {
			s.dequeue(e)
		}
		return
	}
	if !e.queued {
		s.enqueue(e)
		return
	}
	e.sent += n
	if e.sent >= s.quantum {
		s.dequeue(e)
		s.enqueue(e)
	}
}

// Remove forgets id, for a stream that was closed or reset.
func (s *Scheduler) Remove(id packet.StreamID) {
	e := s.entries[id]
	if e == nil {
		return
	}
	if e.queued {
		s.dequeue(e)
	}
	delete(s.entries, id)
	*e = schedEntry{}
	s.spare = append(s.spare, e)
}

// SetPriority sets id's urgency, clamped to MaxUrgency. A waiting stream
// moves to the back of its new urgency's queue.
func (s *Scheduler) SetPriority(id packet.StreamID, urgency uint8) {
	urgency = min(urgency, MaxUrgency)
	e := s.entry(id)
	if e.urgency == urgency {
		return
	}
	if e.queued {
		s.dequeue(e)
		e.urgency = urgency
		s.enqueue(e)
		return
	}
	e.urgency = urgency
}

// Priority is id's urgency.
func (s *Scheduler) Priority(id packet.StreamID) uint8 {
	if e := s.entries[id]; e != nil {
		return e.urgency
	}
	return DefaultUrgency
}

// Len is the number of streams waiting to send.
func (s *Scheduler) Len() int { return s.queued }

func (s *Scheduler) enqueue(e *schedEntry) {
	q := &s.levels[e.urgency]
	e.prev, e.next = q.tail, nil
	if q.tail != nil {
		q.tail.next = e
	} else {
		q.head = e
	}
	q.tail = e
	e.queued = true
	e.sent = 0
	s.queued++
}

func (s *Scheduler) dequeue(e *schedEntry) {
	q := &s.levels[e.urgency]
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		q.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		q.tail = e.prev
	}
	e.prev, e.next = nil, nil
	e.queued = false
	s.queued--
}
