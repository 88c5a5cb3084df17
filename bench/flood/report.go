package flood

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Report is the outcome of Run: how it ran and one Row per attack.
type Report struct {
	// Label titles the table, such as "before (707ebc1)".
	Label string
	// Command is the command line that produced the report.
	Command string
	Date    time.Time
	// Machine says what it ran on: Go version, CPUs, pinning, load.
	Machine string
	// Plan is the plan that ran.
	Plan Plan
	Rows []Row
}

// Row is one attack's line of the table.
type Row struct {
	Attack Attack
	// Offered says what load the attacker sent, as it achieved it, such
	// as "5,480 dgram/s"; Target is what the plan asked for ("" when the
	// attack has no rate).
	Offered, Target string
	// Measured is false for a check (Attack ResetOracle), which has only
	// notes.
	Measured bool
	// Dial is the latency of the legitimate Dials that succeeded;
	// DialAttempts and DialFailed count all of them.
	Dial                     Latency
	DialAttempts, DialFailed int
	// Echo is the round-trip time of 64-byte echoes on an established
	// connection; EchoFailed counts echoes that failed or timed out.
	Echo       Latency
	EchoFailed int
	// GoodputMbps is the established bulk transfer's goodput, Mbit/s
	// (10^6 bits/s); negative if it failed.
	GoodputMbps float64
	// ServerCPU is the server's user+sys time over the measurement window,
	// in percent of one core; negative if unknown.
	ServerCPU float64
	// ServerRSS and ServerHeap are the server's peak resident set and
	// peak heap over the row, bytes.
	ServerRSS, ServerHeap int64
	// Notes are what this attack did and saw, for the notes column.
	Notes []string
	// Err says why the row could not be measured.
	Err string
}

// Latency summarizes a set of duration samples.
type Latency struct {
	N        int
	P50, P99 time.Duration
	Max      time.Duration
}

// summarize sorts samples in place and returns their percentiles.
func summarize(samples []time.Duration) Latency {
	sortDurations(samples)
	if len(samples) == 0 {
		return Latency{}
	}
	return Latency{
		N:   len(samples),
		P50: percentile(samples, 50),
		P99: percentile(samples, 99),
		Max: samples[len(samples)-1],
	}
}

// baseline returns the baseline row's goodput, or 0 without one.
func (r *Report) baseline() float64 {
	for _, row := range r.Rows {
		if row.Attack == Baseline && row.Err == "" {
			return row.GoodputMbps
		}
	}
	return 0
}

// Markdown renders the report: a heading, the command and machine, the
// table and a paragraph saying what the columns mean.
func (r *Report) Markdown() string {
	var b strings.Builder
	title := "Flood harness"
	if r.Label != "" {
		title += ": " + r.Label
	}
	fmt.Fprintf(&b, "## %s, %s\n\n", title, r.Date.UTC().Format("2006-01-02 15:04:05 UTC"))
	if r.Command != "" {
		fmt.Fprintf(&b, "`%s`  \n", r.Command)
	}
	if r.Machine != "" {
		fmt.Fprintf(&b, "%s\n", r.Machine)
	}
	b.WriteString("\n")
	b.WriteString(r.Table())
	b.WriteString("\n")
	b.WriteString(columnsNote(r.Plan))
	return b.String()
}

// Table renders the rows as a markdown table.
func (r *Report) Table() string {
	var b strings.Builder
	b.WriteString("| attack | rate offered | Dial p50 / p99 | echo RTT p50 / p99 | bulk Mbit/s | % of baseline | server CPU | server RSS / heap (peak) | failed Dials | notes |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	base := r.baseline()
	for _, row := range r.Rows {
		cells := []string{string(row.Attack), offeredCell(row)}
		switch {
		case row.Err != "":
			cells = append(cells, "—", "—", "—", "—", "—", "—", "—")
			notes := append([]string{"error: " + row.Err}, row.Notes...)
			cells = append(cells, strings.Join(notes, "; "))
		case !row.Measured:
			cells = append(cells, "—", "—", "—", "—", "—", memoryCell(row), "—", strings.Join(row.Notes, "; "))
		default:
			cells = append(cells,
				latencyCell(row.Dial),
				latencyCell(row.Echo),
				goodputCell(row.GoodputMbps),
				percentCell(row.GoodputMbps, base),
				cpuCell(row.ServerCPU),
				memoryCell(row),
				fmt.Sprintf("%d / %d", row.DialFailed, row.DialAttempts),
				strings.Join(row.Notes, "; "),
			)
		}
		for i, c := range cells {
			cells[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

// columnsNote explains the columns, with the plan's figures.
func columnsNote(p Plan) string {
	measure := p.Duration * 2 / 3
	return fmt.Sprintf("Each row has a fresh server (a limpet echo listener in a child process pinned to CPU %d; attackers and legitimate clients in this process, pinned to CPU %d). "+
		"Dial: %d legitimate clients from 127.0.0.1 dialing in a loop (a pause of %v between Dials, each with a %v handshake timeout) for %v; p50 / p99 over the Dials that succeeded; failed Dials: failed / attempted. "+
		"Echo RTT: a 64-byte echo every %v on a connection established before the attack, over the same %v. "+
		"Server CPU: the server's user+sys time over those %v, in percent of one core. "+
		"Bulk: a connection established before the attack writes as fast as it can for %v after that; goodput counts the bytes the server application read (Mbit/s = 10^6 bits/s). "+
		"Server RSS / heap: peak resident set (VmHWM) and peak heap objects (sampled every 250 ms) over the row. "+
		"Rate offered: what the attacker sent per second while it flooded (dgram: datagrams; hs: handshakes), followed by the plan's rate when it fell more than 5%% short (the attackers share a core with the clients).\n",
		p.ServerCPU, p.ClientCPU, p.Dialers, p.DialInterval, p.DialTimeout, measure, p.EchoInterval, measure, measure, p.Duration-measure)
}

func offeredCell(row Row) string {
	switch {
	case row.Offered == "":
		return "—"
	case row.Target != "":
		return row.Offered + " (of " + row.Target + ")"
	}
	return row.Offered
}

func latencyCell(l Latency) string {
	if l.N == 0 {
		return "—"
	}
	return formatDuration(l.P50) + " / " + formatDuration(l.P99)
}

func goodputCell(mbps float64) string {
	if mbps < 0 {
		return "failed"
	}
	return formatCount(mbps)
}

func percentCell(mbps, base float64) string {
	if mbps < 0 || base <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100*mbps/base)
}

func cpuCell(pct float64) string {
	if pct < 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", pct)
}

func memoryCell(row Row) string {
	if row.ServerRSS == 0 && row.ServerHeap == 0 {
		return "—"
	}
	return formatBytes(row.ServerRSS) + " / " + formatBytes(row.ServerHeap)
}

// formatDuration writes d in milliseconds below a second (two decimals
// under 10 ms, one under 100 ms) and in seconds above.
func formatDuration(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.2f ms", ms)
}

// formatBytes writes n in MiB (GiB from 10 GiB), one decimal under 10.
func formatBytes(n int64) string {
	const mib = 1 << 20
	switch {
	case n >= 10<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 10*mib:
		return formatCount(float64(n)/mib) + " MiB"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/mib)
}

// formatCount writes v rounded to a whole number with thousands
// separators: 5500.4 → "5,500".
func formatCount(v float64) string {
	n := int64(math.Round(v))
	s := strconv.FormatInt(max(n, -n), 10)
	var b strings.Builder
	if n < 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// formatRate writes a per-second rate with its unit, "5,500 dgram/s".
func formatRate(perSecond float64, unit string) string {
	return formatCount(perSecond) + " " + unit + "/s"
}
