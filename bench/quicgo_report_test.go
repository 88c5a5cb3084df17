package bench

import (
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Output as quicgo-peer prints it, with round numbers: the client dials at
// 1 s past the epoch, the first byte arrives 3 ms later and the last at
// 1.5 s.
const (
	testListening    = "listening on 127.0.0.1:4433"
	testServerReport = `{"bytes":1048576,"first_byte_unix_ns":1003000000,"done_unix_ns":1500000000,"cpu_before_ns":4000000,` +
		`"cipher_suite":"TLS_AES_128_GCM_SHA256","quic_go_version":"v0.65.0","gomaxprocs":1,"udp_rcvbuf":8388608,"udp_sndbuf":8388608}`
	testClientReport = `{"bytes":1048576,"dial_start_unix_ns":1000000000,"handshake_done_unix_ns":1002000000,"cpu_before_ns":3000000,` +
		`"quic_version":"v1","gso":true,"bytes_sent":1100000,"packets_sent":800,"bytes_lost":2800,"packets_lost":2,` +
		`"congestion_window":350000,"smoothed_rtt_ns":599400,"min_rtt_ns":85000,` +
		`"cipher_suite":"TLS_AES_128_GCM_SHA256","quic_go_version":"v0.65.0","gomaxprocs":1,"udp_rcvbuf":8388608,"udp_sndbuf":8388608}`
	testDetail = "TLS_AES_128_GCM_SHA256, quic-go v0.65.0, QUIC v1, GSO on, GOMAXPROCS 1 per peer, srtt 599µs, cwnd 350000 B, 800 packets sent, 2 lost"
)

// withField returns a JSON object line with one field replaced or added.
func withField(t *testing.T, line, field string, value any) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatal(err)
	}
	m[field] = value
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseListening(t *testing.T) {
	tests := []struct {
		desc string
		line string
		want netip.AddrPort
	}{
		{desc: "IPv4", line: "listening on 127.0.0.1:4433", want: netip.MustParseAddrPort("127.0.0.1:4433")},
		{desc: "IPv6", line: "listening on [2001:2::1]:443", want: netip.MustParseAddrPort("[2001:2::1]:443")},
		{desc: "other text", line: "hello"},
		{desc: "no address", line: "listening on "},
		{desc: "port 0 cannot be dialled", line: "listening on 127.0.0.1:0"},
		{desc: "host name", line: "listening on localhost:4433"},
		{desc: "trailing text", line: "listening on 127.0.0.1:4433 now"},
		{desc: "zone", line: "listening on [fe80::1%eth0]:4433"},
	}
	for _, tt := range tests {
		got, err := parseListening(tt.line)
		if !tt.want.IsValid() {
			if !errors.Is(err, errBadPeerOutput) {
				t.Errorf("%s: parseListening(%q) = %v, %v; want errBadPeerOutput", tt.desc, tt.line, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: parseListening(%q) = %v, %v; want %v", tt.desc, tt.line, got, err, tt.want)
		}
	}
}

func TestParseQuicGoServerOutput(t *testing.T) {
	tests := []struct {
		desc    string
		lines   []string
		wantErr string // empty: the output is good
	}{
		{desc: "good", lines: []string{testListening, testServerReport}},
		{desc: "unknown fields are allowed", lines: []string{testListening, withField(t, testServerReport, "new", 1)}},
		{desc: "report missing", lines: []string{testListening}, wantErr: "server printed 1 lines, want 2"},
		{desc: "extra line", lines: []string{testListening, testServerReport, "{}"}, wantErr: "server printed 3 lines, want 2"},
		{desc: "no listening line", lines: []string{testServerReport, testServerReport}, wantErr: "first server line"},
		{desc: "not JSON", lines: []string{testListening, "panic: oops"}, wantErr: "is not a JSON object"},
		{desc: "JSON null", lines: []string{testListening, "null"}, wantErr: "is not a JSON object"},
		{desc: "truncated", lines: []string{testListening, testServerReport[:40]}, wantErr: "unexpected end of JSON input"},
		{desc: "trailing data", lines: []string{testListening, testServerReport + " {}"}, wantErr: "invalid character"},
		{desc: "wrong type", lines: []string{testListening, withField(t, testServerReport, "bytes", "many")}, wantErr: "cannot unmarshal"},
		{desc: "no bytes", lines: []string{testListening, withField(t, testServerReport, "bytes", 0)}, wantErr: "server read 0 bytes"},
		{desc: "no first byte", lines: []string{testListening, withField(t, testServerReport, "first_byte_unix_ns", 0)}, wantErr: "server's first byte at 0 ns"},
		{desc: "done before first byte", lines: []string{testListening, withField(t, testServerReport, "done_unix_ns", 1000)}, wantErr: "last at 1000 ns"},
		{desc: "negative CPU", lines: []string{testListening, withField(t, testServerReport, "cpu_before_ns", -1)}, wantErr: "CPU time before the transfer -1 ns"},
		{desc: "no suite", lines: []string{testListening, withField(t, testServerReport, "cipher_suite", "")}, wantErr: "server reports no cipher suite"},
		{desc: "stopped early", lines: []string{testListening, withField(t, testServerReport, "error", "read after 3 bytes: EOF")}, wantErr: `server reports "read after 3 bytes: EOF"`},
	}
	for _, tt := range tests {
		got, err := parseQuicGoServerOutput(tt.lines)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.desc, err)
			} else if got.Bytes != 1<<20 || got.FirstByteUnixNano != 1003000000 || got.DoneUnixNano != 1500000000 || got.CPUBeforeNanos != 4000000 || got.CipherSuite != "TLS_AES_128_GCM_SHA256" {
				t.Errorf("%s: got %+v, want the report's figures", tt.desc, got)
			}
			continue
		}
		if !errors.Is(err, errBadPeerOutput) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: got error %v, want errBadPeerOutput mentioning %q", tt.desc, err, tt.wantErr)
		}
	}
}

func TestParseQuicGoClientOutput(t *testing.T) {
	tests := []struct {
		desc    string
		lines   []string
		wantErr string
	}{
		{desc: "good", lines: []string{testClientReport}},
		{desc: "nothing", lines: nil, wantErr: "client printed 0 lines, want 1"},
		{desc: "two reports", lines: []string{testClientReport, testClientReport}, wantErr: "client printed 2 lines, want 1"},
		{desc: "array", lines: []string{"[1,2]"}, wantErr: "is not a JSON object"},
		{desc: "no bytes", lines: []string{withField(t, testClientReport, "bytes", -5)}, wantErr: "client wrote -5 bytes"},
		{desc: "no dial time", lines: []string{withField(t, testClientReport, "dial_start_unix_ns", 0)}, wantErr: "client dialled at 0 ns"},
		{desc: "handshake before dial", lines: []string{withField(t, testClientReport, "handshake_done_unix_ns", 5)}, wantErr: "handshake done at 5 ns"},
		{desc: "lost more than sent", lines: []string{withField(t, testClientReport, "bytes_lost", 2e6)}, wantErr: "client lost 2000000 of 1100000 bytes"},
		{desc: "lost more packets than sent", lines: []string{withField(t, testClientReport, "packets_lost", 801)}, wantErr: "801 of 800 packets"},
		{desc: "negative RTT", lines: []string{withField(t, testClientReport, "smoothed_rtt_ns", -1)}, wantErr: "client RTT -1 ns"},
		{desc: "no suite", lines: []string{withField(t, testClientReport, "cipher_suite", "")}, wantErr: "client reports no cipher suite"},
		{desc: "stopped early", lines: []string{withField(t, testClientReport, "error", "dial: timeout")}, wantErr: `client reports "dial: timeout"`},
	}
	for _, tt := range tests {
		got, err := parseQuicGoClientOutput(tt.lines)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.desc, err)
			} else if got.BytesLost != 2800 || got.PacketsSent != 800 || !got.GSO || got.QUICVersion != "v1" || got.SmoothedRTTNanos != 599400 {
				t.Errorf("%s: got %+v, want the report's figures", tt.desc, got)
			}
			continue
		}
		if !errors.Is(err, errBadPeerOutput) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: got error %v, want errBadPeerOutput mentioning %q", tt.desc, err, tt.wantErr)
		}
	}
}

func mustServerReport(t *testing.T, line string) quicGoServerReport {
	t.Helper()
	r, err := parseQuicGoServerOutput([]string{testListening, line})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustClientReport(t *testing.T, line string) quicGoClientReport {
	t.Helper()
	r, err := parseQuicGoClientOutput([]string{line})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCombineQuicGoReports(t *testing.T) {
	sr, cr := mustServerReport(t, testServerReport), mustClientReport(t, testClientReport)
	// 0.5 s from dial to last byte; 0.3 s of the peers' CPU in all, 7 ms
	// of it before the transfer, and 0.1 s of the harness's; 1 MiB moved.
	got, err := combineQuicGoReports(1<<20, sr, cr, quicGoCPU{server: 154 * time.Millisecond, client: 146 * time.Millisecond, harness: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	want := Result{
		Protocol:         ProtocolQuicGo,
		Bytes:            1 << 20,
		Seconds:          0.5,
		MBps:             float64(1<<20) / MB / 0.5,
		CPUSecondsPerGiB: 0.393 * 1024,
		TTFB:             3 * time.Millisecond,
		Retransmitted:    2800,
		Detail:           testDetail,
	}
	if !closeResults(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}

	details := []struct {
		desc   string
		server string
		client string
		want   string
	}{
		{desc: "server warned", server: withField(t, testServerReport, "warnings", []string{"failed to increase receive buffer size"}), client: testClientReport,
			want: testDetail + "; quic-go warned: failed to increase receive buffer size"},
		{desc: "both warned", server: withField(t, testServerReport, "warnings", []string{"s"}), client: withField(t, testClientReport, "warnings", []string{"c1", "c2"}),
			want: testDetail + "; quic-go warned: c1; c2; s"},
		{desc: "peers ran with different GOMAXPROCS", server: withField(t, testServerReport, "gomaxprocs", 2), client: testClientReport,
			want: strings.Replace(testDetail, "GOMAXPROCS 1 per peer", "GOMAXPROCS 2 server, 1 client", 1)},
		{desc: "GSO off", server: testServerReport, client: withField(t, testClientReport, "gso", false),
			want: strings.Replace(testDetail, "GSO on", "GSO off", 1)},
	}
	for _, tt := range details {
		got, err := combineQuicGoReports(1<<20, mustServerReport(t, tt.server), mustClientReport(t, tt.client), quicGoCPU{server: time.Second, client: time.Second})
		if err != nil || got.Detail != tt.want {
			t.Errorf("%s: got Detail %q, error %v; want %q", tt.desc, got.Detail, err, tt.want)
		}
	}
}

// closeResults compares results, allowing float rounding in the rates.
func closeResults(a, b Result) bool {
	near := func(x, y float64) bool { return x-y < 1e-9*y && y-x < 1e-9*y }
	if !near(a.MBps, b.MBps) || !near(a.CPUSecondsPerGiB, b.CPUSecondsPerGiB) || !near(a.Seconds, b.Seconds) {
		return false
	}
	a.MBps, a.CPUSecondsPerGiB, a.Seconds = b.MBps, b.CPUSecondsPerGiB, b.Seconds
	return reflect.DeepEqual(a, b)
}

func TestCombineQuicGoReportsErrors(t *testing.T) {
	sr, cr := mustServerReport(t, testServerReport), mustClientReport(t, testClientReport)
	tests := []struct {
		desc       string
		size       int64
		server     quicGoServerReport
		client     quicGoClientReport
		serverCPU  time.Duration
		clientCPU  time.Duration
		wantErrSub string
	}{
		{desc: "short transfer", size: 2 << 20, server: sr, client: cr, serverCPU: time.Second,
			wantErrSub: "client wrote 1048576 bytes and server read 1048576, want 2097152"},
		{desc: "suites differ", size: 1 << 20, server: mustServerReport(t, withField(t, testServerReport, "cipher_suite", "TLS_CHACHA20_POLY1305_SHA256")), client: cr, serverCPU: time.Second,
			wantErrSub: "server negotiated TLS_CHACHA20_POLY1305_SHA256, client TLS_AES_128_GCM_SHA256"},
		{desc: "first byte before the dial", size: 1 << 20, server: mustServerReport(t, withField(t, testServerReport, "first_byte_unix_ns", 999000000)), client: cr, serverCPU: time.Second,
			wantErrSub: "server's first byte came 1ms before the client dialled"},
		{desc: "no time passed", size: 1 << 20, server: mustServerReport(t, withField(t, withField(t, testServerReport, "first_byte_unix_ns", 1e9), "done_unix_ns", 1e9)), client: cr, serverCPU: time.Second,
			wantErrSub: "server's last byte came as the client dialled"},
		{desc: "server's CPU before the transfer exceeds its total", size: 1 << 20, server: sr, client: cr, serverCPU: time.Millisecond,
			wantErrSub: "server reports 4ms of CPU time before the transfer, more than its total 1ms"},
		{desc: "client's CPU before the transfer exceeds its total", size: 1 << 20, server: sr, client: cr, serverCPU: time.Second, clientCPU: time.Millisecond,
			wantErrSub: "client reports 3ms of CPU time before the transfer, more than its total 1ms"},
	}
	for _, tt := range tests {
		clientCPU := tt.clientCPU
		if clientCPU == 0 {
			clientCPU = time.Second
		}
		got, err := combineQuicGoReports(tt.size, tt.server, tt.client, quicGoCPU{server: tt.serverCPU, client: clientCPU})
		if err == nil || !strings.Contains(err.Error(), tt.wantErrSub) {
			t.Errorf("%s: got %+v, error %v; want an error mentioning %q", tt.desc, got, err, tt.wantErrSub)
		}
	}
}

func TestPartialQuicGoReports(t *testing.T) {
	stoppedServer := withField(t, testServerReport, "error", "read after 1048576 bytes: Application error 0x1 (remote): client stopped")
	stoppedClient := withField(t, testClientReport, "error", "write after 1048576 bytes: Application error 0x1 (local): client stopped")
	got, err := partialQuicGoReports(1<<30, []string{testListening, stoppedServer}, []string{stoppedClient}, quicGoCPU{server: 154 * time.Millisecond, client: 146 * time.Millisecond, harness: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	want := Result{
		Protocol: ProtocolQuicGo, Bytes: 1 << 20, Seconds: 0.5, TTFB: 3 * time.Millisecond,
		Retransmitted: 2800, Detail: testDetail, partialCPU: 294 * time.Millisecond,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}

	tests := []struct {
		desc        string
		serverLines []string
		clientLines []string
		wantErrSub  string
	}{
		{desc: "client printed nothing", serverLines: []string{testListening, stoppedServer}, wantErrSub: "client printed 0 lines"},
		{desc: "server printed only its address", serverLines: []string{testListening}, clientLines: []string{stoppedClient}, wantErrSub: "server printed 1 lines"},
		{desc: "nothing arrived", serverLines: []string{testListening, withField(t, stoppedServer, "bytes", 0)}, clientLines: []string{stoppedClient}, wantErrSub: "server read 0 bytes"},
		{desc: "more than the size", serverLines: []string{testListening, withField(t, stoppedServer, "bytes", 2<<30)}, clientLines: []string{stoppedClient}, wantErrSub: "server read 2147483648 bytes of 1073741824"},
		{desc: "client never dialled", serverLines: []string{testListening, stoppedServer}, clientLines: []string{withField(t, stoppedClient, "dial_start_unix_ns", 0)}, wantErrSub: "client dialled at 0 ns"},
	}
	for _, tt := range tests {
		got, err := partialQuicGoReports(1<<30, tt.serverLines, tt.clientLines, quicGoCPU{server: time.Second, client: time.Second})
		if err == nil || !strings.Contains(err.Error(), tt.wantErrSub) {
			t.Errorf("%s: got %+v, error %v; want an error mentioning %q", tt.desc, got, err, tt.wantErrSub)
		}
	}
}

// FuzzQuicGoOutput feeds arbitrary peer output to the parsers: they must
// never panic, and what they accept must satisfy the checks the row's
// arithmetic relies on.
func FuzzQuicGoOutput(f *testing.F) {
	f.Add(testListening, testServerReport, testClientReport)
	f.Add("listening on [::1]:1", `{"bytes":1,"first_byte_unix_ns":1,"done_unix_ns":1,"cipher_suite":"x"}`, `{"bytes":1,"dial_start_unix_ns":1,"handshake_done_unix_ns":1,"cipher_suite":"x"}`)
	f.Add("listening on 127.0.0.1:0", "null", "[]")
	f.Add("", `{"bytes":-1}`, `{"bytes_lost":18446744073709551615}`)
	f.Fuzz(func(t *testing.T, listening, serverLine, clientLine string) {
		if addr, err := parseListening(listening); err == nil && (!addr.IsValid() || addr.Port() == 0) {
			t.Errorf("parseListening(%q) accepted %v", listening, addr)
		}
		sr, serr := parseQuicGoServerOutput([]string{listening, serverLine})
		if serr == nil && (sr.Bytes <= 0 || sr.FirstByteUnixNano <= 0 || sr.DoneUnixNano < sr.FirstByteUnixNano || sr.CipherSuite == "") {
			t.Errorf("accepted server report %+v", sr)
		}
		cr, cerr := parseQuicGoClientOutput([]string{clientLine})
		if cerr == nil && (cr.Bytes <= 0 || cr.DialStartUnixNano <= 0 || cr.BytesLost > cr.BytesSent || cr.CipherSuite == "") {
			t.Errorf("accepted client report %+v", cr)
		}
		if serr == nil && cerr == nil {
			if r, err := combineQuicGoReports(sr.Bytes, sr, cr, quicGoCPU{server: time.Hour, client: time.Hour}); err == nil && (r.TTFB < 0 || r.Seconds < r.TTFB.Seconds() || r.MBps <= 0) {
				t.Errorf("combined %+v", r)
			}
		}
		partialQuicGoReports(1<<40, []string{listening, serverLine}, []string{clientLine}, quicGoCPU{server: time.Hour, client: time.Hour})
	})
}
