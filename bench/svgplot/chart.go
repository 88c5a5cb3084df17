package svgplot

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Point is one data point.
type Point struct{ X, Y float64 }

// Series is one line of a chart.
type Series struct {
	Name string
	// Points are drawn in order; a point with a NaN or infinite coordinate
	// breaks the line.
	Points []Point
	Dashed bool
	// Color is an SVG colour such as "#0072b2"; empty takes the Palette
	// colour of the series' position.
	Color string
}

// Marker is a vertical dashed line across the plot at X, labelled along
// its top, for an event such as a path change.
type Marker struct {
	X     float64
	Label string
}

// Chart is a line chart. The zero values of the optional fields choose
// defaults: a 720×420 picture, nice ticks, and axes fitted to the data.
type Chart struct {
	Title, XLabel, YLabel string
	Width, Height         int
	Series                []Series
	// XTicks, if set, replaces the chosen x ticks; the axis then spans
	// the ticks, the points and the markers, with a margin on either side
	// so that the first and last categories do not sit on the frame.
	XTicks  []Tick
	Markers []Marker
	// YMin and YMax, if set, pin the ends of the y axis; points beyond
	// them are clipped.
	YMin, YMax *float64
}

// Palette is the colours given to series in order: the Okabe–Ito set,
// which stays distinguishable with the common colour-vision deficiencies.
var Palette = []string{"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#999999"}

// ErrNoData is WriteSVG's error for a chart without a single finite point.
var ErrNoData = errors.New("svgplot: nothing to plot: no series has a finite point")

const (
	defaultWidth  = 720
	defaultHeight = 420
	// charWidth is the average advance of a 12 px sans-serif character,
	// for sizing margins and the legend without font metrics.
	charWidth = 6.5
	// rowHeight is the height of a legend row.
	rowHeight = 18
	// clipMargin is how far beyond the plot area data may be drawn: the
	// radius of a dot.
	clipMargin = 3
	// maxDotted is the most points a series may have for each to get a dot.
	maxDotted = 40
	// categoryMargin is the share of the x span added on either side when
	// XTicks are given.
	categoryMargin = 0.04
)

// WriteSVG renders the chart as a standalone SVG document.
func (c Chart) WriteSVG(w io.Writer) error {
	l, err := c.layout()
	if err != nil {
		return err
	}
	var b bytes.Buffer
	c.render(&b, l, "")
	_, err = w.Write(b.Bytes())
	return err
}

// WriteStack renders charts one above the other in one SVG document, as
// views of one timeline that share its x axis; each keeps its own size.
func WriteStack(w io.Writer, charts ...Chart) error {
	layouts := make([]layout, len(charts))
	var width, height float64
	for i, c := range charts {
		l, err := c.layout()
		if err != nil {
			return fmt.Errorf("chart %d (%s): %w", i, c.Title, err)
		}
		layouts[i] = l
		width = max(width, l.width)
		height += l.height
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s">`+"\n",
		num(width), num(height), num(width), num(height))
	y := 0.0
	for i, c := range charts {
		c.render(&b, layouts[i], fmt.Sprintf(` y="%s"`, num(y)))
		y += layouts[i].height
	}
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

// layout is where everything goes, in pixels, and the axes' ranges.
type layout struct {
	width, height            float64
	left, right, top, bottom float64
	xlo, xhi, ylo, yhi       float64
	xticks, yticks           []Tick
	legend                   []legendEntry
}

type legendEntry struct {
	x, y   float64 // the start of the swatch, on the row's centre line
	series int
}

func (l *layout) px(x float64) float64 {
	return l.left + (x-l.xlo)/(l.xhi-l.xlo)*(l.right-l.left)
}

func (l *layout) py(y float64) float64 {
	return l.bottom - (y-l.ylo)/(l.yhi-l.ylo)*(l.bottom-l.top)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func (c Chart) layout() (layout, error) {
	l := layout{width: defaultWidth, height: defaultHeight}
	if c.Width > 0 {
		l.width = float64(c.Width)
	}
	if c.Height > 0 {
		l.height = float64(c.Height)
	}

	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for _, p := range s.Points {
			if finite(p.X) && finite(p.Y) {
				xlo, xhi = min(xlo, p.X), max(xhi, p.X)
				ylo, yhi = min(ylo, p.Y), max(yhi, p.Y)
			}
		}
	}
	if xlo > xhi {
		return l, ErrNoData
	}
	for _, m := range c.Markers {
		if finite(m.X) {
			xlo, xhi = min(xlo, m.X), max(xhi, m.X)
		}
	}

	// The y axis: ends pinned or nice.
	fixLo, fixHi := c.YMin != nil && finite(*c.YMin), c.YMax != nil && finite(*c.YMax)
	if fixLo {
		ylo = *c.YMin
	}
	if fixHi {
		yhi = *c.YMax
	}
	if fixLo && !fixHi && yhi <= ylo || fixHi && !fixLo && ylo >= yhi {
		// The data lies beyond the pinned end: the axis shows nothing of
		// it, but stays a valid axis.
		fixLo, fixHi = true, true
		if c.YMin != nil && finite(*c.YMin) {
			ylo, yhi = *c.YMin, *c.YMin+1
		} else {
			ylo, yhi = *c.YMax-1, *c.YMax
		}
	}
	yIntervals := max(2, int(l.height-150)/45)
	l.ylo, l.yhi, l.yticks = niceAxis(ylo, yhi, fixLo, fixHi, yIntervals)

	// The x axis: explicit ticks with a margin, or nice.
	xIntervals := max(2, int(l.width-150)/90)
	if len(c.XTicks) > 0 {
		for _, t := range c.XTicks {
			if finite(t.Value) {
				xlo, xhi = min(xlo, t.Value), max(xhi, t.Value)
				l.xticks = append(l.xticks, t)
			}
		}
		pad := (xhi - xlo) * categoryMargin
		if pad == 0 {
			pad = 0.5
		}
		l.xlo, l.xhi = xlo-pad, xhi+pad
	} else {
		l.xlo, l.xhi, l.xticks = niceAxis(xlo, xhi, false, false, xIntervals)
	}

	// Margins: the title above, the y label and tick labels to the left,
	// the x tick labels, x label and legend rows below.
	l.top = 16
	if c.Title != "" {
		l.top = 40
	}
	widest := 0
	for _, t := range l.yticks {
		widest = max(widest, utf8.RuneCountInString(t.Label))
	}
	l.left = 10 + charWidth*float64(widest) + 8
	if c.YLabel != "" {
		l.left += 20
	}
	l.right = l.width - 24

	rows := 0
	x := l.left
	for i, s := range c.Series {
		w := 24 + charWidth*float64(utf8.RuneCountInString(s.Name)) + 18
		if rows == 0 || x+w > l.right && x > l.left {
			rows++
			x = l.left
		}
		l.legend = append(l.legend, legendEntry{x: x, y: float64(rows - 1), series: i})
		x += w
	}
	l.bottom = l.height - 32
	if rows > 0 {
		l.bottom = l.height - 50 - rowHeight*float64(rows)
	}
	for i := range l.legend {
		l.legend[i].y = l.bottom + 52 + rowHeight*l.legend[i].y
	}
	if l.right-l.left < 40 || l.bottom-l.top < 40 {
		return l, fmt.Errorf("svgplot: %gx%g is too small for the chart", l.width, l.height)
	}
	return l, nil
}

// render writes the chart as an <svg> element; position is extra
// attributes that place it inside another (WriteStack).
func (c Chart) render(b *bytes.Buffer, l layout, position string) {
	w, h := num(l.width), num(l.height)
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg"%s width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="12">`+"\n", position, w, h, w, h)
	if c.Title != "" {
		fmt.Fprintf(b, "<title>%s</title>\n", esc(c.Title))
	}
	// An opaque background keeps the black text legible on dark pages.
	b.WriteString(`<rect width="100%" height="100%" fill="#ffffff"/>` + "\n")
	if c.Title != "" {
		fmt.Fprintf(b, `<text x="%s" y="24" text-anchor="middle" font-size="15" font-weight="bold">%s</text>`+"\n",
			num(l.width/2), esc(c.Title))
	}

	// Grid and tick labels.
	b.WriteString(`<g stroke="#e0e0e0" stroke-width="1">` + "\n")
	for _, t := range l.yticks {
		y := num(l.py(t.Value))
		fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s"/>`+"\n", num(l.left), y, num(l.right), y)
	}
	for _, t := range l.xticks {
		x := num(l.px(t.Value))
		fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s"/>`+"\n", x, num(l.top), x, num(l.bottom))
	}
	b.WriteString("</g>\n")
	fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#333333"/>`+"\n",
		num(l.left), num(l.top), num(l.right-l.left), num(l.bottom-l.top))
	b.WriteString(`<g fill="#333333">` + "\n")
	for _, t := range l.yticks {
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="end">%s</text>`+"\n", num(l.left-6), num(l.py(t.Value)+4), esc(t.Label))
	}
	for _, t := range l.xticks {
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", num(l.px(t.Value)), num(l.bottom+16), esc(t.Label))
	}
	b.WriteString("</g>\n")
	if c.XLabel != "" {
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", num((l.left+l.right)/2), num(l.bottom+34), esc(c.XLabel))
	}
	if c.YLabel != "" {
		fmt.Fprintf(b, `<text transform="translate(16,%s) rotate(-90)" text-anchor="middle">%s</text>`+"\n", num((l.top+l.bottom)/2), esc(c.YLabel))
	}

	// The marker lines go under the data.
	for _, m := range c.Markers {
		if finite(m.X) {
			x := num(l.px(m.X))
			fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#555555" stroke-width="1" stroke-dasharray="4 3"/>`+"\n",
				x, num(l.top), x, num(l.bottom))
		}
	}

	// The data, clipped to the plot and the dots' radius around it, so
	// that a point on the frame shows whole.
	fmt.Fprintf(b, `<clipPath id="plot-area"><rect x="%s" y="%s" width="%s" height="%s"/></clipPath>`+"\n",
		num(l.left-clipMargin), num(l.top-clipMargin), num(l.right-l.left+2*clipMargin), num(l.bottom-l.top+2*clipMargin))
	b.WriteString(`<g clip-path="url(#plot-area)" fill="none" stroke-width="2" stroke-linejoin="round">` + "\n")
	for i, s := range c.Series {
		colour := esc(c.colour(i))
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="7 4"`
		}
		segs := segments(s.Points)
		dotAll := 0
		for _, seg := range segs {
			dotAll += len(seg)
		}
		for _, seg := range segs {
			if len(seg) > 1 {
				fmt.Fprintf(b, `<polyline stroke="%s"%s points="`, colour, dash)
				for j, p := range seg {
					if j > 0 {
						b.WriteByte(' ')
					}
					b.WriteString(num(l.px(p.X)) + "," + num(l.py(p.Y)))
				}
				b.WriteString(`"/>` + "\n")
			}
			if dotAll <= maxDotted || len(seg) == 1 {
				for _, p := range seg {
					fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="3" fill="%s" stroke="none"/>`+"\n", num(l.px(p.X)), num(l.py(p.Y)), colour)
				}
			}
		}
	}
	b.WriteString("</g>\n")

	// The marker labels, over the data on a white halo, reading upwards
	// left of their lines.
	for _, m := range c.Markers {
		if finite(m.X) && m.Label != "" {
			fmt.Fprintf(b, `<text transform="translate(%s,%s) rotate(-90)" text-anchor="end" font-size="11" fill="#555555" stroke="#ffffff" stroke-width="3" paint-order="stroke">%s</text>`+"\n",
				num(l.px(m.X)-4), num(l.top+6), esc(m.Label))
		}
	}

	// The legend.
	for _, e := range l.legend {
		s := c.Series[e.series]
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="7 4"`
		}
		fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"%s/>`+"\n",
			num(e.x), num(e.y), num(e.x+20), num(e.y), esc(c.colour(e.series)), dash)
		fmt.Fprintf(b, `<text x="%s" y="%s">%s</text>`+"\n", num(e.x+26), num(e.y+4), esc(s.Name))
	}
	b.WriteString("</svg>\n")
}

func (c Chart) colour(i int) string {
	if c.Series[i].Color != "" {
		return c.Series[i].Color
	}
	return Palette[i%len(Palette)]
}

// segments splits points into the runs between non-finite points.
func segments(points []Point) [][]Point {
	var segs [][]Point
	var cur []Point
	for _, p := range points {
		if finite(p.X) && finite(p.Y) {
			cur = append(cur, p)
			continue
		}
		if len(cur) > 0 {
			segs = append(segs, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		segs = append(segs, cur)
	}
	return segs
}

// maxCoordinate bounds pixel coordinates, so that a point far beyond a
// pinned axis does not print as a hundred-digit number.
const maxCoordinate = 1e6

// num formats a pixel coordinate with one decimal, without a trailing ".0".
func num(v float64) string {
	v = max(-maxCoordinate, min(maxCoordinate, v))
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if s == "-0" {
		s = "0"
	}
	return s
}

// esc escapes s for XML text and attribute values.
func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails
	return b.String()
}
