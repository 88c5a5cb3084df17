package svgplot

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestNiceAxis(t *testing.T) {
	tests := []struct {
		desc         string
		lo, hi       float64
		fixLo, fixHi bool
		intervals    int
		wantLo       float64
		wantHi       float64
		wantLabels   []string
	}{
		{desc: "goodput", lo: 0, hi: 94.3, intervals: 6, wantLo: 0, wantHi: 100,
			wantLabels: []string{"0", "20", "40", "60", "80", "100"}},
		{desc: "seconds", lo: 0, hi: 23.4, intervals: 6, wantLo: 0, wantHi: 25,
			wantLabels: []string{"0", "5", "10", "15", "20", "25"}},
		{desc: "fractions", lo: 0.1, hi: 0.93, intervals: 5, wantLo: 0, wantHi: 1,
			wantLabels: []string{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}},
		{desc: "across zero", lo: -3, hi: 7, intervals: 5, wantLo: -4, wantHi: 8,
			wantLabels: []string{"-4", "-2", "0", "2", "4", "6", "8"}},
		{desc: "small and negative", lo: -0.013, hi: -0.002, intervals: 6, wantLo: -0.014, wantHi: -0.002,
			wantLabels: []string{"-0.014", "-0.012", "-0.010", "-0.008", "-0.006", "-0.004", "-0.002"}},
		{desc: "large", lo: 1200, hi: 98000, intervals: 5, wantLo: 0, wantHi: 100000,
			wantLabels: []string{"0", "20000", "40000", "60000", "80000", "100000"}},
		{desc: "pinned ends keep their values", lo: 5, hi: 97, fixLo: true, fixHi: true, intervals: 6, wantLo: 5, wantHi: 97,
			wantLabels: []string{"20", "40", "60", "80"}},
		{desc: "pinned bottom, nice top", lo: 0, hi: 187, fixLo: true, intervals: 6, wantLo: 0, wantHi: 200,
			wantLabels: []string{"0", "50", "100", "150", "200"}},
		{desc: "one value", lo: 5, hi: 5, intervals: 6, wantLo: 4.4, wantHi: 5.6,
			wantLabels: []string{"4.4", "4.6", "4.8", "5.0", "5.2", "5.4", "5.6"}},
		{desc: "all zero", lo: 0, hi: 0, intervals: 5, wantLo: 0, wantHi: 1,
			wantLabels: []string{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}},
	}
	for _, tt := range tests {
		lo, hi, ticks := niceAxis(tt.lo, tt.hi, tt.fixLo, tt.fixHi, tt.intervals)
		var labels []string
		for _, tk := range ticks {
			labels = append(labels, tk.Label)
		}
		if !approxEqual(lo, tt.wantLo) || !approxEqual(hi, tt.wantHi) || !reflect.DeepEqual(labels, tt.wantLabels) {
			t.Errorf("%s: niceAxis(%g, %g) = %g, %g, %q; want %g, %g, %q",
				tt.desc, tt.lo, tt.hi, lo, hi, labels, tt.wantLo, tt.wantHi, tt.wantLabels)
		}
	}
}

func approxEqual(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func sample() Chart {
	return Chart{
		Title:  "Goodput vs loss",
		XLabel: "loss, %",
		YLabel: "goodput, Mbit/s",
		XTicks: []Tick{{0, "0"}, {1, "0.1"}, {2, "1"}, {3, "3"}},
		Series: []Series{
			{Name: "limpet", Points: []Point{{0, 94}, {1, 93}, {2, 80}, {3, 41}}},
			{Name: "tcp-cubic", Points: []Point{{0, 94}, {1, 60}, {2, 12}, {3, 3}}},
			{Name: "link limit", Dashed: true, Points: []Point{{0, 100}, {1, 99.9}, {2, 99}, {3, 97}}},
		},
		Markers: []Marker{{X: 1.5, Label: "a marker"}},
	}
}

func render(t *testing.T, c Chart) string {
	t.Helper()
	var b strings.Builder
	if err := c.WriteSVG(&b); err != nil {
		t.Fatalf("WriteSVG: %v", err)
	}
	return b.String()
}

// parse decodes the whole document, failing the test on malformed XML,
// and returns its character data.
func parse(t *testing.T, svg string) []string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	var text []string
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("output is not XML: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg" {
					t.Errorf("root element %v, want svg in the SVG namespace", tok.Name)
				}
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if s := strings.TrimSpace(string(tok)); s != "" {
				text = append(text, s)
			}
		}
	}
	if roots != 1 {
		t.Errorf("%d root elements, want 1", roots)
	}
	return text
}

func TestWriteSVGIsXMLWithEverySeries(t *testing.T) {
	text := parse(t, render(t, sample()))
	for _, want := range []string{"Goodput vs loss", "loss, %", "goodput, Mbit/s", "limpet", "tcp-cubic", "link limit", "a marker", "0.1", "3"} {
		if !contains(text, want) {
			t.Errorf("no text %q in %q", want, text)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestPointPixel(t *testing.T) {
	// With the y axis pinned to 0–100 and x data spanning nice ticks 0–10,
	// the point (5, 50) is the centre of the plot area, and (0, 0) its
	// bottom-left corner.
	c := Chart{
		Title:  "t",
		YMin:   new(0.0),
		YMax:   new(100.0),
		Series: []Series{{Name: "s", Points: []Point{{0, 0}, {5, 50}, {10, 100}}}},
	}
	l, err := c.layout()
	if err != nil {
		t.Fatal(err)
	}
	if l.xlo != 0 || l.xhi != 10 || l.ylo != 0 || l.yhi != 100 {
		t.Fatalf("axes %g–%g, %g–%g; want 0–10, 0–100", l.xlo, l.xhi, l.ylo, l.yhi)
	}
	svg := render(t, c)
	centre := num((l.left+l.right)/2) + "," + num((l.top+l.bottom)/2)
	corner := num(l.left) + "," + num(l.bottom)
	for _, want := range []string{`points="` + corner + " " + centre + " ", `cx="` + num((l.left+l.right)/2) + `" cy="` + num((l.top+l.bottom)/2) + `"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("no %s in\n%s", want, svg)
		}
	}
	// The plot area is inside the default 720×420 picture.
	if !(l.left > 0 && l.right < 720 && l.top > 0 && l.bottom < 420 && l.left < l.right && l.top < l.bottom) {
		t.Errorf("plot area %g–%g × %g–%g is not inside 720×420", l.left, l.right, l.top, l.bottom)
	}
}

func TestEscaping(t *testing.T) {
	c := sample()
	c.Title = `loss <1% & "quotes"`
	c.Series[0].Name = "a<b>&c"
	c.Markers[0].Label = "x & y"
	svg := render(t, c)
	if strings.Contains(svg, "<1%") || strings.Contains(svg, "a<b") || strings.Contains(svg, "x & y") {
		t.Errorf("unescaped text in\n%s", svg)
	}
	text := parse(t, svg)
	for _, want := range []string{c.Title, "a<b>&c", "x & y"} {
		if !contains(text, want) {
			t.Errorf("text %q does not round-trip: got %q", want, text)
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, b := render(t, sample()), render(t, sample())
	if a != b {
		t.Error("two renders of the same chart differ")
	}
}

func TestGapsAndEmptySeries(t *testing.T) {
	c := Chart{Series: []Series{
		{Name: "empty"},
		{Name: "gappy", Points: []Point{{0, 1}, {1, math.NaN()}, {2, 3}, {math.Inf(1), 4}, {4, 5}, {5, 6}}},
	}, Markers: []Marker{{X: math.NaN(), Label: "nowhere"}}}
	svg := render(t, c)
	text := parse(t, svg)
	if !contains(text, "empty") || !contains(text, "gappy") || contains(text, "nowhere") {
		t.Errorf("text %q: want both series named and no marker", text)
	}
	// Two single points and one line of two.
	if n := strings.Count(svg, "<polyline"); n != 1 {
		t.Errorf("%d polylines, want 1", n)
	}
	if strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
		t.Errorf("non-finite number in\n%s", svg)
	}
}

func TestNothingToPlot(t *testing.T) {
	for _, c := range []Chart{
		{},
		{Series: []Series{{Name: "empty"}}},
		{Series: []Series{{Name: "nan", Points: []Point{{math.NaN(), 1}, {1, math.NaN()}}}}, Markers: []Marker{{X: 1}}},
	} {
		var b bytes.Buffer
		if err := c.WriteSVG(&b); !errors.Is(err, ErrNoData) || b.Len() != 0 {
			t.Errorf("WriteSVG(%+v) = %v and %d bytes, want ErrNoData and nothing", c, err, b.Len())
		}
	}
}

func TestPinnedAxisBeyondData(t *testing.T) {
	// Data entirely below a pinned minimum still gives a valid picture.
	c := Chart{YMin: new(10.0), Series: []Series{{Name: "low", Points: []Point{{0, 1}, {1, 2}}}}}
	parse(t, render(t, c))
}

func TestWriteError(t *testing.T) {
	want := errors.New("disk full")
	if err := sample().WriteSVG(failingWriter{want}); !errors.Is(err, want) {
		t.Errorf("WriteSVG to a failing writer = %v, want %v", err, want)
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestLegendWraps(t *testing.T) {
	c := Chart{Title: "many"}
	for i := range 8 {
		c.Series = append(c.Series, Series{
			Name:   strings.Repeat("a long series name ", 2) + string(rune('A'+i)),
			Points: []Point{{0, float64(i)}, {1, float64(i + 1)}},
		})
	}
	l, err := c.layout()
	if err != nil {
		t.Fatal(err)
	}
	rows := map[float64]bool{}
	for _, e := range l.legend {
		rows[e.y] = true
		if e.x < l.left || e.x+24+charWidth*float64(len(c.Series[e.series].Name)) > l.right {
			t.Errorf("legend entry %d at x %g runs outside %g–%g", e.series, e.x, l.left, l.right)
		}
		if e.y <= l.bottom || e.y > l.height {
			t.Errorf("legend entry %d at y %g, want between the plot's bottom %g and %g", e.series, e.y, l.bottom, l.height)
		}
	}
	if len(rows) < 3 {
		t.Errorf("%d legend rows for 8 long names, want them wrapped", len(rows))
	}
	if text := parse(t, render(t, c)); !contains(text, c.Series[7].Name) {
		t.Errorf("the last series is missing from %q", text)
	}
}

// TestWriteStack: the charts sit one under the other in one document,
// each whole, the second starting where the first ends.
func TestWriteStack(t *testing.T) {
	top, bottom := sample(), sample()
	bottom.Title, bottom.Height = "Second chart", 300
	var b strings.Builder
	if err := WriteStack(&b, top, bottom); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	text := parse(t, svg)
	for _, want := range []string{"Goodput vs loss", "Second chart", "tcp-cubic"} {
		if !contains(text, want) {
			t.Errorf("stack lacks %q", want)
		}
	}
	if !strings.HasPrefix(svg, `<svg xmlns="http://www.w3.org/2000/svg" width="720" height="720"`) ||
		!strings.Contains(svg, `<svg xmlns="http://www.w3.org/2000/svg" y="0" width="720" height="420"`) ||
		!strings.Contains(svg, `<svg xmlns="http://www.w3.org/2000/svg" y="420" width="720" height="300"`) {
		t.Errorf("stack is not 720×720 with charts at y 0 and 420:\n%.400s", svg)
	}
	if err := WriteStack(&b, top, Chart{Title: "empty"}); !errors.Is(err, ErrNoData) {
		t.Errorf("a stack with an empty chart: %v, want ErrNoData", err)
	}
}
