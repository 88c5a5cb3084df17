package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/limpetnet/limpet/bench"
	"github.com/limpetnet/limpet/bench/netlab/linkem"
	"github.com/limpetnet/limpet/bench/svgplot"
)

// emulatedRow is a random-loss row where each protocol's median goodput is
// given in MB/s; a negative figure is a protocol whose runs all failed.
func emulatedRow(rtt time.Duration, loss float64, mbps map[string]float64) bench.PathResult {
	row := bench.PathResult{Path: bench.PathSpec{
		Name: "emulated", RateBitsPerSecond: 100_000_000, RTT: rtt, Loss: loss,
	}}
	for _, proto := range []string{bench.ProtocolLimpet, bench.ProtocolTCPCubic} {
		v, ok := mbps[proto]
		if !ok {
			continue
		}
		s := bench.Summary{Protocol: proto, Runs: 1, MBps: bench.Spread{Median: v, Min: v, Max: v}}
		if v < 0 {
			s = bench.Summary{Protocol: proto, Runs: 1, Failed: 1, Err: "timeout"}
		}
		row.BulkSummary = append(row.BulkSummary, s)
	}
	return row
}

// timeline is a transfer delivering rate bytes per second, sampled every
// millisecond from 1 ms until until.
func timeline(rate float64, until time.Duration) []bench.ProgressSample {
	var s []bench.ProgressSample
	for at := time.Millisecond; at <= until; at += time.Millisecond {
		s = append(s, bench.ProgressSample{At: at, Bytes: int64(rate * at.Seconds())})
	}
	return s
}

// syntheticReport has loopback, random-loss rows at RTT 50 ms (out of loss
// order, one protocol failing at 3 %) and 10 ms, rows that must not be
// plotted, a NAT rebinding row where TCP dies at the first change, and a
// blackout row whose changes came at different times for each protocol.
func syntheticReport() bench.Report {
	const mib = 1 << 20
	ms50, ms10 := 50*time.Millisecond, 10*time.Millisecond
	both := func(limpet, tcp float64) map[string]float64 {
		return map[string]float64{bench.ProtocolLimpet: limpet, bench.ProtocolTCPCubic: tcp}
	}
	bursty := emulatedRow(200*time.Millisecond, 0, both(10, 5))
	bursty.Path.Burst = linkem.GilbertElliott{P: 0.01, R: 0.25, LossBad: 1}
	skipped := emulatedRow(100*time.Millisecond, 0, nil)
	skipped.Skipped = "network lab unavailable"
	loopback := emulatedRow(0, 0, both(900, 1200))
	loopback.Path = bench.PathSpec{Name: "loopback", Loopback: true}

	rebind := &bench.DisruptionScenario{Change: bench.ChangeNATRebind, Count: 3, Every: 5 * time.Second, Size: 200 * mib}
	blackout := &bench.DisruptionScenario{Change: bench.ChangeBlackout, Count: 1, Size: 64 * mib, Blackout: 10 * time.Second}
	tcpTimeline := timeline(10*mib, 5*time.Second)
	// Rows of other MTUs and a CoDel row have no place among the
	// random-loss plots.
	jumbo := emulatedRow(ms10, 0, both(100, 100))
	jumbo.Path.MTU, jumbo.Path.RateBitsPerSecond = 9000, 1e9
	tunnel := emulatedRow(ms50, 0, both(1, 1))
	tunnel.Path.PathMTU = 1280
	codel := emulatedRow(ms50, 0, both(1, 1))
	codel.Path.CoDelECN = true
	mtuChange := &bench.DisruptionScenario{Change: bench.ChangePathMTU, Count: 1, Every: 3 * time.Second,
		PathMTU: 1280, MTURestore: 7 * time.Second, Size: 160 * mib}
	return bench.Report{
		Command:   "qbench -out results",
		Date:      time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Protocols: []string{bench.ProtocolTCPCubic, bench.ProtocolLimpet},
		Paths: []bench.PathResult{
			loopback,
			emulatedRow(ms50, 0.01, both(9, 2)),
			emulatedRow(ms50, 0, both(11.8, 11.7)),
			emulatedRow(ms50, 0.001, both(11.5, 8)),
			emulatedRow(ms50, 0.03, both(5, -1)),
			emulatedRow(ms10, 0, both(11.9, 11.9)),
			bursty,
			skipped,
			jumbo,
			tunnel,
			codel,
			{
				Path: bench.PathSpec{Name: "path MTU 1280 from 3 s to 10 s", RateBitsPerSecond: 100_000_000, RTT: ms50, Disruption: mtuChange},
				Disruptions: []bench.DisruptionResult{
					{Protocol: bench.DisruptTCP, Survived: true, Seconds: 15, Changes: []bench.ChangeOutcome{{At: 3 * time.Second, Resumed: true}, {At: 10 * time.Second, Resumed: true}},
						Timeline: timeline(10*mib, 15*time.Second)},
					{Protocol: bench.DisruptLimpet, Survived: true, Seconds: 14, Changes: []bench.ChangeOutcome{{At: 3 * time.Second, Resumed: true}, {At: 10 * time.Second, Resumed: true}},
						Timeline: timeline(11*mib, 14*time.Second)},
				},
			},
			{
				Path: bench.PathSpec{Name: "NAT rebinding every 5 s, 100 Mbit/s, RTT 50 ms", RateBitsPerSecond: 100_000_000, RTT: ms50, Disruption: rebind},
				Disruptions: []bench.DisruptionResult{
					{
						Protocol: bench.DisruptTCP, Bytes: tcpTimeline[len(tcpTimeline)-1].Bytes, Seconds: 5.2,
						Err:      "server after 50.0 MiB: read tcp: connection reset by peer",
						Changes:  []bench.ChangeOutcome{{At: 5 * time.Second}},
						Timeline: tcpTimeline,
					},
					{
						Protocol: bench.DisruptLimpet, Survived: true, Bytes: 200 * mib, Seconds: 20,
						Changes: []bench.ChangeOutcome{
							{At: 5 * time.Second, Resumed: true}, {At: 10 * time.Second, Resumed: true}, {At: 15 * time.Second, Resumed: true},
						},
						Timeline: timeline(10*mib, 20*time.Second),
					},
				},
			},
			{
				Path: bench.PathSpec{Name: "10 s blackout, 100 Mbit/s, RTT 50 ms", RateBitsPerSecond: 100_000_000, RTT: ms50, Disruption: blackout},
				Disruptions: []bench.DisruptionResult{
					{Protocol: bench.DisruptTCP, Survived: true, Seconds: 25, Changes: []bench.ChangeOutcome{{At: 13 * time.Second, Resumed: true}},
						Timeline: timeline(2.56*mib, 25*time.Second)},
					{Protocol: bench.DisruptLimpet, Survived: true, Seconds: 22, Changes: []bench.ChangeOutcome{{At: 12 * time.Second, Resumed: true}},
						Timeline: timeline(2.9*mib, 22*time.Second)},
				},
			},
		},
	}
}

var wantPlots = map[string][]string{ // file: the series it names
	"goodput-vs-loss-rtt10ms.svg":  {"tcp-cubic", "limpet", "link limit"},
	"goodput-vs-loss-rtt50ms.svg":  {"tcp-cubic", "limpet", "link limit"},
	"nat-rebinding-timeline.svg":   {"tcp (connection reset)", "limpet"},
	"blackout-timeline.svg":        {"tcp", "limpet"},
	"path-mtu-change-timeline.svg": {"tcp", "limpet", "path MTU 1280", "path MTU restored"},
}

func TestWritePlots(t *testing.T) {
	dir := t.TempDir()
	if err := writePlots(dir, syntheticReport()); err != nil {
		t.Fatalf("writePlots: %v", err)
	}
	checkPlots(t, dir)
}

// checkPlots checks that dir holds exactly the plots of syntheticReport,
// each an XML document naming its series.
func checkPlots(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".svg") {
			got = append(got, e.Name())
		}
	}
	for f := range wantPlots {
		want = append(want, f)
	}
	slices.Sort(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plots %q, want %q", got, want)
	}
	for _, f := range got {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 200_000 {
			t.Errorf("%s is %d bytes, want a small file", f, len(b))
		}
		text := svgText(t, f, b)
		for _, name := range wantPlots[f] {
			if !slices.Contains(text, name) {
				t.Errorf("%s does not name series %q: text %q", f, name, text)
			}
		}
	}
}

// svgText decodes a whole SVG document and returns its character data.
func svgText(t *testing.T, name string, b []byte) []string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(b)))
	var text []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return text
		}
		if err != nil {
			t.Fatalf("%s is not XML: %v", name, err)
		}
		if cd, ok := tok.(xml.CharData); ok {
			if s := strings.TrimSpace(string(cd)); s != "" {
				text = append(text, s)
			}
		}
	}
}

func findPlot(t *testing.T, plots []plot, file string) svgplot.Chart {
	t.Helper()
	for _, p := range plots {
		if p.file == file {
			return p.chart
		}
	}
	t.Fatalf("no plot %s", file)
	return svgplot.Chart{}
}

func findSeries(t *testing.T, c svgplot.Chart, name string) svgplot.Series {
	t.Helper()
	for _, s := range c.Series {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("chart %q has no series %q", c.Title, name)
	return svgplot.Series{}
}

func TestGoodputPlot(t *testing.T) {
	c := findPlot(t, reportPlots(syntheticReport()), "goodput-vs-loss-rtt50ms.svg")
	if c.Title != "Goodput vs loss, 100 Mbit/s, RTT 50 ms" {
		t.Errorf("title %q", c.Title)
	}
	var ticks []string
	for _, tk := range c.XTicks {
		ticks = append(ticks, tk.Label)
	}
	if want := []string{"0", "0.1", "1", "3"}; !reflect.DeepEqual(ticks, want) {
		t.Errorf("x ticks %q, want %q", ticks, want)
	}
	var names []string
	for _, s := range c.Series {
		names = append(names, s.Name)
	}
	if want := []string{"tcp-cubic", "limpet", "link limit"}; !reflect.DeepEqual(names, want) {
		t.Errorf("series %q, want %q (the report's protocol order, then the limit)", names, want)
	}
	ys := func(s svgplot.Series) []float64 {
		var y []float64
		for i, p := range s.Points {
			if p.X != float64(i) {
				t.Errorf("%s: point %d at x %g", s.Name, i, p.X)
			}
			y = append(y, p.Y)
		}
		return y
	}
	wantY := map[string][]float64{
		"limpet":     {94.4, 92, 72, 40},
		"tcp-cubic":  {93.6, 64, 16, math.NaN()},
		"link limit": {100, 99.9, 99, 97},
	}
	for name, want := range wantY {
		got := ys(findSeries(t, c, name))
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", name, got, want)
			continue
		}
		for i := range want {
			if !(math.IsNaN(want[i]) && math.IsNaN(got[i]) || math.Abs(got[i]-want[i]) < 1e-9) {
				t.Errorf("%s: %v, want %v", name, got, want)
				break
			}
		}
	}
	if !findSeries(t, c, "link limit").Dashed {
		t.Error("the link limit is not dashed")
	}
}

func TestTimelinePlots(t *testing.T) {
	plots := reportPlots(syntheticReport())
	c := findPlot(t, plots, "nat-rebinding-timeline.svg")
	var at []float64
	for _, m := range c.Markers {
		if m.Label != "NAT rebinding" {
			t.Errorf("marker label %q, want NAT rebinding", m.Label)
		}
		at = append(at, m.X)
	}
	if want := []float64{5, 10, 15}; !reflect.DeepEqual(at, want) {
		t.Errorf("markers at %v s, want %v (the limpet run's changes)", at, want)
	}
	tcp := findSeries(t, c, "tcp (connection reset)")
	limpet := findSeries(t, c, "limpet")
	for _, s := range []svgplot.Series{tcp, limpet} {
		if len(s.Points) > maxTimelinePoints {
			t.Errorf("%s: %d points, want at most %d", s.Name, len(s.Points), maxTimelinePoints)
		}
		if s.Points[0] != (svgplot.Point{}) {
			t.Errorf("%s starts at %v, want the origin", s.Name, s.Points[0])
		}
	}
	// TCP's line runs flat from its last byte, at 5 s and 50 MiB, to the
	// end of limpet's run.
	n := len(tcp.Points)
	if want := []svgplot.Point{{X: 5, Y: 50}, {X: 20, Y: 50}}; !reflect.DeepEqual(tcp.Points[n-2:], want) {
		t.Errorf("tcp ends with %v, want %v", tcp.Points[n-2:], want)
	}
	if last := limpet.Points[len(limpet.Points)-1]; last != (svgplot.Point{X: 20, Y: 200}) {
		t.Errorf("limpet ends at %v, want 20 s and 200 MiB", last)
	}

	// The blackout's changes came at different times in the two runs.
	c = findPlot(t, plots, "blackout-timeline.svg")
	want := []svgplot.Marker{
		{X: 3, Label: "blackout (tcp)"}, {X: 13, Label: "path restored (tcp)"},
		{X: 2, Label: "blackout (limpet)"}, {X: 12, Label: "path restored (limpet)"},
	}
	if !reflect.DeepEqual(c.Markers, want) {
		t.Errorf("blackout markers %v, want %v", c.Markers, want)
	}

	c = findPlot(t, plots, "path-mtu-change-timeline.svg")
	want = []svgplot.Marker{{X: 3, Label: "path MTU 1280"}, {X: 10, Label: "path MTU restored"}}
	if !reflect.DeepEqual(c.Markers, want) {
		t.Errorf("path MTU markers %v, want %v", c.Markers, want)
	}
}

func TestWritePlotsWithoutData(t *testing.T) {
	r := syntheticReport()
	r.Paths = r.Paths[:1] // loopback only
	dir := t.TempDir()
	if err := writePlots(dir, r); err != nil {
		t.Fatalf("writePlots of a loopback-only report: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("wrote %v, want nothing", entries)
	}
	if err := writePlots(filepath.Join(dir, "missing"), syntheticReport()); err == nil {
		t.Error("writePlots into a missing directory succeeded")
	}
}

func TestReplot(t *testing.T) {
	r := syntheticReport()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	direct, dir := t.TempDir(), filepath.Join(t.TempDir(), "plots")
	r.ThinTimelines(timelineSamples) // as -replot does before drawing
	if err := writePlots(direct, r); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr strings.Builder
	if code := run(context.Background(), []string{"-replot", file, "-out", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d, stderr %q", code, stderr.String())
	}
	checkPlots(t, dir)
	// The report survives the trip through JSON: the same plots, byte for byte.
	for f := range wantPlots {
		a, _ := os.ReadFile(filepath.Join(direct, f))
		b, _ := os.ReadFile(filepath.Join(dir, f))
		if string(a) != string(b) {
			t.Errorf("%s differs between writePlots and -replot", f)
		}
	}
	var rewritten bench.Report
	if b, err := os.ReadFile(filepath.Join(dir, "report.json")); err != nil || json.Unmarshal(b, &rewritten) != nil {
		t.Fatalf("report.json in the -out directory: %v", err)
	}
	samples := 0
	for _, p := range rewritten.Paths {
		for _, d := range p.Disruptions {
			if len(d.Timeline) > timelineSamples {
				t.Errorf("%s %s: %d timeline samples in the rewritten report.json, want at most %d", p.Path.Name, d.Protocol, len(d.Timeline), timelineSamples)
			}
			samples += len(d.Timeline)
		}
	}
	if samples == 0 {
		t.Error("the rewritten report.json lost its timelines")
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil || !strings.Contains(string(md), "## qbench, 2025-01-02 03:04:05 UTC") {
		t.Errorf("report.md: %v, %.80q", err, md)
	}
}

func TestReplotErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc string
		args []string
		want string
	}{
		{desc: "no -out", args: []string{"-replot", bad}, want: "-replot needs -out"},
		{desc: "missing file", args: []string{"-replot", bad + ".missing", "-out", t.TempDir()}, want: "no such file"},
		{desc: "not JSON", args: []string{"-replot", bad, "-out", t.TempDir()}, want: "invalid character"},
	}
	for _, tt := range tests {
		var stdout, stderr strings.Builder
		if code := run(context.Background(), tt.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%s: exit code %d, stderr %q; want 2 and %q", tt.desc, code, stderr.String(), tt.want)
		}
	}
}
