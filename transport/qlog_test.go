package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/limpetnet/limpet/crypto"
	"github.com/limpetnet/limpet/transport/netsim"
	"github.com/limpetnet/limpet/transport/qlog"
)

// TestQlogLossyTransfer traces both ends of a transfer over a path that
// loses 3% of datagrams each way, checks every file against the qlog
// schema's required fields (validateQlogSeq), and checks that the trace
// agrees with the connection's counters to the packet.
func TestQlogLossyTransfer(t *testing.T) {
	dir := t.TempDir()
	logger := slog.New(qlog.NewJSONHandler(qlog.HandlerOptions{Dir: dir, Level: qlog.LevelFrame}))
	var cliStats, srvStats ConnStats
	limitScenario{
		path:   netsim.Config{Seed: 11, Loss: 0.03},
		cliCfg: Config{QLogLogger: logger},
		srvCfg: Config{QLogLogger: logger},
		size:   1 << 20,
		finish: func(cli, srv *Conn) {
			cli.Close()
			<-srv.Context().Done()
			cliStats, srvStats = cli.Stats(), srv.Stats()
		},
	}.run(t)

	files, err := filepath.Glob(filepath.Join(dir, "*.sqlog"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if len(files) != 2 || !strings.HasSuffix(names[0], "_client.sqlog") || !strings.HasSuffix(names[1], "_server.sqlog") ||
		strings.TrimSuffix(names[0], "_client.sqlog") != strings.TrimSuffix(names[1], "_server.sqlog") {
		t.Fatalf("trace files %v, want <group>_client.sqlog and <group>_server.sqlog", names)
	}
	for i, want := range []ConnStats{cliStats, srvStats} {
		data, err := os.ReadFile(files[i])
		if err != nil {
			t.Fatal(err)
		}
		header, events, err := validateQlogSeq(data)
		if err != nil {
			t.Fatalf("%s: %v", names[i], err)
		}
		vantage := header["trace"].(map[string]any)["vantage_point"].(map[string]any)["type"]
		if want := strings.TrimSuffix(strings.SplitN(names[i], "_", 2)[1], ".sqlog"); vantage != want {
			t.Errorf("%s: vantage point %v", names[i], vantage)
		}
		count := map[string]int{}
		frames := map[string]int{}
		for _, e := range events {
			count[e.Name]++
			for _, f := range e.frames() {
				frames[e.Name+" "+f["frame_type"].(string)]++
			}
		}
		t.Logf("%s: %d events %v", names[i], len(events), count)
		for name, got := range map[string]uint64{
			qlog.PacketSent:     want.PacketsSent,
			qlog.PacketReceived: want.PacketsReceived,
			qlog.PacketLost:     want.PacketsLost,
		} {
			if uint64(count[name]) != got {
				t.Errorf("%s: %d %s events, Stats counted %d", names[i], count[name], name, got)
			}
		}
		// The client sends the megabyte; the server's few ack-eliciting
		// packets may all get through.
		if i == 0 && want.PacketsLost == 0 {
			t.Errorf("%s: no loss on a 3%% lossy path", names[i])
		}
		for _, name := range []string{qlog.ConnectionStarted, qlog.ParametersSet, qlog.MetricsUpdated, qlog.CongestionStateUpdated} {
			if count[name] == 0 {
				t.Errorf("%s: no %s event", names[i], name)
			}
		}
		if frames[qlog.PacketSent+" ack"] == 0 || frames[qlog.PacketReceived+" ack"] == 0 {
			t.Errorf("%s: no ACK frames traced", names[i])
		}
		if last := events[len(events)-1]; last.Name != qlog.ConnectionClosed {
			t.Errorf("%s: last event %s, want %s", names[i], last.Name, qlog.ConnectionClosed)
		}
	}
}

// qlogEvent is one event record of a trace.
type qlogRecord struct {
	Time float64        `json:"time"`
	Name string         `json:"name"`
	Data map[string]any `json:"data"`
}

func (e qlogRecord) frames() []map[string]any {
	fs, _ := e.Data["frames"].([]any)
	var out []map[string]any
	for _, f := range fs {
		if m, ok := f.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

var qlogEventName = regexp.MustCompile(`^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$`)

// validateQlogSeq checks a JSON-SEQ qlog file (RFC 7464; the sequential
// serialization of draft-ietf-quic-qlog-main-schema) against the required
// fields of the main schema and the QUIC event definitions, and the
// fields qvis needs: each record is RS, one JSON object, LF; the first is
// the header; every event has a numeric time that never goes backwards, a
// namespaced name and a data object, and carries the fields its type
// requires.
func validateQlogSeq(data []byte) (header map[string]any, events []qlogRecord, err error) {
	if len(data) == 0 || data[0] != 0x1e {
		return nil, nil, fmt.Errorf("file does not start with a record separator")
	}
	records := bytes.Split(data[1:], []byte{0x1e})
	for i, r := range records {
		if len(r) == 0 || r[len(r)-1] != '\n' {
			return nil, nil, fmt.Errorf("record %d does not end in a line feed", i)
		}
		if !json.Valid(r) {
			return nil, nil, fmt.Errorf("record %d is not JSON: %.200q", i, r)
		}
	}
	if err := json.Unmarshal(records[0], &header); err != nil {
		return nil, nil, fmt.Errorf("header: %v", err)
	}
	if err := validateQlogHeader(header); err != nil {
		return nil, nil, fmt.Errorf("header: %v", err)
	}
	last := 0.0
	for i, r := range records[1:] {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(r, &raw); err != nil {
			return nil, nil, fmt.Errorf("event %d: %v", i, err)
		}
		for _, k := range []string{"time", "name", "data"} {
			if _, ok := raw[k]; !ok {
				return nil, nil, fmt.Errorf("event %d has no %s: %s", i, k, r)
			}
		}
		var e qlogRecord
		if err := json.Unmarshal(r, &e); err != nil {
			return nil, nil, fmt.Errorf("event %d: %v: %s", i, err, r)
		}
		if e.Time < last {
			return nil, nil, fmt.Errorf("event %d at %v ms, before the one at %v", i, e.Time, last)
		}
		last = e.Time
		if !qlogEventName.MatchString(e.Name) {
			return nil, nil, fmt.Errorf("event %d: name %q is not namespace:type", i, e.Name)
		}
		if e.Data == nil {
			return nil, nil, fmt.Errorf("event %d: data is not an object", i)
		}
		if err := validateQlogEvent(e); err != nil {
			return nil, nil, fmt.Errorf("event %d (%s): %v: %s", i, e.Name, err, r)
		}
		events = append(events, e)
	}
	return header, events, nil
}

func validateQlogHeader(h map[string]any) error {
	for k, want := range map[string]string{
		"file_schema":          "urn:ietf:params:qlog:file:sequential",
		"serialization_format": "application/qlog+json-seq",
		"qlog_format":          "JSON-SEQ", // qvis
		"qlog_version":         "0.3",      // qvis
	} {
		if h[k] != want {
			return fmt.Errorf("%s is %v, want %q", k, h[k], want)
		}
	}
	tr, ok := h["trace"].(map[string]any)
	if !ok {
		return fmt.Errorf("no trace object")
	}
	schemas, _ := tr["event_schemas"].([]any)
	if !slices.Contains(schemas, any(qlog.QUICEventSchema)) || !slices.Contains(schemas, any(qlog.LimpetEventSchema)) {
		return fmt.Errorf("event_schemas %v lack the QUIC or limpet schema", tr["event_schemas"])
	}
	vp, _ := tr["vantage_point"].(map[string]any)
	if t := vp["type"]; t != "client" && t != "server" && t != "endpoint" {
		return fmt.Errorf("vantage_point.type %v", t)
	}
	cf, _ := tr["common_fields"].(map[string]any)
	rt, _ := cf["reference_time"].(map[string]any)
	if rt["clock_type"] == nil || rt["epoch"] == nil {
		return fmt.Errorf("reference_time %v lacks clock_type or epoch", cf["reference_time"])
	}
	return nil
}

var (
	qlogPacketTypes  = []string{"initial", "handshake", "0RTT", "1RTT", "retry", "version_negotiation", "stateless_reset", "unknown"}
	qlogDropTriggers = []string{"internal_error", "rejected", "unsupported", "invalid", "duplicate", "connection_unknown", "decryption_failure", "key_unavailable", "general"}
	qlogMetrics      = []string{"min_rtt", "smoothed_rtt", "latest_rtt", "rtt_variance", "pto_count", "congestion_window", "bytes_in_flight", "ssthresh", "packets_in_flight", "pacing_rate"}
)

// validateQlogEvent checks the fields the QUIC event definitions require
// of e's type, and of each frame it carries.
func validateQlogEvent(e qlogRecord) error {
	d := e.Data
	need := func(keys ...string) error {
		for _, k := range keys {
			if _, ok := d[k]; !ok {
				return fmt.Errorf("no %s", k)
			}
		}
		return nil
	}
	header := func() error {
		h, ok := d["header"].(map[string]any)
		if !ok {
			return fmt.Errorf("no header")
		}
		if pt, _ := h["packet_type"].(string); !slices.Contains(qlogPacketTypes, pt) {
			return fmt.Errorf("packet_type %v", h["packet_type"])
		}
		if _, ok := h["packet_number"].(float64); !ok {
			return fmt.Errorf("no packet_number")
		}
		return nil
	}
	switch e.Name {
	case qlog.PacketSent, qlog.PacketReceived:
		if err := header(); err != nil {
			return err
		}
		raw, _ := d["raw"].(map[string]any)
		if _, ok := raw["length"].(float64); !ok {
			return fmt.Errorf("no raw.length") // qvis draws from it
		}
		for _, f := range e.frames() {
			if err := validateQlogFrame(f); err != nil {
				return err
			}
		}
	case qlog.PacketLost:
		return header()
	case qlog.PacketDropped:
		if tr, _ := d["trigger"].(string); !slices.Contains(qlogDropTriggers, tr) {
			return fmt.Errorf("trigger %v", d["trigger"])
		}
	case qlog.ConnectionStarted:
		return need("local", "remote")
	case qlog.ConnectionStateUpdated, qlog.CongestionStateUpdated, qlog.MigrationStateUpdated:
		return need("new")
	case qlog.ECNStateUpdated:
		if s, _ := d["new"].(string); !slices.Contains([]string{"testing", "unknown", "capable", "failed"}, s) {
			return fmt.Errorf("new %v", d["new"])
		}
	case qlog.MTUUpdated:
		if n, _ := d["new"].(float64); n < 1200 {
			return fmt.Errorf("new %v", d["new"])
		}
	case qlog.KeyUpdated:
		return need("key_type")
	case qlog.PathAssigned:
		return need("path_id")
	case qlog.ParametersSet:
		if i := d["initiator"]; i != "local" && i != "remote" {
			return fmt.Errorf("initiator %v", i)
		}
	case qlog.MetricsUpdated:
		for _, k := range qlogMetrics {
			if _, ok := d[k].(float64); ok {
				return nil
			}
		}
		return fmt.Errorf("no metric")
	case qlog.ConnectionClosed:
		return need("trigger")
	default:
		if !strings.HasPrefix(e.Name, "limpet:") {
			return fmt.Errorf("unknown event outside the limpet namespace")
		}
	}
	return nil
}

func validateQlogFrame(f map[string]any) error {
	ft, ok := f["frame_type"].(string)
	if !ok {
		return fmt.Errorf("frame without frame_type: %v", f)
	}
	num := func(keys ...string) error {
		for _, k := range keys {
			if _, ok := f[k].(float64); !ok {
				return fmt.Errorf("%s frame without numeric %s: %v", ft, k, f)
			}
		}
		return nil
	}
	switch ft {
	case "stream":
		return num("stream_id", "offset", "length")
	case "crypto":
		return num("offset", "length")
	case "ack":
		ranges, ok := f["acked_ranges"].([]any)
		if !ok || len(ranges) == 0 {
			return fmt.Errorf("ack frame without acked_ranges: %v", f)
		}
		for _, r := range ranges {
			if r, ok := r.([]any); !ok || len(r) < 1 || len(r) > 2 {
				return fmt.Errorf("ack range %v is not [n] or [from, to]", r)
			}
		}
	case "max_data", "max_stream_data", "max_streams":
		return num("maximum")
	case "data_blocked", "stream_data_blocked", "streams_blocked":
		return num("limit")
	case "reset_stream", "stop_sending", "new_connection_id", "retire_connection_id", "path_challenge", "path_response",
		"connection_close", "handshake_done", "new_token", "padding", "ping", "datagram", "unknown":
	default:
		if !strings.HasPrefix(ft, "limpet:") {
			return fmt.Errorf("frame_type %q is neither QUIC's nor limpet's", ft)
		}
	}
	return nil
}

// TestQlogEndpointDrops checks that datagrams of no connection reach the
// endpoint's trace with their reason, one event per datagram counted.
func TestQlogEndpointDrops(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		n := netsim.NewNetwork()
		lnAddr := netip.MustParseAddrPort("198.18.0.1:4433")
		lpc, err := n.Listen(lnAddr)
		if err != nil {
			t.Fatal(err)
		}
		key, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		logger := slog.New(qlog.NewJSONHandler(qlog.HandlerOptions{Dir: dir, Level: qlog.LevelEndpoint}))
		ln, err := ListenBind(NewPacketConnBind(lpc), &Config{PrivateKey: key, QLogLogger: logger})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		sender, err := n.Listen(netip.MustParseAddrPort("198.18.0.2:5000"))
		if err != nil {
			t.Fatal(err)
		}
		defer sender.Close()
		to := net.UDPAddrFromAddrPort(lnAddr)
		shortHeader := append([]byte{0x40}, bytes.Repeat([]byte{7}, 40)...) // a 1-RTT packet for no connection
		longHeader := append([]byte{0xc0}, bytes.Repeat([]byte{7}, 40)...)  // a long header cut short
		for _, b := range [][]byte{shortHeader, shortHeader, longHeader} {
			if _, err := sender.WriteTo(b, to); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if st := ln.Stats(); st.Unroutable != 2 || st.Malformed != 1 {
			t.Fatalf("endpoint stats %+v, want 2 unroutable and 1 malformed", st)
		}
		time.Sleep(2 * time.Second) // the trace is flushed within a second

		// A flood is traced at 100 events a second; the rest are counted
		// in one event when the next second's first drop comes.
		for range 250 {
			sender.WriteTo(shortHeader, to)
		}
		time.Sleep(1500 * time.Millisecond)
		sender.WriteTo(shortHeader, to)
		time.Sleep(2 * time.Second)
		if st := ln.Stats(); st.Unroutable != 2+251 {
			t.Errorf("%d unroutable after the flood, want every datagram counted (253)", st.Unroutable)
		}
	})
	data, err := os.ReadFile(filepath.Join(dir, "endpoint.sqlog"))
	if err != nil {
		t.Fatal(err)
	}
	_, events, err := validateQlogSeq(data)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		raw, _ := e.Data["raw"].(map[string]any)
		line := fmt.Sprintf("%s %v %v", e.Name, e.Data["trigger"], raw["length"])
		if e.Name == qlog.DropsSuppressed {
			line = fmt.Sprintf("%s %v", e.Name, e.Data["count"])
		}
		if len(got) > 0 && strings.HasPrefix(got[len(got)-1], line+" ×") || len(got) > 0 && got[len(got)-1] == line {
			n := 1
			if i := strings.Index(got[len(got)-1], " ×"); i >= 0 {
				fmt.Sscan(got[len(got)-1][i+3:], &n)
			}
			got[len(got)-1] = fmt.Sprintf("%s ×%d", line, n+1)
			continue
		}
		got = append(got, line)
	}
	want := []string{
		"transport:packet_dropped connection_unknown 41 ×2",
		"transport:packet_dropped invalid 41",
		"transport:packet_dropped connection_unknown 41 ×100",
		"limpet:drops_suppressed 150",
		"transport:packet_dropped connection_unknown 41",
	}
	if !slices.Equal(got, want) {
		t.Errorf("endpoint events\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// recordingHandler keeps every slog record it is given.
type recordingHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

// TestLoggerDiagnostics checks Config.Logger: a clean transfer logs its
// handshakes and endings at Debug on both sides, nothing at Info, and no
// line per packet; an idle timeout is logged at Info.
func TestLoggerDiagnostics(t *testing.T) {
	var h recordingHandler
	logger := slog.New(&h)
	var sent uint64
	limitScenario{
		cliCfg: Config{Logger: logger},
		srvCfg: Config{Logger: logger},
		size:   256 << 10,
		finish: func(cli, srv *Conn) {
			cli.Close()
			<-srv.Context().Done()
			sent = cli.Stats().PacketsSent
		},
	}.run(t)
	var got []string
	for _, r := range h.records {
		side := ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "side" {
				side = a.Value.String()
			}
			return true
		})
		got = append(got, fmt.Sprintf("%v %s %s", r.Level, side, r.Message))
	}
	slices.Sort(got)
	want := []string{
		"DEBUG client limpet: connection ended",
		"DEBUG client limpet: handshake complete",
		"DEBUG server limpet: connection ended",
		"DEBUG server limpet: handshake complete",
	}
	if !slices.Equal(got, want) {
		t.Errorf("after %d packets the logger got\n%s\nwant\n%s", sent, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	h.records = nil
	synctest.Test(t, func(t *testing.T) {
		tc := newTestConn(t, clientSide, func(c *Config) { c.Logger, c.MaxIdleTimeout = logger, time.Second })
		tc.advance(10 * time.Second)
		if err := tc.conn.Context().Err(); err == nil {
			t.Fatalf("connection alive after an idle timeout")
		}
	})
	var ended []string
	for _, r := range h.records {
		if r.Message == "limpet: connection ended" {
			ended = append(ended, r.Level.String())
		}
	}
	if !slices.Equal(ended, []string{"INFO"}) {
		t.Errorf("idle timeout logged at %v, want [INFO]", ended)
	}
}

// TestQlogSampleInDocs checks the sample trace committed in docs/qlog
// against the same schema rules, so that it stays an example of the
// format the transport writes.
func TestQlogSampleInDocs(t *testing.T) {
	files, err := filepath.Glob("../docs/qlog/*.sqlog")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample in docs/qlog (%v)", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, events, err := validateQlogSeq(data); err != nil {
			t.Errorf("%s: %v", f, err)
		} else if events[len(events)-1].Name != qlog.ConnectionClosed {
			t.Errorf("%s does not end with %s", f, qlog.ConnectionClosed)
		}
	}
}

// TestQlogRefusedHandshakesOpenNoTrace: a server traces only connections
// whose handshake succeeded, so clients it refuses cannot make it open
// files; a connection that ends closes its file.
func TestQlogRefusedHandshakesOpenNoTrace(t *testing.T) {
	dir := t.TempDir()
	openInDir := func() int {
		fds, _ := os.ReadDir("/proc/self/fd")
		n := 0
		for _, fd := range fds {
			if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(target, dir) {
				n++
			}
		}
		return n
	}
	synctest.Test(t, func(t *testing.T) {
		stranger, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		logger := slog.New(qlog.NewJSONHandler(qlog.HandlerOptions{Dir: dir}))
		sc := limitScenario{srvCfg: Config{QLogLogger: logger}}
		cli, srv := sc.connect(t) // admitted, traced
		cli.Close()
		<-srv.Context().Done()

		// The same server, refusing every client but one that is not
		// the dialer.
		sc.srvCfg.AllowedClientKeys = []crypto.PublicKey{stranger.Public()}
		n := netsim.NewNetwork()
		spc, _ := n.Listen(netip.MustParseAddrPort("198.18.0.1:4433"))
		key, _ := crypto.GenerateKey()
		cfg := sc.srvCfg
		cfg.PrivateKey = key
		ln, err := ListenBind(NewPacketConnBind(spc), &cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		for i := range 5 {
			cpc, _ := n.Listen(netip.AddrPortFrom(netip.MustParseAddr("198.18.0.2"), uint16(6000+i)))
			_, err := DialBind(context.Background(), NewPacketConnBind(cpc), spc.AddrPort(), &Config{ServerKey: key.Public()})
			var te *TransportError
			if !errors.As(err, &te) || te.Code != UnknownClientKey {
				t.Fatalf("dial %d: %v, want the server's refusal", i, err)
			}
		}
		if got := ln.Stats().HandshakesRejected; got != 5 {
			t.Fatalf("%d handshakes rejected, want 5", got)
		}
		if n := openInDir(); n != 0 {
			t.Errorf("%d files open in the trace directory", n)
		}
	})
	files, _ := filepath.Glob(filepath.Join(dir, "*.sqlog"))
	if len(files) != 1 || !strings.HasSuffix(files[0], "_server.sqlog") {
		t.Errorf("trace files %v, want the admitted connection's alone", files)
	}
}
