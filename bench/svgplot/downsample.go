package svgplot

// Downsample thins points, in ascending order of X, to at most n while
// keeping the shape of the line: it cuts the X range into n/2 equal
// buckets and keeps the first and last point of each. The first and last
// points survive, and so do both ends of a flat stretch or of a gap in the
// data, which is what a plot of progress over time must show exactly.
// Points already few enough are returned as they are.
func Downsample(points []Point, n int) []Point {
	n = max(n, 2)
	if len(points) <= n {
		return points
	}
	lo, hi := points[0].X, points[len(points)-1].X
	if !(hi > lo) {
		return []Point{points[0], points[len(points)-1]}
	}
	buckets := n / 2
	out := make([]Point, 0, n)
	kept := -1 // index of the last point kept
	keep := func(i int) {
		if i != kept {
			out = append(out, points[i])
			kept = i
		}
	}
	bucket := -1
	for i, p := range points {
		b := min(max(int((p.X-lo)/(hi-lo)*float64(buckets)), 0), buckets-1)
		if b != bucket {
			if i > 0 {
				keep(i - 1) // the last of the previous bucket
			}
			keep(i)
			bucket = b
		}
	}
	keep(len(points) - 1)
	return out
}
