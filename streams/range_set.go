package streams

import "slices"

// byteRange is the half-open interval [start, end) of stream offsets.
type byteRange struct{ start, end int64 }

// rangeSet is a sorted set of disjoint, non-adjacent byte ranges. The send
// stream keeps two: data acknowledged above the contiguous acked prefix, and
// data declared lost and waiting for retransmission. Both only ever hold
// ranges of frames we sent, so their size is bounded by the frames in flight.
// The slice is reused, so steady-state use does not allocate.
type rangeSet []byteRange

// search returns the index of the first range whose end is at or after off.
func (s rangeSet) search(off int64) int {
	lo, hi := 0, len(s)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s[mid].end < off {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// add inserts [start, end), merging it with ranges it overlaps or touches.
func (s *rangeSet) add(start, end int64) {
	if start >= end {
		return
	}
	r := *s
	if n := len(r); n == 0 || r[n-1].end < start {
		*s = append(r, byteRange{start, end})
		return
	}
	i := r.search(start)
	j := i
	for j < len(r) && r[j].start <= end {
		j++
	}
	if i == j {
		*s = slices.Insert(r, i, byteRange{start, end})
		return
	}
	r[i] = byteRange{min(start, r[i].start), max(end, r[j-1].end)}
	*s = slices.Delete(r, i+1, j)
}

// remove deletes [start, end) from the set, splitting a range if needed.
func (s *rangeSet) remove(start, end int64) {
	if start >= end {
		return
	}
	r := *s
	i := r.search(start + 1) // first range with end > start
	j := i
	for j < len(r) && r[j].start < end {
		j++
	}
	if i == j {
		return
	}
	first, last := r[i], r[j-1]
	switch {
	case first.start < start && last.end > end:
		if i+1 == j {
			// Splitting one range in two needs one more slot.
			r[i].end = start
			*s = slices.Insert(r, i+1, byteRange{end, last.end})
			return
		}
		r[i] = byteRange{first.start, start}
		r[i+1] = byteRange{end, last.end}
		*s = slices.Delete(r, i+2, j)
	case first.start < start:
		r[i] = byteRange{first.start, start}
		*s = slices.Delete(r, i+1, j)
	case last.end > end:
		r[i] = byteRange{end, last.end}
		*s = slices.Delete(r, i+1, j)
	default:
		*s = slices.Delete(r, i, j)
	}
}

// addExcept inserts the parts of [start, end) that are not in except.
func (s *rangeSet) addExcept(start, end int64, except rangeSet) {
	cur := start
	for i := except.search(start + 1); i < len(except) && except[i].start < end; i++ {
		if except[i].start > cur {
			s.add(cur, except[i].start)
		}
		cur = max(cur, except[i].end)
	}
	if cur < end {
		s.add(cur, end)
	}
}
