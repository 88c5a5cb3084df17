package bench

import (
	"strings"
	"testing"
	"time"
)

func TestFullMatrixCoversTheIssueRows(t *testing.T) {
	paths := FullMatrix()
	names := map[string]bool{}
	var loopback, grid, migration int
	fairness := map[string]bool{}
	for _, p := range paths {
		if names[p.Name] {
			t.Errorf("row %q appears twice", p.Name)
		}
		names[p.Name] = true
		switch {
		case p.Loopback:
			loopback++
		case p.Fairness != "":
			fairness[p.Fairness] = true
		case p.Disruption != nil:
			migration++
			if p.Disruption.Name != p.Name {
				t.Errorf("migration row %q names its scenario %q", p.Name, p.Disruption.Name)
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
	if loopback != 1 || migration != 3 {
		t.Errorf("%d loopback and %d migration rows, want 1 and 3", loopback, migration)
	}
	if !fairness["cubic"] || !fairness["bbr"] || len(fairness) != 2 {
		t.Errorf("fairness rows against %v, want cubic and bbr", fairness)
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
	skipped := PathResult{Path: emulatedPath(10*time.Millisecond, 0), Skipped: "network lab unavailable: not root"}
	fair := PathResult{Path: fairnessPaths()[0], Fairness: []FairnessResult{
		{LimpetMbit: 40, TCPMbit: 50, LimpetShare: 0.444, Window: 30},
		{Err: "tcp dial: refused", Window: 30},
		{LimpetMbit: 52, TCPMbit: 44, LimpetShare: 0.542, Window: 30},
	}}

	md := FormatMatrixMarkdown([]PathResult{row, fair, migration, skipped}, protocols)
	for _, want := range []string{
		"| path | tcp-cubic | tcp-bbr | limpet | limpet ÷ tcp-cubic | limpet ÷ tcp-bbr |",
		"| 100 Mbit/s, RTT 50 ms, 0% loss | 92.0 (92.0–92.0) | 80.0 (80.0–80.0) | 92.0 (92.0–92.0) | 1.00 | 1.15 |",
		"| 100 Mbit/s, RTT 50 ms, 0% loss | 9.10 | 10.50 | capped |",
		"| 100 Mbit/s, RTT 50 ms, 0% loss | 400 / 80 | 400 / 80 | failed |",
		"| 100 Mbit/s, RTT 50 ms, 0% loss | 1.50 / 1.00 | 1.50 / 1.00 | 1.50 / 1.00 |",
		"| NAT rebinding every 5 s, 100 Mbit/s, RTT 50 ms | tcp | 0/1 | never | never resumed | 7.0 MiB |",
		"| NAT rebinding every 5 s, 100 Mbit/s, RTT 50 ms | limpet | 1/1 | 1.0 ms | 21 ms | 200.0 MiB |",
		"- 100 Mbit/s, RTT 10 ms, 0% loss: network lab unavailable: not root",
		"| limpet and TCP CUBIC sharing 100 Mbit/s, RTT 50 ms | 2 × 30 s | 46.0 | 47.0 | 0.49 (0.44–0.54) |",
		"| 100 Mbit/s, RTT 50 ms, 0% loss | limpet | congestion_window 62%, pacing 30%, loss 1.20% | limited by the congestion controller 92% of the time |",
	} {
		if !strings.Contains(md, want+"\n") {
			t.Errorf("markdown lacks the line\n%s\nin\n%s", want, md)
		}
	}
}
