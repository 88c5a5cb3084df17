package qlog

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"
)

// TestHandlerWritesConnectionTrace logs a connection's events through the
// handler and decodes the file: a header record, then one record per
// event with its data encoded as qlog wants (durations in milliseconds,
// groups as objects, strings escaped, NaN as null).
func TestHandlerWritesConnectionTrace(t *testing.T) {
	dir := t.TempDir()
	root := slog.New(NewJSONHandler(HandlerOptions{Dir: dir, Level: LevelConn}))
	conn := root.With(slog.String("group_id", "abcd"), slog.Group("vantage_point", slog.String("type", "client")))
	conn.Log(t.Context(), LevelPacket, PacketSent) // below the level: not written
	conn.LogAttrs(t.Context(), LevelConn, MetricsUpdated,
		slog.Duration("smoothed_rtt", 1500*time.Microsecond),
		slog.Int("congestion_window", 14720),
		slog.Float64("ratio", math.NaN()),
		slog.String("reason", "quote\" backslash\\ nl\n bad\xff"),
		slog.Group("raw", slog.Int("length", 1200)))
	conn.LogAttrs(t.Context(), slog.LevelError, ConnectionClosed, slog.String("trigger", "clean"))
	conn.LogAttrs(t.Context(), LevelConn, MetricsUpdated) // after the close: not written

	data, err := os.ReadFile(filepath.Join(dir, "abcd_client.sqlog"))
	if err != nil {
		t.Fatal(err)
	}
	recs := bytes.Split(data, []byte{0x1e})
	if len(recs) != 4 || len(recs[0]) != 0 {
		t.Fatalf("got %d records, want a header and two events:\n%s", len(recs)-1, data)
	}
	var header struct {
		QlogVersion string `json:"qlog_version"`
		Trace       struct {
			VantagePoint struct{ Type string } `json:"vantage_point"`
			CommonFields struct {
				GroupID string `json:"group_id"`
			} `json:"common_fields"`
		}
	}
	if err := json.Unmarshal(recs[1], &header); err != nil {
		t.Fatal(err)
	}
	if header.QlogVersion != "0.3" || header.Trace.VantagePoint.Type != "client" || header.Trace.CommonFields.GroupID != "abcd" {
		t.Errorf("header %+v", header)
	}
	var ev struct {
		Time float64
		Name string
		Data map[string]any
	}
	if err := json.Unmarshal(recs[2], &ev); err != nil {
		t.Fatalf("%v: %s", err, recs[2])
	}
	want := map[string]any{
		"smoothed_rtt":      1.5,
		"congestion_window": 14720.0,
		"ratio":             nil,
		"reason":            "quote\" backslash\\ nl\n bad\ufffd",
		"raw":               map[string]any{"length": 1200.0},
	}
	if ev.Name != MetricsUpdated || ev.Time < 0 || !jsonEqual(ev.Data, want) {
		t.Errorf("event %s at %v: %v, want %v", ev.Name, ev.Time, ev.Data, want)
	}
	if err := json.Unmarshal(recs[3], &ev); err != nil || ev.Name != ConnectionClosed {
		t.Errorf("last event %s (%v), want %s", ev.Name, err, ConnectionClosed)
	}
}

// TestHandlerSeparatesTraces checks that a second connection with the
// same group ID and side gets its own file, and events of no connection go
// to endpoint.sqlog.
func TestHandlerSeparatesTraces(t *testing.T) {
	dir := t.TempDir()
	root := slog.New(NewJSONHandler(HandlerOptions{Dir: dir}))
	for range 2 {
		root.With(slog.String("group_id", "ab"), slog.Group("vantage_point", slog.String("type", "server"))).
			LogAttrs(t.Context(), slog.LevelError, ConnectionClosed)
	}
	root.LogAttrs(t.Context(), LevelEndpoint, PacketDropped, slog.String("trigger", "invalid"))
	for _, name := range []string{"ab_server.sqlog", "ab_server-2.sqlog", "endpoint.sqlog"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestHandlerFlushesWithinADelay: events wait in a buffer, not for ever:
// a trace still open is on disk flushDelay after its last event.
func TestHandlerFlushesWithinADelay(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		root := slog.New(NewJSONHandler(HandlerOptions{Dir: dir}))
		conn := root.With(slog.String("group_id", "cd"), slog.Group("vantage_point", slog.String("type", "server")))
		conn.LogAttrs(t.Context(), LevelConn, MetricsUpdated, slog.Int("congestion_window", 1))
		path := filepath.Join(dir, "cd_server.sqlog")
		size := func() int {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			return bytes.Count(b, []byte{0x1e})
		}
		if n := size(); n != 1 {
			t.Fatalf("%d records on disk at once, want the header alone (the event is buffered)", n)
		}
		time.Sleep(flushDelay)
		synctest.Wait()
		if n := size(); n != 2 {
			t.Fatalf("%d records on disk after %v, want the header and the event", n, flushDelay)
		}
		conn.LogAttrs(t.Context(), slog.LevelError, ConnectionClosed)
	})
}
