// Package svgplot draws line charts as plain SVG, for qbench's plots.
//
// It exists instead of a plotting library because the benchmark needs two
// kinds of line chart, and SVG written by hand is small, diffable text that
// renders on GitHub. The output is deterministic: the same Chart gives the
// same bytes, so committed plots change only when the data does.
//
// # Usage
//
//	c := svgplot.Chart{
//		Title: "Delivery over time", XLabel: "time, s", YLabel: "delivered, MiB",
//		YMin:    new(0.0),
//		Series:  []svgplot.Series{{Name: "limpet", Points: pts}},
//		Markers: []svgplot.Marker{{X: 5, Label: "NAT rebinding"}},
//	}
//	err := c.WriteSVG(w)
//
// Axes get ticks at 1, 2 or 5 × 10^k and extend to the ticks just outside
// the data, unless Chart.XTicks gives the x ticks (for categories: put the
// points at 0, 1, 2… and label the ticks) or YMin and YMax pin the y axis.
// Points with a NaN or infinite coordinate are gaps in their line. The
// series get the colours of Palette in order unless they name their own,
// and a legend below the plot lists them.
package svgplot
