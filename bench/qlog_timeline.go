package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/limpetnet/limpet/bench/svgplot"
)

// QlogTimeline is what a connection's qlog trace (a JSON-SEQ .sqlog file,
// as limpet's transport/qlog writes and qvis reads) says over time: the
// congestion window, bytes in flight and RTTs from each
// recovery:metrics_updated event, the packets declared lost, and the path
// changes. Times are milliseconds from the trace's start.
type QlogTimeline struct {
	Title                  string
	CongestionWindow       []svgplot.Point // bytes
	BytesInFlight          []svgplot.Point // bytes
	SmoothedRTT, LatestRTT []svgplot.Point // ms
	MinRTT                 []svgplot.Point // ms
	Lost                   []float64       // times of packet_lost events
	PathChanges            []float64       // times of path_assigned events
	Events, SkippedRecords int             // records read, and ones that were not events
}

// maxQlogRecord bounds one JSON-SEQ record: an event with every frame of a
// packet is a few kilobytes.
const maxQlogRecord = 1 << 20

// ReadQlogTimeline reads a JSON-SEQ qlog trace (RFC 7464 records: 0x1E,
// JSON, line feed). A record that is not JSON, such as the truncated last
// one of a trace cut short, is counted and skipped, as RFC 7464 asks; a
// file with no header, or whose events carry no metrics, is an error.
func ReadQlogTimeline(r io.Reader) (*QlogTimeline, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxQlogRecord)
	sc.Split(splitJSONSeq)
	t := &QlogTimeline{}
	header := false
	for sc.Scan() {
		rec := sc.Bytes()
		if len(rec) == 0 {
			continue
		}
		if !header {
			var h struct {
				Title string `json:"title"`
				Trace struct {
					VantagePoint struct {
						Type string `json:"type"`
					} `json:"vantage_point"`
					CommonFields struct {
						GroupID string `json:"group_id"`
					} `json:"common_fields"`
				} `json:"trace"`
				Format string `json:"serialization_format"`
				Old    string `json:"qlog_format"`
			}
			if err := json.Unmarshal(rec, &h); err != nil || (h.Format == "" && h.Old == "") {
				return nil, errors.New("qlog: the first record is not a JSON-SEQ qlog header")
			}
			header = true
			t.Title = fmt.Sprintf("%s %s", h.Trace.VantagePoint.Type, h.Trace.CommonFields.GroupID)
			continue
		}
		var ev struct {
			Time float64        `json:"time"`
			Name string         `json:"name"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(rec, &ev); err != nil || ev.Name == "" || !finite(ev.Time) {
			t.SkippedRecords++
			continue
		}
		t.Events++
		t.add(ev.Time, ev.Name, ev.Data)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("qlog: %w", err)
	}
	if !header {
		return nil, errors.New("qlog: empty file")
	}
	if len(t.CongestionWindow)+len(t.SmoothedRTT)+len(t.BytesInFlight) == 0 {
		return nil, errors.New("qlog: no recovery:metrics_updated events (the trace's level must be qlog.LevelConn or finer)")
	}
	return t, nil
}

func (t *QlogTimeline) add(ms float64, name string, data map[string]any) {
	metric := func(key string, scale float64, to *[]svgplot.Point) {
		if v, ok := data[key].(float64); ok && finite(v) {
			*to = append(*to, svgplot.Point{X: ms, Y: v * scale})
		}
	}
	switch name {
	case "recovery:metrics_updated", "quic:recovery_metrics_updated":
		metric("congestion_window", 1, &t.CongestionWindow)
		metric("bytes_in_flight", 1, &t.BytesInFlight)
		metric("smoothed_rtt", 1, &t.SmoothedRTT)
		metric("latest_rtt", 1, &t.LatestRTT)
		metric("min_rtt", 1, &t.MinRTT)
	case "recovery:packet_lost", "quic:packet_lost":
		t.Lost = append(t.Lost, ms)
	case "connectivity:path_assigned", "quic:path_assigned", "quic:tuple_assigned":
		t.PathChanges = append(t.PathChanges, ms)
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// splitJSONSeq splits RFC 7464 text into records: the bytes between one
// record separator (0x1E) and the next, surrounding whitespace trimmed.
func splitJSONSeq(data []byte, atEOF bool) (advance int, token []byte, err error) {
	start := bytes.IndexByte(data, 0x1e)
	if start < 0 {
		return len(data), nil, nil // text before any separator is not a record
	}
	end := bytes.IndexByte(data[start+1:], 0x1e)
	if end < 0 {
		if !atEOF {
			return start, nil, nil // wait for the rest of the record
		}
		end = len(data) - start - 1
	}
	return start + 1 + end, bytes.TrimSpace(data[start+1 : start+1+end]), nil
}

// Charts draws the timeline: the congestion window and bytes in flight,
// then the RTTs, both over the trace's time in seconds, with every loss a
// tick along the bottom of the first and each path change a marker.
func (t *QlogTimeline) Charts(maxPoints int) []svgplot.Chart {
	secs := func(ps []svgplot.Point, scale float64) []svgplot.Point {
		out := make([]svgplot.Point, len(ps))
		for i, p := range ps {
			out[i] = svgplot.Point{X: p.X / 1000, Y: p.Y * scale}
		}
		return svgplot.Downsample(out, maxPoints)
	}
	var markers []svgplot.Marker
	for i, ms := range t.PathChanges {
		label := "path change"
		if i > 0 {
			label = ""
		}
		markers = append(markers, svgplot.Marker{X: ms / 1000, Label: label})
	}
	window := svgplot.Chart{
		Title:  fmt.Sprintf("%s: congestion window and bytes in flight", t.Title),
		XLabel: "time, s", YLabel: "KiB",
		// The window last, so that it shows where bytes in flight fill it.
		Series: []svgplot.Series{
			{Name: "bytes in flight", Points: secs(t.BytesInFlight, 1.0/1024), Color: svgplot.Palette[2]},
			{Name: "congestion window", Points: secs(t.CongestionWindow, 1.0/1024), Color: svgplot.Palette[0]},
		},
		Markers: markers,
	}
	if len(t.Lost) > 0 {
		// Losses as a row of short vertical strokes on the x axis: each is
		// a pair of points with a NaN between pairs to break the line.
		var pts []svgplot.Point
		var top float64
		for _, p := range t.CongestionWindow {
			top = max(top, p.Y/1024)
		}
		h := max(top*0.04, 1)
		for _, ms := range t.Lost {
			x := ms / 1000
			pts = append(pts, svgplot.Point{X: x, Y: 0}, svgplot.Point{X: x, Y: h}, svgplot.Point{X: math.NaN(), Y: math.NaN()})
		}
		window.Series = append(window.Series, svgplot.Series{
			Name: fmt.Sprintf("packet lost (%d)", len(t.Lost)), Points: pts, Color: svgplot.Palette[1]})
	}
	rtt := svgplot.Chart{
		Title:  fmt.Sprintf("%s: round-trip time", t.Title),
		XLabel: "time, s", YLabel: "ms",
		Series: []svgplot.Series{
			{Name: "smoothed RTT", Points: secs(t.SmoothedRTT, 1), Color: svgplot.Palette[0]},
			{Name: "latest RTT", Points: secs(t.LatestRTT, 1), Color: svgplot.Palette[5]},
			{Name: "min RTT", Points: secs(t.MinRTT, 1), Dashed: true, Color: svgplot.Palette[6]},
		},
		Markers: markers,
	}
	return []svgplot.Chart{window, rtt}
}
