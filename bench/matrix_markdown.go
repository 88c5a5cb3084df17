package bench

import (
	"fmt"
	"strings"
	"time"
)

// FormatMatrixMarkdown renders a matrix run as markdown tables, one per
// metric, a row per path and a column per protocol (in the order given),
// then the migration rows and the rows skipped with their reasons.
func FormatMatrixMarkdown(results []PathResult, protocols []string) string {
	var b strings.Builder
	var measured, fairness, migration, skipped []PathResult
	for _, r := range results {
		switch {
		case r.Skipped != "":
			skipped = append(skipped, r)
		case r.Path.Fairness != "":
			fairness = append(fairness, r)
		case r.Path.Disruption != nil:
			migration = append(migration, r)
		default:
			measured = append(measured, r)
		}
	}
	if len(measured) > 0 {
		b.WriteString("### Goodput, Mbit/s (median, min–max)\n\n")
		writeMetricTable(&b, measured, protocols, true, func(r PathResult, proto string) string {
			s := findSummary(r.BulkSummary, proto)
			if s == nil || !s.OK() {
				return failedCell(s)
			}
			return fmt.Sprintf("%s (%s–%s)", formatMbit(s.MBps.Median), formatMbit(s.MBps.Min), formatMbit(s.MBps.Max))
		})
		b.WriteString("\n### Completion time of the bulk transfer, s (median)\n\n")
		writeMetricTable(&b, measured, protocols, false, func(r PathResult, proto string) string {
			s := findSummary(r.BulkSummary, proto)
			switch {
			case s == nil || !s.OK():
				return failedCell(s)
			case s.Capped == s.Runs-s.Failed:
				return "capped"
			case s.Capped > 0:
				return fmt.Sprintf("%.2f (%d capped)", s.Seconds.Median, s.Capped)
			}
			return fmt.Sprintf("%.2f", s.Seconds.Median)
		})
		b.WriteString("\n### 1 MiB transfer: completion time / time to first byte, ms (median, handshake included)\n\n")
		writeMetricTable(&b, measured, protocols, false, func(r PathResult, proto string) string {
			s := findSummary(r.SmallSummary, proto)
			if s == nil || !s.OK() {
				return failedCell(s)
			}
			return fmt.Sprintf("%s / %s", formatMillis(time.Duration(s.Seconds.Median*float64(time.Second))), formatMillis(s.TTFB))
		})
		b.WriteString("\n### Cost of the bulk transfer: CPU s/GiB / retransmitted % of bytes (median)\n\n")
		writeMetricTable(&b, measured, protocols, false, func(r PathResult, proto string) string {
			s := findSummary(r.BulkSummary, proto)
			if s == nil || !s.OK() {
				return failedCell(s)
			}
			retrans := 0.0
			if s.Bytes > 0 {
				retrans = 100 * float64(s.Retransmitted) / float64(s.Bytes)
			}
			return fmt.Sprintf("%.2f / %.2f", s.CPUSecondsPerGiB.Median, retrans)
		})
		writeBottlenecks(&b, measured)
	}
	if len(fairness) > 0 {
		b.WriteString("\n### Sharing a bottleneck: one limpet flow and one TCP flow, started together\n\n")
		b.WriteString("| path | runs | limpet Mbit/s | TCP Mbit/s | limpet's share (median, min–max) |\n")
		b.WriteString("|---|--:|--:|--:|--:|\n")
		for _, r := range fairness {
			b.WriteString(fairnessRow(r))
		}
	}
	if len(migration) > 0 {
		b.WriteString("\n### Path changes (TCP and limpet, same code)\n\n")
		b.WriteString("| path | protocol | survived | first data after a change (worst) | longest stall | delivered |\n")
		b.WriteString("|---|---|--:|--:|--:|--:|\n")
		for _, r := range migration {
			for _, proto := range []string{DisruptTCP, DisruptLimpet} {
				b.WriteString(migrationRow(r, proto))
			}
		}
	}
	if len(skipped) > 0 {
		b.WriteString("\n### Skipped\n\n")
		for _, r := range skipped {
			fmt.Fprintf(&b, "- %s: %s\n", markdownEscape(r.Path.Name), markdownEscape(r.Skipped))
		}
	}
	return b.String()
}

// writeMetricTable writes one table; with ratios it adds limpet's median
// goodput over TCP CUBIC's and TCP BBR's.
func writeMetricTable(b *strings.Builder, rows []PathResult, protocols []string, ratios bool, cell func(PathResult, string) string) {
	b.WriteString("| path |")
	for _, p := range protocols {
		fmt.Fprintf(b, " %s |", p)
	}
	if ratios {
		b.WriteString(" limpet ÷ tcp-cubic | limpet ÷ tcp-bbr |")
	}
	b.WriteString("\n|---|")
	for range protocols {
		b.WriteString("--:|")
	}
	if ratios {
		b.WriteString("--:|--:|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		fmt.Fprintf(b, "| %s |", markdownEscape(r.Path.Name))
		for _, p := range protocols {
			fmt.Fprintf(b, " %s |", markdownEscape(cell(r, p)))
		}
		if ratios {
			limpet := findSummary(r.BulkSummary, ProtocolLimpet)
			for _, ref := range []string{ProtocolTCPCubic, ProtocolTCPBBR} {
				fmt.Fprintf(b, " %s |", goodputRatio(limpet, findSummary(r.BulkSummary, ref)))
			}
		}
		b.WriteString("\n")
	}
}

func goodputRatio(a, b *Summary) string {
	if a == nil || b == nil || !a.OK() || !b.OK() || b.MBps.Median == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a.MBps.Median/b.MBps.Median)
}

func findSummary(rows []Summary, protocol string) *Summary {
	for i := range rows {
		if rows[i].Protocol == protocol {
			return &rows[i]
		}
	}
	return nil
}

func failedCell(s *Summary) string {
	if s == nil {
		return "–"
	}
	return "failed"
}

// formatMbit renders MB/s (10^6 bytes) as Mbit/s.
func formatMbit(mbps float64) string {
	v := mbps * 8
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func formatMillis(d time.Duration) string {
	return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond))
}

// migrationRow summarizes one protocol's runs of a migration row.
func migrationRow(r PathResult, proto string) string {
	var runs, survived int
	var delivered int64
	var worstResume, worstStall time.Duration
	resumedAll := true
	for _, d := range r.Disruptions {
		if d.Protocol != proto {
			continue
		}
		runs++
		if d.Survived {
			survived++
		}
		delivered = max(delivered, d.Bytes)
		if !d.Survived {
			// Bytes that reached the server after the change had been
			// in flight before it (a 50 ms path holds a BDP of them): a
			// connection that then died or hung never resumed.
			resumedAll = false
			continue
		}
		res, ok1 := d.SlowestResume()
		stall, ok2 := d.LongestStall()
		if !ok1 || !ok2 {
			resumedAll = false
			continue
		}
		worstResume, worstStall = max(worstResume, res), max(worstStall, stall)
	}
	if runs == 0 {
		return ""
	}
	resume, stall := formatStall(worstResume), formatStall(worstStall)
	if !resumedAll {
		resume, stall = "never", "never resumed"
	}
	return fmt.Sprintf("| %s | %s | %d/%d | %s | %s | %s |\n",
		markdownEscape(r.Path.Name), proto, survived, runs, resume, stall, formatMiB(delivered))
}

// fairnessRow summarizes the runs of a fairness row: medians of the
// successful runs, and the spread of limpet's share.
func fairnessRow(r PathResult) string {
	var limpet, tcp, share []float64
	var window float64
	for _, f := range r.Fairness {
		if f.Err != "" {
			continue
		}
		limpet, tcp, share = append(limpet, f.LimpetMbit), append(tcp, f.TCPMbit), append(share, f.LimpetShare)
		window = f.Window
	}
	name := markdownEscape(r.Path.Name)
	if len(share) == 0 {
		return fmt.Sprintf("| %s | %d | failed | failed | failed |\n", name, len(r.Fairness))
	}
	s := spreadOf(share)
	return fmt.Sprintf("| %s | %d × %.0f s | %.1f | %.1f | %.2f (%.2f–%.2f) |\n",
		name, len(share), window, spreadOf(limpet).Median, spreadOf(tcp).Median, s.Median, s.Min, s.Max)
}

// writeBottlenecks lists, for each path, what held limpet's sender back in
// its first bulk run (transport.BottleneckReport), with the report's advice.
func writeBottlenecks(b *strings.Builder, rows []PathResult) {
	var lines []string
	for _, r := range rows {
		for _, s := range r.BulkSummary {
			if s.Bottleneck == nil {
				continue
			}
			line := fmt.Sprintf("| %s | %s | %s | %s |\n", markdownEscape(r.Path.Name), s.Protocol,
				markdownEscape(s.Bottleneck.String()), markdownEscape(s.Bottleneck.Advice))
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("\n### What held limpet's sender back (bulk transfer, first run; share of the connection's time)\n\n")
	b.WriteString("| path | protocol | limits | advice |\n|---|---|---|---|\n")
	for _, l := range lines {
		b.WriteString(l)
	}
}
