package bench

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// FormatMatrixMarkdown renders a matrix run as markdown tables, one per
// metric, a row per path and a column per protocol (in the order given),
// then the path MTU and ECN figures, the migration rows, the path MTU
// changes, and the rows skipped with their reasons.
func FormatMatrixMarkdown(results []PathResult, protocols []string) string {
	var b strings.Builder
	var measured, fairness, migration, outages, mtuChange, requests, skipped []PathResult
	for _, r := range results {
		switch {
		case r.Skipped != "":
			skipped = append(skipped, r)
		case r.Path.Fairness != "":
			fairness = append(fairness, r)
		case r.Path.RequestResponse != nil:
			requests = append(requests, r)
		case r.Path.Disruption != nil && r.Path.Disruption.Change.narrowsMTU():
			mtuChange = append(mtuChange, r)
		case r.Path.Disruption != nil && slices.Contains(r.Path.Disruption.protocols(), DisruptLimpetSession):
			outages = append(outages, r)
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
			return fmt.Sprintf("%.2f / %.2f", s.CPUSecondsPerGiB.Median, retransmittedPercent(s))
		})
		writeBottlenecks(&b, measured)
		writePathRows(&b, measured)
		writeLimpetPaths(&b, measured)
	}
	if len(requests) > 0 {
		b.WriteString("\n### Request/response: completion time of each exchange, ms (p50 / p99 / max)\n\n")
		b.WriteString("| path | protocol | exchanges | p50 | p99 | max |\n")
		b.WriteString("|---|---|--:|--:|--:|--:|\n")
		for _, r := range requests {
			for _, rr := range r.RequestResponse {
				if rr.Err != "" {
					fmt.Fprintf(&b, "| %s | %s | %d | failed: %s | | |\n", markdownEscape(r.Path.Name), rr.Protocol, rr.Requests, markdownEscape(rr.Err))
					continue
				}
				fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s |\n", markdownEscape(r.Path.Name), rr.Protocol, rr.Requests,
					formatMillis(rr.P50), formatMillis(rr.P99), formatMillis(rr.Max))
			}
		}
	}
	if len(fairness) > 0 {
		b.WriteString("\n### Sharing a bottleneck: one limpet flow and another (TCP or limpet), and TCP against TCP\n\n")
		b.WriteString("A limpet flow and a TCP flow start sending together; of two flows of one protocol, the first starts sending a handshake before the second. Reference rows run two TCP flows that way, the first in the limpet columns.\n\n")
		b.WriteString("| path | runs | limpet Mbit/s | other flow Mbit/s | limpet's share (median, min–max) |\n")
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
			for _, proto := range r.Path.Disruption.protocols() {
				b.WriteString(migrationRow(r, proto))
			}
		}
	}
	if len(outages) > 0 {
		b.WriteString("\n### Outages longer than limpet's 60 s idle timeout (TCP, a limpet connection, a limpet session)\n\n")
		b.WriteString("| path | protocol | survived | first data after the path returned (worst) | delivered | time | sender's view (last run) |\n")
		b.WriteString("|---|---|--:|--:|--:|--:|---|\n")
		for _, r := range outages {
			for _, proto := range r.Path.Disruption.protocols() {
				b.WriteString(outageRow(r, proto))
			}
		}
	}
	if len(mtuChange) > 0 {
		fmt.Fprintf(&b, "\n### Path MTU changes mid-transfer (TCP and limpet, same code)\n\n")
		fmt.Fprintf(&b, "| path | protocol | survived | longest stall after the drop | longest stall after the rise | datagrams above %d B again after the rise | limpet's datagram size at the end | time |\n", mtuRecoveredSize)
		b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|\n")
		for _, r := range mtuChange {
			for _, proto := range r.Path.Disruption.protocols() {
				b.WriteString(mtuChangeRow(r, proto))
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

// outageRow summarizes one protocol's runs of an outage row.
func outageRow(r PathResult, proto string) string {
	row := migrationRow(r, proto)
	if row == "" {
		return ""
	}
	var last DisruptionResult
	for _, d := range r.Disruptions {
		if d.Protocol == proto {
			last = d
		}
	}
	// migrationRow's columns, less its longest stall (the outage itself),
	// plus the time and the sender's view.
	cells := strings.Split(strings.TrimSuffix(row, " |\n"), " | ")
	view := last.Detail
	if !last.Survived && last.Err != "" {
		view = last.Err
	}
	return fmt.Sprintf("%s | %s | %s | %s | %s | %.1f s | %s |\n",
		cells[0], cells[1], cells[2], cells[3], cells[5], last.Seconds, markdownEscape(view))
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
		limpet, tcp, share = append(limpet, f.LimpetMbit), append(tcp, f.OtherMbit), append(share, f.LimpetShare)
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

// pathRow reports whether a row is about the path's MTU or ECN: those get
// a table of every protocol's path figures.
func pathRow(p PathSpec) bool {
	return p.MTU != 0 || p.PathMTU != 0 || p.CoDelECN
}

// writePathRows lists, for the rows about the path's MTU or ECN, every
// protocol that ran, in the order they alternated (tcp-cubic-ecn too, which
// the other tables leave out): goodput, retransmissions, the queueing delay
// it kept, and the packet size and ECN it ended with.
func writePathRows(b *strings.Builder, rows []PathResult) {
	var lines []string
	for _, r := range rows {
		if !pathRow(r.Path) {
			continue
		}
		for i := range r.BulkSummary {
			s := &r.BulkSummary[i]
			proto := s.Protocol
			cells := []string{markdownEscape(r.Path.Name), proto, failedCell(s), "–", "–", "–", "–"}
			if s.OK() {
				cells[2] = formatMbit(s.MBps.Median)
				cells[3] = fmt.Sprintf("%.2f", retransmittedPercent(s))
				if s.Path != nil {
					cells[4] = formatDelay(s.QueueDelay)
					cells[5] = packetSize(s.Path)
					cells[6] = markdownEscape(ecnCell(s.Path))
				}
			}
			lines = append(lines, "| "+strings.Join(cells, " | ")+" |\n")
		}
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("\n### Path MTU and ECN rows: every protocol (bulk transfer; medians, and the first run's packet size and ECN)\n\n")
	b.WriteString("| path | protocol | goodput, Mbit/s | retransmitted, % of bytes | queueing delay at the end | packet size at the end | ECN |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|---|\n")
	for _, l := range lines {
		b.WriteString(l)
	}
}

// retransmittedPercent is a summary's median retransmitted bytes as a
// share of the bytes moved.
func retransmittedPercent(s *Summary) float64 {
	if s.Bytes == 0 {
		return 0
	}
	return 100 * float64(s.Retransmitted) / float64(s.Bytes)
}

// packetSize is the largest packet a sender ended with: limpet's UDP
// payload, or TCP's segment size.
func packetSize(p *PathStats) string {
	switch {
	case p.MaxDatagramSize > 0:
		return fmt.Sprintf("%d B datagrams", p.MaxDatagramSize)
	case p.MSS > 0:
		return fmt.Sprintf("MSS %d B", p.MSS)
	}
	return "–"
}

// ecnCell is what ECN did for a sender: limpet's validation state with the
// CE marks reported and the window reductions they caused, or whether TCP
// negotiated ECN and how many packets came back with ECE.
func ecnCell(p *PathStats) string {
	switch {
	case p.ECN == "":
		return "–"
	case p.MaxDatagramSize > 0:
		return fmt.Sprintf("%s, %d CE, %d reductions", p.ECN, p.CEMarks, p.ECNCongestionEvents)
	case p.ECN == "on":
		return fmt.Sprintf("on, %d packets ECE-acked", p.CEMarks)
	}
	return p.ECN
}

// writeLimpetPaths lists limpet's packet size, path MTU discovery and ECN
// at the end of its first bulk run on every row.
func writeLimpetPaths(b *strings.Builder, rows []PathResult) {
	var lines []string
	for _, r := range rows {
		for _, s := range r.BulkSummary {
			if s.Path == nil || s.Path.MaxDatagramSize == 0 {
				continue
			}
			p := s.Path
			lines = append(lines, fmt.Sprintf("| %s | %s | %d B | %d / %d | %d | %s |\n", markdownEscape(r.Path.Name), s.Protocol,
				p.MaxDatagramSize, p.MTUProbesSent, p.MTUProbesLost, p.MTUBlackHoles, markdownEscape(ecnCell(p))))
		}
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("\n### limpet's path MTU discovery and ECN (bulk transfer, first run, at the end)\n\n")
	b.WriteString("| path | protocol | datagram size | MTU probes sent / lost | black holes | ECN |\n|---|---|--:|--:|--:|---|\n")
	for _, l := range lines {
		b.WriteString(l)
	}
}

// mtuRecoveredSize is the datagram size the path MTU change rows wait for
// after the path MTU rises back to 1500: above it, the sender has found
// the larger path again (a 1500-byte path carries 1472-byte UDP payloads
// over IPv4; 1280, 1252).
const mtuRecoveredSize = 1400

// mtuChangeRow summarizes one protocol's runs of a path MTU change row:
// the worst stall after the drop and after the rise, and for limpet the
// slowest return to datagrams above mtuRecoveredSize.
func mtuChangeRow(r PathResult, proto string) string {
	var runs, survived int
	var dropStall, riseStall, recovery time.Duration
	var seconds float64
	dropOK, riseOK, recoveryOK, sampled := true, true, true, false
	endSize := "–"
	for _, d := range r.Disruptions {
		if d.Protocol != proto {
			continue
		}
		runs++
		if d.Survived {
			survived++
		}
		seconds = max(seconds, d.Seconds)
		if endSize == "–" && d.Path != nil && d.Path.MaxDatagramSize > 0 {
			endSize = fmt.Sprintf("%d B", d.Path.MaxDatagramSize)
		}
		stall := func(i int, worst *time.Duration, ok *bool) {
			if i >= len(d.Changes) || !d.Changes[i].Resumed {
				*ok = false
				return
			}
			*worst = max(*worst, d.Changes[i].Stall)
		}
		stall(0, &dropStall, &dropOK)
		stall(1, &riseStall, &riseOK)
		if len(d.DatagramSizes) == 0 {
			continue
		}
		sampled = true
		if len(d.Changes) < 2 {
			recoveryOK = false
			continue
		}
		t, ok := d.DatagramSizeAbove(mtuRecoveredSize, d.Changes[1].At)
		if !ok {
			recoveryOK = false
		}
		recovery = max(recovery, t)
	}
	if runs == 0 {
		return ""
	}
	cell := func(d time.Duration, ok bool, never string) string {
		if !ok {
			return never
		}
		return formatStall(d)
	}
	rec := "–"
	if sampled {
		rec = cell(recovery, recoveryOK, "never")
	}
	return fmt.Sprintf("| %s | %s | %d/%d | %s | %s | %s | %s | %.1f s |\n",
		markdownEscape(r.Path.Name), proto, survived, runs,
		cell(dropStall, dropOK, "never resumed"), cell(riseStall, riseOK, "–"), rec, endSize, seconds)
}
