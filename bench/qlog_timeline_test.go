package bench

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/limpetnet/limpet/bench/svgplot"
)

const qlogHeader = "\x1e{\"file_schema\":\"urn:ietf:params:qlog:file:sequential\",\"serialization_format\":\"application/qlog+json-seq\",\"trace\":{\"vantage_point\":{\"type\":\"client\"},\"common_fields\":{\"group_id\":\"ab12\"}}}\n"

func TestReadQlogTimeline(t *testing.T) {
	trace := qlogHeader +
		"\x1e{\"time\":1.5,\"name\":\"recovery:metrics_updated\",\"data\":{\"congestion_window\":14720,\"bytes_in_flight\":1200}}\n" +
		"\x1e{\"time\":52,\"name\":\"recovery:metrics_updated\",\"data\":{\"congestion_window\":29440,\"bytes_in_flight\":0,\"smoothed_rtt\":50.5,\"latest_rtt\":50.5,\"min_rtt\":50.2}}\n" +
		"\x1e{\"time\":60,\"name\":\"recovery:packet_lost\",\"data\":{\"header\":{\"packet_type\":\"1RTT\",\"packet_number\":7}}}\n" +
		"\x1e{\"time\":61,\"name\":\"connectivity:path_assigned\",\"data\":{\"path_id\":\"1\"}}\n" +
		"\x1e{\"time\":62,\"name\":\"transport:packet_sent\",\"data\":{\"header\":{\"packet_type\":\"1RTT\",\"packet_number\":9}}}\n" +
		"\x1e{\"time\":63,\"name\":\"recovery:metri" // cut short, as a trace of a killed process is
	tl, err := ReadQlogTimeline(strings.NewReader(trace))
	if err != nil {
		t.Fatal(err)
	}
	want := QlogTimeline{
		Title:            "client ab12",
		CongestionWindow: []svgplot.Point{{X: 1.5, Y: 14720}, {X: 52, Y: 29440}},
		BytesInFlight:    []svgplot.Point{{X: 1.5, Y: 1200}, {X: 52, Y: 0}},
		SmoothedRTT:      []svgplot.Point{{X: 52, Y: 50.5}},
		LatestRTT:        []svgplot.Point{{X: 52, Y: 50.5}},
		MinRTT:           []svgplot.Point{{X: 52, Y: 50.2}},
		Lost:             []float64{60},
		PathChanges:      []float64{61},
		Events:           5,
		SkippedRecords:   1,
	}
	if got := *tl; !equalTimelines(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	var svg bytes.Buffer
	if err := svgplot.WriteStack(&svg, tl.Charts(100)...); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"client ab12: congestion window and bytes in flight", "packet lost (1)", "path change", "smoothed RTT"} {
		if !strings.Contains(svg.String(), s) {
			t.Errorf("plot lacks %q", s)
		}
	}

	for _, bad := range []struct{ desc, trace string }{
		{"empty", ""},
		{"no header", "\x1e{\"time\":1,\"name\":\"recovery:metrics_updated\",\"data\":{}}\n"},
		{"no metrics", qlogHeader + "\x1e{\"time\":1,\"name\":\"transport:packet_sent\",\"data\":{}}\n"},
		{"a record over 1 MiB", qlogHeader + "\x1e" + strings.Repeat(" ", 2<<20) + "{}"},
	} {
		if _, err := ReadQlogTimeline(strings.NewReader(bad.trace)); err == nil {
			t.Errorf("%s: no error", bad.desc)
		}
	}
}

// TestReadQlogTimelineSample reads the sample committed in docs/qlog.
func TestReadQlogTimelineSample(t *testing.T) {
	f, err := os.Open("../docs/qlog/lossy-1pct-50ms_client.sqlog")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tl, err := ReadQlogTimeline(f)
	if err != nil {
		t.Fatal(err)
	}
	if tl.SkippedRecords != 0 || len(tl.Lost) == 0 || len(tl.CongestionWindow) < 100 || len(tl.SmoothedRTT) < 100 {
		t.Errorf("sample: %d events, %d skipped, %d losses, %d window points, %d RTT points",
			tl.Events, tl.SkippedRecords, len(tl.Lost), len(tl.CongestionWindow), len(tl.SmoothedRTT))
	}
}

func FuzzReadQlogTimeline(f *testing.F) {
	f.Add([]byte(qlogHeader + "\x1e{\"time\":1,\"name\":\"recovery:metrics_updated\",\"data\":{\"congestion_window\":1}}\n"))
	f.Add([]byte(qlogHeader + "\x1e{\"time\":1e400,\"name\":\"recovery:packet_lost\",\"data\":null}\n\x1e\x1e\n"))
	f.Add([]byte("\x1e{\"qlog_format\":\"JSON-SEQ\"}\x1e{\"time\":\"x\"}\x1e[1,2]"))
	f.Add([]byte("garbage\x1e"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tl, err := ReadQlogTimeline(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever was read draws, or fails with ErrNoData, never panics.
		var b bytes.Buffer
		svgplot.WriteStack(&b, tl.Charts(50)...)
	})
}

func equalTimelines(a, b QlogTimeline) bool {
	return a.Title == b.Title && slices.Equal(a.CongestionWindow, b.CongestionWindow) && slices.Equal(a.BytesInFlight, b.BytesInFlight) &&
		slices.Equal(a.SmoothedRTT, b.SmoothedRTT) && slices.Equal(a.LatestRTT, b.LatestRTT) && slices.Equal(a.MinRTT, b.MinRTT) &&
		slices.Equal(a.Lost, b.Lost) && slices.Equal(a.PathChanges, b.PathChanges) && a.Events == b.Events && a.SkippedRecords == b.SkippedRecords
}
