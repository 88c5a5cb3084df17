package main

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/limpetnet/limpet/bench"
	"github.com/limpetnet/limpet/bench/netlab/linkem"
	"github.com/limpetnet/limpet/bench/svgplot"
)

// maxTimelinePoints bounds each line of a timeline plot, so that a
// committed SVG stays a few tens of kilobytes: the server's progress is
// logged every millisecond, far finer than the plot's pixels.
const maxTimelinePoints = 2000

// protocolColours keeps a protocol's colour the same in every plot; TCP in
// the path-change plots runs the kernel's default, CUBIC.
var protocolColours = map[string]string{
	bench.ProtocolLimpet:       svgplot.Palette[0],
	bench.ProtocolTCPCubic:     svgplot.Palette[1],
	bench.DisruptTCP:           svgplot.Palette[1],
	bench.ProtocolTCPBBR:       svgplot.Palette[2],
	bench.ProtocolQuicGo:       svgplot.Palette[3],
	bench.ProtocolTLS:          svgplot.Palette[4],
	bench.DisruptLimpetSession: svgplot.Palette[5],
}

// linkLimitColour draws the link's capacity, a reference rather than a
// measurement.
const linkLimitColour = "#777777"

// plot is one SVG file of a report.
type plot struct {
	file  string
	chart svgplot.Chart
}

// writePlots writes the SVG plots of a report into dir: goodput against
// loss for each RTT of the random-loss rows, and delivery over time for the
// NAT rebinding, client IP change, blackout and path MTU change rows. Plots whose rows the
// report lacks are left out; the only errors are failures to write.
func writePlots(dir string, r bench.Report) error {
	for _, p := range reportPlots(r) {
		var b bytes.Buffer
		if err := p.chart.WriteSVG(&b); err != nil {
			if errors.Is(err, svgplot.ErrNoData) {
				continue
			}
			return fmt.Errorf("plotting %s: %w", p.file, err)
		}
		if err := os.WriteFile(filepath.Join(dir, p.file), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// reportPlots are the plots the report has data for.
func reportPlots(r bench.Report) []plot {
	plots := goodputPlots(r)
	for _, t := range []struct {
		change bench.PathChange
		file   string
		label  string
	}{
		{bench.ChangeNATRebind, "nat-rebinding-timeline.svg", "NAT rebinding"},
		{bench.ChangeClientIP, "client-ip-change-timeline.svg", "client IP change"},
		{bench.ChangeBlackout, "blackout-timeline.svg", "path restored"},
		{bench.ChangePathMTU, "path-mtu-change-timeline.svg", "path MTU"},
		{bench.ChangePathMTUBlackHole, "path-mtu-black-hole-timeline.svg", "black hole"},
	} {
		for _, row := range r.Paths {
			if row.Skipped != "" || row.Path.Disruption == nil || row.Path.Disruption.Change != t.change {
				continue
			}
			if c, ok := timelineChart(row, t.label); ok {
				plots = append(plots, plot{file: t.file, chart: c})
				break
			}
		}
	}
	return plots
}

// randomLossRow reports whether a row measured bulk goodput on an emulated
// link with independent random loss and nothing else: no other MTU, no
// CoDel.
func randomLossRow(row bench.PathResult) bool {
	p := row.Path
	return row.Skipped == "" && len(row.BulkSummary) > 0 && !p.Loopback && p.RateBitsPerSecond > 0 &&
		p.Disruption == nil && p.Fairness == "" &&
		p.Burst == (linkem.GilbertElliott{}) && p.Reorder == (linkem.Reorder{}) &&
		p.MTU == 0 && p.PathMTU == 0 && !p.CoDelECN
}

// goodputPlots draws one chart per link (rate and RTT) of the random-loss
// rows: the bulk goodput of each protocol against the loss rate, with the
// link's capacity left by the loss for reference.
func goodputPlots(r bench.Report) []plot {
	type link struct {
		rate uint64
		rtt  time.Duration
	}
	var links []link
	rows := map[link][]bench.PathResult{}
	rates := map[uint64]bool{}
	for _, row := range r.Paths {
		if !randomLossRow(row) {
			continue
		}
		l := link{row.Path.RateBitsPerSecond, row.Path.RTT}
		if _, seen := rows[l]; !seen {
			links = append(links, l)
		}
		rows[l] = append(rows[l], row)
		rates[l.rate] = true
	}
	slices.SortFunc(links, func(a, b link) int {
		return cmp.Or(cmp.Compare(a.rtt, b.rtt), cmp.Compare(a.rate, b.rate))
	})

	var plots []plot
	for _, l := range links {
		group := slices.Clone(rows[l])
		slices.SortStableFunc(group, func(a, b bench.PathResult) int { return cmp.Compare(a.Path.Loss, b.Path.Loss) })
		group = slices.CompactFunc(group, func(a, b bench.PathResult) bool { return a.Path.Loss == b.Path.Loss })

		c := svgplot.Chart{
			Title:  fmt.Sprintf("Goodput vs loss, %s, RTT %s ms", formatRate(l.rate), formatMillis(l.rtt)),
			XLabel: "random loss in each direction, %",
			YLabel: "bulk goodput, Mbit/s (median)",
			YMin:   new(0.0),
		}
		limit := svgplot.Series{Name: "link limit", Dashed: true, Color: linkLimitColour}
		for i, row := range group {
			c.XTicks = append(c.XTicks, svgplot.Tick{Value: float64(i), Label: strconv.FormatFloat(row.Path.Loss*100, 'g', 6, 64)})
			limit.Points = append(limit.Points, svgplot.Point{X: float64(i), Y: float64(l.rate) / 1e6 * (1 - row.Path.Loss)})
		}
		for _, proto := range summaryProtocols(r.Protocols, group) {
			s := svgplot.Series{Name: proto, Color: protocolColours[proto]}
			measured := false
			for i, row := range group {
				y := math.NaN() // a gap where the protocol failed or did not run
				if sum := findSummary(row.BulkSummary, proto); sum != nil && sum.OK() {
					y, measured = sum.MBps.Median*8, true // MB/s of 10^6 bytes to Mbit/s
				}
				s.Points = append(s.Points, svgplot.Point{X: float64(i), Y: y})
			}
			if measured {
				c.Series = append(c.Series, s)
			}
		}
		if len(c.Series) == 0 {
			continue
		}
		c.Series = append(c.Series, limit)
		file := fmt.Sprintf("goodput-vs-loss-rtt%sms.svg", formatMillis(l.rtt))
		if len(rates) > 1 {
			file = fmt.Sprintf("goodput-vs-loss-%gmbit-rtt%sms.svg", float64(l.rate)/1e6, formatMillis(l.rtt))
		}
		plots = append(plots, plot{file: file, chart: c})
	}
	return plots
}

// summaryProtocols lists the protocols of the rows' bulk summaries: those
// of the report's protocol list first, in its order, then any others in
// the order they appear.
func summaryProtocols(listed []string, rows []bench.PathResult) []string {
	var found []string
	for _, row := range rows {
		for _, s := range row.BulkSummary {
			if !slices.Contains(found, s.Protocol) {
				found = append(found, s.Protocol)
			}
		}
	}
	var out []string
	for _, p := range listed {
		if slices.Contains(found, p) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, p := range found {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func findSummary(rows []bench.Summary, protocol string) *bench.Summary {
	for i := range rows {
		if rows[i].Protocol == protocol {
			return &rows[i]
		}
	}
	return nil
}

// timelineChart draws the data delivered over time by the first run of each
// protocol of a migration row, with the path changes marked. A run that
// failed is drawn flat from its last byte to the end of the longest run, so
// that a dead connection shows as a line that stops rising.
func timelineChart(row bench.PathResult, changeLabel string) (svgplot.Chart, bool) {
	var runs []bench.DisruptionResult
	for _, d := range row.Disruptions {
		if len(d.Timeline) == 0 || slices.ContainsFunc(runs, func(r bench.DisruptionResult) bool { return r.Protocol == d.Protocol }) {
			continue
		}
		runs = append(runs, d)
	}
	if len(runs) == 0 {
		return svgplot.Chart{}, false
	}
	var end time.Duration
	for _, r := range runs {
		end = max(end, time.Duration(r.Seconds*float64(time.Second)), r.Timeline[len(r.Timeline)-1].At)
	}

	c := svgplot.Chart{
		Title:   "Delivery over time: " + row.Path.Name,
		XLabel:  "time since the dial, s",
		YLabel:  "delivered to the server, MiB",
		YMin:    new(0.0),
		Markers: changeMarkers(row.Path.Disruption, runs, changeLabel),
	}
	for _, r := range runs {
		const mib = 1 << 20
		var pts []svgplot.Point
		if r.Timeline[0].At > 0 {
			pts = append(pts, svgplot.Point{})
		}
		for _, s := range r.Timeline {
			pts = append(pts, svgplot.Point{X: s.At.Seconds(), Y: float64(s.Bytes) / mib})
		}
		last := pts[len(pts)-1]
		if !r.Survived && end.Seconds() > last.X {
			pts = append(pts, svgplot.Point{X: end.Seconds(), Y: last.Y})
		}
		name := r.Protocol
		if !r.Survived {
			name += " (" + failureNote(r) + ")"
		}
		c.Series = append(c.Series, svgplot.Series{
			Name: name, Color: protocolColours[r.Protocol], Points: svgplot.Downsample(pts, maxTimelinePoints),
		})
	}
	return c, true
}

// failureNote is how a failed run is named in a legend: its outcome, if
// that is short enough.
func failureNote(r bench.DisruptionResult) string {
	if o := r.Outcome(); len(o) <= 32 {
		return o
	}
	return "failed"
}

// changeMarkerTolerance is how far apart two runs' changes may be and still
// be drawn as one marker.
const changeMarkerTolerance = 100 * time.Millisecond

// changeMarkers marks the path changes. Changes made on a clock happen at
// the same times in every run, so the run that lived through the most of
// them gives the markers; changes triggered by progress come at different
// times for different protocols, and then each run's changes are marked
// with the protocol's name, unless they coincide anyway. A blackout is
// marked where it began and where the path was restored; a path MTU change
// where the MTU dropped (label and the MTU) and where it rose back (label
// "removed" or "restored").
func changeMarkers(sc *bench.DisruptionScenario, runs []bench.DisruptionResult, label string) []svgplot.Marker {
	most := 0
	for i, r := range runs {
		if len(r.Changes) > len(runs[most].Changes) {
			most = i
		}
	}
	shared := sc.Every > 0
	if !shared {
		shared = true
		for _, r := range runs {
			if len(r.Changes) == 0 {
				continue
			}
			if len(r.Changes) != len(runs[most].Changes) {
				shared = false
				break
			}
			for i, ch := range r.Changes {
				if (ch.At - runs[most].Changes[i].At).Abs() > changeMarkerTolerance {
					shared = false
				}
			}
		}
	}
	var markers []svgplot.Marker
	mtu := sc.Change == bench.ChangePathMTU || sc.Change == bench.ChangePathMTUBlackHole
	add := func(r bench.DisruptionResult, suffix string) {
		for i, ch := range r.Changes {
			if sc.Change == bench.ChangeBlackout && sc.Blackout > 0 {
				markers = append(markers, svgplot.Marker{X: (ch.At - sc.Blackout).Seconds(), Label: "blackout" + suffix})
			}
			l := label
			switch {
			case mtu && sc.MTURestore > 0 && i%2 == 1:
				l += " restored"
				if sc.Change == bench.ChangePathMTUBlackHole {
					l = label + " removed"
				}
			case mtu:
				l += fmt.Sprintf(" %d", sc.PathMTU)
			}
			markers = append(markers, svgplot.Marker{X: ch.At.Seconds(), Label: l + suffix})
		}
	}
	if shared {
		add(runs[most], "")
		return markers
	}
	for _, r := range runs {
		add(r, " ("+r.Protocol+")")
	}
	return markers
}

// formatRate writes a link rate in Mbit/s.
func formatRate(bps uint64) string {
	return strconv.FormatFloat(float64(bps)/1e6, 'g', -1, 64) + " Mbit/s"
}

// formatMillis writes a duration in whole or fractional milliseconds.
func formatMillis(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'g', -1, 64)
}
