package bench

import (
	"fmt"
	"strings"
	"time"
)

// markdownHeader names the columns of FormatMarkdown's table. Ratios are
// this row's median over the reference row's median (see Summary).
const markdownHeader = "| protocol | MB/s | MB/s range | CPU s/GiB | CPU range | TTFB | retrans B | MB/s vs cubic | MB/s vs TLS | CPU vs cubic | CPU vs TLS | ok/runs | detail | error |\n" +
	"|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|\n"

// missing fills a cell with no figure: a failed protocol, or a ratio to a
// reference that was not measured.
const missing = "—"

// FormatMarkdown renders summary rows as a GitHub-flavoured markdown table:
// medians with their min–max range, ratios to TCP CUBIC and TLS, and the
// error of any failed run, so a failing protocol is visible in the table
// instead of silently missing.
func FormatMarkdown(rows []Summary) string {
	var b strings.Builder
	b.WriteString(markdownHeader)
	for _, r := range rows {
		cells := []string{r.Protocol}
		if r.OK() {
			cells = append(cells,
				formatMBps(r.MBps.Median),
				formatMBps(r.MBps.Min)+"–"+formatMBps(r.MBps.Max),
				fmt.Sprintf("%.2f", r.CPUSecondsPerGiB.Median),
				fmt.Sprintf("%.2f–%.2f", r.CPUSecondsPerGiB.Min, r.CPUSecondsPerGiB.Max),
				r.TTFB.Round(time.Microsecond).String(),
				fmt.Sprint(r.Retransmitted),
				formatRatio(r.MBpsVsTCPCubic),
				formatRatio(r.MBpsVsTLS),
				formatRatio(r.CPUVsTCPCubic),
				formatRatio(r.CPUVsTLS),
			)
		} else {
			for range 10 {
				cells = append(cells, missing)
			}
		}
		cells = append(cells,
			fmt.Sprintf("%d/%d", r.Runs-r.Failed, r.Runs),
			markdownEscape(r.Detail),
			markdownEscape(r.Err),
		)
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	for _, r := range rows {
		if r.Bottleneck != nil {
			fmt.Fprintf(&b, "\n%s was limited by %s", r.Protocol, r.Bottleneck)
			if r.Bottleneck.Advice != "" {
				fmt.Fprintf(&b, ": %s", r.Bottleneck.Advice)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// formatMBps keeps about three significant figures: 8388, 13.6, 5.07 as in
// anchors.md.
func formatMBps(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func formatRatio(v float64) string {
	if v == 0 {
		return missing
	}
	return fmt.Sprintf("%.2f", v)
}

// markdownEscape keeps free text (error messages) inside its table cell.
func markdownEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}
