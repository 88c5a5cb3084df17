package bench

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/limpetnet/limpet/bench/netlab/linkem"
)

func TestFullMatrixCoversTheIssueRows(t *testing.T) {
	paths := FullMatrix()
	names := map[string]bool{}
	var loopback, grid, migration, mtuChange, outages, requests int
	fairness := map[string]bool{}
	var pairsTogether, pairsHeadStart int
	byName := map[string]PathSpec{}
	for _, p := range paths {
		if names[p.Name] {
			t.Errorf("row %q appears twice", p.Name)
		}
		names[p.Name] = true
		byName[p.Name] = p
		switch {
		case p.Loopback:
			loopback++
		case p.Fairness != "":
			fairness[p.Fairness] = true
			if p.Fairness == strings.TrimPrefix(p.fairnessLimpet(), "tcp-") || p.Fairness == "limpet" {
				if p.FairnessHeadStart {
					pairsHeadStart++
				} else {
					pairsTogether++
				}
			} else if p.FairnessHeadStart {
				t.Errorf("row %q: a head start on a row of two different flows", p.Name)
			}
		case p.Disruption != nil:
			if p.Disruption.Name != p.Name {
				t.Errorf("disruption row %q names its scenario %q", p.Name, p.Disruption.Name)
			}
			switch {
			case p.Disruption.Change.narrowsMTU():
				mtuChange++
			case slices.Contains(p.Disruption.protocols(), DisruptLimpetSession):
				outages++
				if p.Disruption.Blackout <= 60*time.Second {
					t.Errorf("outage row %q: a %v blackout is not longer than the idle timeout", p.Name, p.Disruption.Blackout)
				}
			default:
				migration++
			}
		case pathRow(p):
		case p.RequestResponse != nil:
			requests++
			if p.Loss != 0.02 || p.RTT != 50*time.Millisecond || p.RequestResponse.Requests != 1000 || p.RequestResponse.Size != 4096 {
				t.Errorf("request/response row %+v, want 1000 × 4 KiB at 50 ms and 2%% loss", p)
			}
		case p.Burst == (PathSpec{}).Burst && p.Reorder == (PathSpec{}).Reorder:
			grid++
		}
		if !p.Loopback {
			if err := p.LinkConfig(1).Validate(); err != nil {
				t.Errorf("row %q: %v", p.Name, err)
			}
		}
	}
	if want := len(MatrixRTTs) * len(MatrixLosses); grid != want {
		t.Errorf("%d grid rows, want %d (every RTT × every loss)", grid, want)
	}
	if loopback != 1 || migration != 3 || mtuChange != 2 || outages != 2 {
		t.Errorf("%d loopback, %d migration, %d path MTU change and %d outage rows, want 1, 3, 2 and 2", loopback, migration, mtuChange, outages)
	}
	if requests != 1 {
		t.Errorf("%d request/response rows, want 1", requests)
	}
	if !fairness["cubic"] || !fairness["bbr"] || !fairness["limpet"] || len(fairness) != 3 {
		t.Errorf("fairness rows against %v, want cubic, bbr and limpet", fairness)
	}
	// Two limpet, two limpet-bbr, two TCP CUBIC and two TCP BBR flows, each
	// started together and with a head start.
	if pairsTogether != 4 || pairsHeadStart != 4 {
		t.Errorf("%d rows of two like flows started together and %d with a head start, want 4 and 4", pairsTogether, pairsHeadStart)
	}
	for _, want := range []string{"bursty", "reordered", "NAT rebinding every 5 s", "client IP change", "10 s blackout"} {
		found := false
		for name := range names {
			found = found || strings.Contains(name, want)
		}
		if !found {
			t.Errorf("no row mentions %q", want)
		}
	}

	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		want func(PathSpec) bool
		desc string
	}{
		{"1280-MTU tunnel, 100 Mbit/s, RTT 50 ms", func(p PathSpec) bool {
			return p.PathMTU == 1280 && p.MTU == 0 && p.RateBitsPerSecond == 100e6 && p.RTT == 50*ms
		}, "a 1280-byte path MTU on the 100 Mbit/s, 50 ms link"},
		{"1420-MTU tunnel, 100 Mbit/s, RTT 50 ms", func(p PathSpec) bool {
			return p.PathMTU == 1420 && p.RateBitsPerSecond == 100e6 && p.RTT == 50*ms
		}, "a 1420-byte path MTU on the 100 Mbit/s, 50 ms link"},
		{"9000-MTU jumbo link, 1 Gbit/s, RTT 10 ms", func(p PathSpec) bool {
			return p.MTU == 9000 && p.PathMTU == 0 && p.RateBitsPerSecond == 1e9
		}, "every link at 9000 bytes, 1 Gbit/s"},
		{"1500-MTU link (jumbo baseline), 1 Gbit/s, RTT 10 ms", func(p PathSpec) bool {
			return p.LabMTU() == 1500 && p.RateBitsPerSecond == byName["9000-MTU jumbo link, 1 Gbit/s, RTT 10 ms"].RateBitsPerSecond &&
				p.RTT == byName["9000-MTU jumbo link, 1 Gbit/s, RTT 10 ms"].RTT
		}, "the jumbo row's link at 1500 bytes"},
		{"path MTU 1280 from 3 s to 10 s, 100 Mbit/s, RTT 50 ms", func(p PathSpec) bool {
			d := p.Disruption
			return d != nil && d.Change == ChangePathMTU && d.PathMTU == 1280 && d.Count == 1 && d.Every == 3*time.Second &&
				d.Every+d.MTURestore == 10*time.Second && p.RateBitsPerSecond == 100e6 && p.RTT == 50*ms
		}, "the path MTU narrowed to 1280 with ICMP at 3 s and widened at 10 s"},
		{"MTU black hole 1280 from 3 s to 10 s, 100 Mbit/s, RTT 50 ms", func(p PathSpec) bool {
			d := p.Disruption
			return d != nil && d.Change == ChangePathMTUBlackHole && d.PathMTU == 1280 && d.Every == 3*time.Second &&
				d.Every+d.MTURestore == 10*time.Second && d.StallLimit > d.MTURestore
		}, "a 1280 black hole from 3 s to 10 s, with a stall limit TCP can wait out"},
		{"CoDel ECN-marking bottleneck, 100 Mbit/s, RTT 50 ms", func(p PathSpec) bool {
			return p.CoDelECN && p.LinkConfig(1).CoDel == (linkem.CoDelConfig{ECN: true}) && p.RateBitsPerSecond == 100e6 && p.RTT == 50*ms
		}, "CoDel with ECN marking on the 100 Mbit/s, 50 ms link"},
	} {
		p, ok := byName[tc.name]
		if !ok {
			t.Errorf("no row %q", tc.name)
			continue
		}
		if !tc.want(p) {
			t.Errorf("row %q is %+v, want %s", tc.name, p, tc.desc)
		}
	}
	// 160 MiB at 100 Mbit/s take longer than the 10 s until the rise.
	for _, p := range mtuChangePaths() {
		if secs := float64(p.Disruption.Size) * 8 / float64(p.RateBitsPerSecond); secs < 12 {
			t.Errorf("row %q: %s take %.1f s at the link's rate, ending before the MTU rises at 10 s", p.Name, FormatSize(p.Disruption.Size), secs)
		}
	}
}

// TestDefaultMatricesLeaveOutPathRows: the MTU and ECN rows take minutes
// and a second lab; only -full runs them.
func TestDefaultMatricesLeaveOutPathRows(t *testing.T) {
	for name, paths := range map[string][]PathSpec{"standard": StandardMatrix(), "quick": QuickMatrix()} {
		for _, p := range paths {
			if pathRow(p) || (p.Disruption != nil && p.Disruption.Change.narrowsMTU()) {
				t.Errorf("%s matrix has the path MTU or ECN row %q", name, p.Name)
			}
		}
	}
}

func TestRowRunners(t *testing.T) {
	names := func(list string) []Runner {
		r, err := ParseProtocols(list)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	codel := codelECNPath()
	for _, tc := range []struct {
		desc      string
		runners   string
		path      PathSpec
		wantNames []string
	}{
		{"a CoDel row adds CUBIC with ECN after CUBIC, limpet without after limpet", "tcp-cubic,tcp-bbr,limpet", codel, []string{"tcp-cubic", "tcp-cubic-ecn", "tcp-bbr", "limpet", "limpet-noecn"}},
		{"other rows keep the plan's runners", "tcp-cubic,tcp-bbr,limpet", emulatedPath(50*time.Millisecond, 0), []string{"tcp-cubic", "tcp-bbr", "limpet"}},
		{"no CUBIC to compare with, no CUBIC with ECN", "tcp-bbr,limpet", codel, []string{"tcp-bbr", "limpet", "limpet-noecn"}},
		{"no limpet, no limpet without ECN", "tcp-cubic", codel, []string{"tcp-cubic", "tcp-cubic-ecn"}},
		{"named already: not twice", "tcp-cubic,tcp-cubic-ecn,limpet,limpet-noecn", codel, []string{"tcp-cubic", "tcp-cubic-ecn", "limpet", "limpet-noecn"}},
	} {
		plan := names(tc.runners)
		got := runnerNames(rowRunners(plan, tc.path))
		if !slices.Equal(got, tc.wantNames) {
			t.Errorf("%s: runners %v, want %v", tc.desc, got, tc.wantNames)
		}
		if gotPlan := runnerNames(plan); len(gotPlan) != len(names(tc.runners)) {
			t.Errorf("%s: the plan's runners changed to %v", tc.desc, gotPlan)
		}
	}
}

func TestPathSpecLinkConfig(t *testing.T) {
	p := emulatedPath(50*time.Millisecond, 0.01)
	c := p.LinkConfig(7)
	if c.Delay != 25*time.Millisecond || c.RateBitsPerSecond != 100e6 || c.Loss != 0.01 || c.Seed != 7 || c.QueueLimitTime != 50*time.Millisecond {
		t.Errorf("LinkConfig = %+v; want 25 ms delay each way, 100 Mbit/s, 1%% loss, seed 7, a 50 ms (one BDP) queue", c)
	}
	if got := emulatedPath(time.Millisecond, 0).LinkConfig(0).QueueLimitTime; got != 5*time.Millisecond {
		t.Errorf("queue at 1 ms RTT: %v, want the 5 ms floor", got)
	}
	if got, want := p.Name, "100 Mbit/s, RTT 50 ms, 1% loss"; got != want {
		t.Errorf("name %q, want %q", got, want)
	}
	if c.CoDel.Enabled() {
		t.Errorf("a plain row has CoDel: %+v", c.CoDel)
	}
	codel := codelECNPath().LinkConfig(7)
	if !codel.CoDel.ECN || codel.CoDel.Target != 0 || codel.QueueLimitTime != 200*time.Millisecond {
		t.Errorf("CoDel row: CoDel %+v, queue limit %v; want ECN marking with RFC 8289's defaults and a 200 ms backstop", codel.CoDel, codel.QueueLimitTime)
	}
	if got := (PathSpec{}).LabMTU(); got != 1500 {
		t.Errorf("LabMTU of a row without MTU: %d, want 1500", got)
	}
	if got := (PathSpec{MTU: 9000}).LabMTU(); got != 9000 {
		t.Errorf("LabMTU of a 9000-byte row: %d", got)
	}
	for bps, want := range map[uint64]string{100e6: "100 Mbit/s", 1e9: "1 Gbit/s", 2.5e9: "2.5 Gbit/s", 1_234_567: "1.234567 Mbit/s"} {
		if got := formatRate(bps); got != want {
			t.Errorf("formatRate(%d) = %q, want %q", bps, got, want)
		}
	}
}

func TestFormatMatrixMarkdown(t *testing.T) {
	protocols := []string{ProtocolTCPCubic, ProtocolTCPBBR, ProtocolLimpet}
	run := func(proto string, mbps, seconds float64, capped bool) Result {
		return Result{Protocol: proto, Bytes: 100 << 20, MBps: mbps, Seconds: seconds, Capped: capped,
			CPUSecondsPerGiB: 1.5, TTFB: 75 * time.Millisecond, Retransmitted: 1 << 20}
	}
	small := func(proto string) Result {
		return Result{Protocol: proto, Bytes: 1 << 20, MBps: 2, Seconds: 0.4, TTFB: 80 * time.Millisecond}
	}
	path := emulatedPath(50*time.Millisecond, 0)
	row := PathResult{Path: path}
	row.Bulk = []Result{run(ProtocolTCPCubic, 11.5, 9.1, false), run(ProtocolTCPBBR, 10, 10.5, false), run(ProtocolLimpet, 11.5, 20, true)}
	row.Bulk[2].Bottleneck = &Bottleneck{Limited: []LimitShare{{"congestion_window", 0.62}, {"pacing", 0.3}}, LossRate: 0.012,
		Advice: "limited by the congestion controller 92% of the time"}
	row.Small = []Result{small(ProtocolTCPCubic), small(ProtocolTCPBBR), {Protocol: ProtocolLimpet, Err: "boom"}}
	row.BulkSummary, row.SmallSummary = Summarize(row.Bulk), Summarize(row.Small)

	migration := PathResult{Path: migrationPaths()[0], Disruptions: []DisruptionResult{
		// Bytes in flight reached the server after the change, then TCP died.
		{Protocol: DisruptTCP, Bytes: 7 << 20, Changes: []ChangeOutcome{{Stall: 10 * time.Millisecond, FirstData: time.Millisecond, Resumed: true}}},
		{Protocol: DisruptLimpet, Survived: true, Bytes: 200 << 20, Changes: []ChangeOutcome{{Stall: 21 * time.Millisecond, FirstData: time.Millisecond, Resumed: true}}},
	}}
	outage := PathResult{Path: outagePaths()[0], Disruptions: []DisruptionResult{
		{Protocol: DisruptTCP, Survived: true, Bytes: 64 << 20, Seconds: 104.5, Changes: []ChangeOutcome{{Stall: 12 * time.Second, FirstData: 12 * time.Second, Resumed: true}}},
		{Protocol: DisruptLimpet, Bytes: 20 << 20, Seconds: 65, Err: "client: limpet: idle timeout"},
		{Protocol: DisruptLimpetSession, Survived: true, Bytes: 64 << 20, Seconds: 96.2, Changes: []ChangeOutcome{{Stall: 1500 * time.Millisecond, FirstData: 1200 * time.Millisecond, Resumed: true}},
			Detail: "2 connections, 1 resumptions after 7 attempts, 1.0 MiB sent again"},
	}}
	skipped := PathResult{Path: emulatedPath(10*time.Millisecond, 0), Skipped: "network lab unavailable: not root"}
	fair := PathResult{Path: fairnessPaths()[0], Fairness: []FairnessResult{
		{LimpetMbit: 40, OtherMbit: 50, LimpetShare: 0.444, Window: 30},
		{Err: "tcp dial: refused", Window: 30},
		{LimpetMbit: 52, OtherMbit: 44, LimpetShare: 0.542, Window: 30},
	}}

	md := FormatMatrixMarkdown([]PathResult{row, fair, migration, outage, skipped}, protocols)
	for _, want := range []string{
		"| path | tcp-cubic | tcp-bbr | limpet | limpet ÷ tcp-cubic | limpet ÷ tcp-bbr |",
		"| 100 Mbit/s, RTT 50 ms, 0% loss | 92.0 (92.0–92.0) | 80.0 (80.0–80.0) | 92.0 (92.0–92.0) | 1.00 | 1.15 |",
		"| 100 Mbit/s, RTT 50 ms, 0% loss | 9.10 | 10.50 | capped |",
		"| 100 Mbit/s, RTT 50 ms, 0% loss | 400 / 80 | 400 / 80 | failed |",
		"| 100 Mbit/s, RTT 50 ms, 0% loss | 1.50 / 1.00 | 1.50 / 1.00 | 1.50 / 1.00 |",
		"| NAT rebinding every 5 s, 100 Mbit/s, RTT 50 ms | tcp | 0/1 | never | never resumed | 7.0 MiB |",
		"| NAT rebinding every 5 s, 100 Mbit/s, RTT 50 ms | limpet | 1/1 | 1.0 ms | 21 ms | 200.0 MiB |",
		"- 100 Mbit/s, RTT 10 ms, 0% loss: network lab unavailable: not root",
		"| 90 s blackout, 100 Mbit/s, RTT 50 ms | tcp | 1/1 | 12.00 s | 64.0 MiB | 104.5 s |  |",
		"| 90 s blackout, 100 Mbit/s, RTT 50 ms | limpet | 0/1 | never | 20.0 MiB | 65.0 s | client: limpet: idle timeout |",
		"| 90 s blackout, 100 Mbit/s, RTT 50 ms | limpet-session | 1/1 | 1.20 s | 64.0 MiB | 96.2 s | 2 connections, 1 resumptions after 7 attempts, 1.0 MiB sent again |",
		"| limpet and TCP CUBIC sharing 100 Mbit/s, RTT 50 ms | 2 × 30 s | 46.0 | 47.0 | 0.49 (0.44–0.54) |",
		"| 100 Mbit/s, RTT 50 ms, 0% loss | limpet | congestion_window 62%, pacing 30%, loss 1.20% | limited by the congestion controller 92% of the time |",
	} {
		if !strings.Contains(md, want+"\n") {
			t.Errorf("markdown lacks the line\n%s\nin\n%s", want, md)
		}
	}
}

func TestFormatMatrixMarkdownPathRows(t *testing.T) {
	ms := time.Millisecond
	protocols := []string{ProtocolTCPCubic, ProtocolLimpet}
	bulk := func(proto string, mbps float64, path *PathStats) Result {
		return Result{Protocol: proto, Bytes: 100 << 20, MBps: mbps, Seconds: 9, CPUSecondsPerGiB: 1, Retransmitted: 1 << 20, Path: path}
	}
	codel := PathResult{Path: codelECNPath()}
	codel.Bulk = []Result{
		bulk(ProtocolTCPCubic, 11, &PathStats{MSS: 1448, ECN: "off", QueueDelay: 4 * ms}),
		bulk(ProtocolTCPCubicECN, 11.5, &PathStats{MSS: 1448, ECN: "on", CEMarks: 310, QueueDelay: 3 * ms}),
		bulk(ProtocolLimpet, 11.8, &PathStats{MaxDatagramSize: 1452, MTUProbesSent: 3, ECN: "capable", CEMarks: 40, ECNCongestionEvents: 12, QueueDelay: 2500 * time.Microsecond}),
	}
	codel.BulkSummary = Summarize(codel.Bulk)
	tunnel := PathResult{Path: mtuPaths()[0]}
	tunnel.Bulk = []Result{
		bulk(ProtocolTCPCubic, 11, &PathStats{MSS: 1228, ECN: "off"}),
		{Protocol: ProtocolLimpet, Err: "hung"},
	}
	tunnel.BulkSummary = Summarize(tunnel.Bulk)
	plain := PathResult{Path: emulatedPath(50*time.Millisecond, 0)}
	plain.Bulk = []Result{bulk(ProtocolLimpet, 11.8, &PathStats{MaxDatagramSize: 1200, ECN: "failed"})}
	plain.BulkSummary = Summarize(plain.Bulk)

	rise := 10 * time.Second
	change := PathResult{Path: mtuChangePaths()[0], Disruptions: []DisruptionResult{
		{Protocol: DisruptTCP, Survived: true, Bytes: 160 << 20, Seconds: 15.2, Changes: []ChangeOutcome{
			{At: 3 * time.Second, Stall: 210 * ms, Resumed: true}, {At: rise, Stall: 2 * ms, Resumed: true}}},
		{Protocol: DisruptLimpet, Survived: true, Bytes: 160 << 20, Seconds: 14.1, Changes: []ChangeOutcome{
			{At: 3 * time.Second, Stall: 120 * ms, Resumed: true}, {At: rise, Stall: 3 * ms, Resumed: true}},
			DatagramSizes: []DatagramSizeSample{{At: 0, Size: 1200}, {At: time.Second, Size: 1452}, {At: 3200 * ms, Size: 1232}, {At: rise + 2500*ms, Size: 1452}},
			Path:          &PathStats{MaxDatagramSize: 1452}},
		{Protocol: DisruptLimpet, Survived: true, Bytes: 160 << 20, Seconds: 14.3, Changes: []ChangeOutcome{
			{At: 3 * time.Second, Stall: 90 * ms, Resumed: true}, {At: rise, Stall: 3 * ms, Resumed: true}},
			DatagramSizes: []DatagramSizeSample{{At: 0, Size: 1200}, {At: rise + 3*time.Second, Size: 1452}}},
	}}
	blackHole := PathResult{Path: mtuChangePaths()[1], Disruptions: []DisruptionResult{
		{Protocol: DisruptTCP, Bytes: 30 << 20, Seconds: 33, Err: "hung: no data for 30s", Changes: []ChangeOutcome{{At: 3 * time.Second}}},
	}}

	md := FormatMatrixMarkdown([]PathResult{tunnel, codel, plain, change, blackHole}, protocols)
	for _, want := range []string{
		"| path | protocol | goodput, Mbit/s | retransmitted, % of bytes | queueing delay at the end | packet size at the end | ECN |",
		"| 1280-MTU tunnel, 100 Mbit/s, RTT 50 ms | tcp-cubic | 88.0 | 1.00 | 0.0 ms | MSS 1228 B | off |",
		"| 1280-MTU tunnel, 100 Mbit/s, RTT 50 ms | limpet | failed | – | – | – | – |",
		"| CoDel ECN-marking bottleneck, 100 Mbit/s, RTT 50 ms | tcp-cubic-ecn | 92.0 | 1.00 | 3.0 ms | MSS 1448 B | on, 310 packets ECE-acked |",
		"| CoDel ECN-marking bottleneck, 100 Mbit/s, RTT 50 ms | limpet | 94.4 | 1.00 | 2.5 ms | 1452 B datagrams | capable, 40 CE, 12 reductions |",
		"| CoDel ECN-marking bottleneck, 100 Mbit/s, RTT 50 ms | limpet | 1452 B | 3 / 0 | 0 | capable, 40 CE, 12 reductions |",
		"| 100 Mbit/s, RTT 50 ms, 0% loss | limpet | 1200 B | 0 / 0 | 0 | failed, 0 CE, 0 reductions |",
		"| path MTU 1280 from 3 s to 10 s, 100 Mbit/s, RTT 50 ms | tcp | 1/1 | 210 ms | 2.0 ms | – | – | 15.2 s |",
		"| path MTU 1280 from 3 s to 10 s, 100 Mbit/s, RTT 50 ms | limpet | 2/2 | 120 ms | 3.0 ms | 3.00 s | 1452 B | 14.3 s |",
		"| MTU black hole 1280 from 3 s to 10 s, 100 Mbit/s, RTT 50 ms | tcp | 0/1 | never resumed | – | – | – | 33.0 s |",
	} {
		if !strings.Contains(md, want+"\n") {
			t.Errorf("markdown lacks the line\n%s\nin\n%s", want, md)
		}
	}
	// tcp-cubic-ecn is not a column of the main tables, and the path
	// MTU changes are not repeated among the migration rows.
	if strings.Contains(md, "| tcp-cubic-ecn |\n") || strings.Contains(md, "### Path changes") {
		t.Errorf("markdown:\n%s", md)
	}
	// Only the MTU and ECN rows get the every-protocol table.
	if strings.Contains(md, "| 100 Mbit/s, RTT 50 ms, 0% loss | limpet | 94.4 |") {
		t.Errorf("the plain row is in the path MTU and ECN table:\n%s", md)
	}
}
