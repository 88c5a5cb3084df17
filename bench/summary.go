package bench

import (
	"slices"
	"time"
)

// Spread is the median of a set of runs with its range.
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// spreadOf returns the median, minimum and maximum of xs; the median of an
// even count is the mean of the middle two. The zero Spread stands for no
// data.
func spreadOf(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	median := s[mid]
	if len(s)%2 == 0 {
		median = (s[mid-1] + s[mid]) / 2
	}
	return Spread{Median: median, Min: s[0], Max: s[len(s)-1]}
}

// Summary condenses one protocol's runs into a table row. The figures cover
// the successful runs only; Failed counts the others and Err keeps the first
// failure's reason. A protocol with no successful run has zero figures.
type Summary struct {
	Protocol string `json:"protocol"`
	Runs     int    `json:"runs"`
	Failed   int    `json:"failed"`
	// Bytes is the size of one successful run.
	Bytes            int64  `json:"bytes"`
	MBps             Spread `json:"mb_per_s"`
	CPUSecondsPerGiB Spread `json:"cpu_s_per_gib"`
	// Seconds is the completion time of the runs that moved every byte;
	// Capped counts the runs stopped by a time cap instead (their goodput
	// is in MBps, their time is not a completion time).
	Seconds Spread `json:"seconds"`
	Capped  int    `json:"capped,omitempty"`
	// TTFB and Retransmitted are medians.
	TTFB          time.Duration `json:"ttfb_ns"`
	Retransmitted uint64        `json:"retransmitted_bytes"`
	// The ratios divide this row's median by the reference protocol's median
	// from the same comparison, which is the figure worth quoting: absolute
	// numbers drift between runs on a shared machine, ratios much less.
	// Zero means the reference was not measured or has no successful run.
	MBpsVsTCPCubic float64 `json:"mb_per_s_vs_tcp_cubic,omitempty"`
	MBpsVsTLS      float64 `json:"mb_per_s_vs_tls,omitempty"`
	CPUVsTCPCubic  float64 `json:"cpu_vs_tcp_cubic,omitempty"`
	CPUVsTLS       float64 `json:"cpu_vs_tls,omitempty"`
	// Detail, Bottleneck and Path are the first successful run's.
	Detail     string      `json:"detail,omitempty"`
	Bottleneck *Bottleneck `json:"bottleneck,omitempty"`
	Path       *PathStats  `json:"path_stats,omitempty"`
	// QueueDelay is the median of the successful runs' PathStats
	// QueueDelay, zero where the protocol reports none.
	QueueDelay time.Duration `json:"queue_delay_ns,omitempty"`
	// Err is the first failed run's Err.
	Err string `json:"error,omitempty"`
}

// OK reports whether at least one run of the protocol succeeded.
func (s Summary) OK() bool { return s.Runs > s.Failed }

// Summarize groups results by protocol, in the order each protocol first
// appears, and computes each group's medians, spreads and the ratios to TCP
// CUBIC and TLS.
func Summarize(results []Result) []Summary {
	var order []string
	groups := map[string][]Result{}
	for _, r := range results {
		if _, seen := groups[r.Protocol]; !seen {
			order = append(order, r.Protocol)
		}
		groups[r.Protocol] = append(groups[r.Protocol], r)
	}

	rows := make([]Summary, 0, len(order))
	for _, protocol := range order {
		rows = append(rows, summarizeProtocol(protocol, groups[protocol]))
	}
	cubic := findOK(rows, ProtocolTCPCubic)
	tls := findOK(rows, ProtocolTLS)
	for i := range rows {
		row := &rows[i]
		if !row.OK() {
			continue
		}
		if cubic != nil {
			row.MBpsVsTCPCubic = ratio(row.MBps.Median, cubic.MBps.Median)
			row.CPUVsTCPCubic = ratio(row.CPUSecondsPerGiB.Median, cubic.CPUSecondsPerGiB.Median)
		}
		if tls != nil {
			row.MBpsVsTLS = ratio(row.MBps.Median, tls.MBps.Median)
			row.CPUVsTLS = ratio(row.CPUSecondsPerGiB.Median, tls.CPUSecondsPerGiB.Median)
		}
	}
	return rows
}

func summarizeProtocol(protocol string, runs []Result) Summary {
	s := Summary{Protocol: protocol, Runs: len(runs)}
	var mbps, cpu, ttfb, retrans, seconds, queue []float64
	for _, r := range runs {
		if !r.OK() {
			s.Failed++
			if s.Err == "" {
				s.Err = r.Err
			}
			continue
		}
		if s.Bytes == 0 {
			s.Bytes, s.Detail, s.Bottleneck, s.Path = r.Bytes, r.Detail, r.Bottleneck, r.Path
		}
		if r.Path != nil {
			queue = append(queue, float64(r.Path.QueueDelay))
		}
		if r.Capped {
			s.Capped++
		} else {
			seconds = append(seconds, r.Seconds)
		}
		mbps = append(mbps, r.MBps)
		cpu = append(cpu, r.CPUSecondsPerGiB)
		ttfb = append(ttfb, float64(r.TTFB))
		retrans = append(retrans, float64(r.Retransmitted))
	}
	s.MBps = spreadOf(mbps)
	s.Seconds = spreadOf(seconds)
	s.CPUSecondsPerGiB = spreadOf(cpu)
	s.TTFB = time.Duration(spreadOf(ttfb).Median)
	s.Retransmitted = uint64(spreadOf(retrans).Median)
	s.QueueDelay = time.Duration(spreadOf(queue).Median)
	return s
}

// findOK returns the row of protocol if it has a successful run.
func findOK(rows []Summary, protocol string) *Summary {
	for i := range rows {
		if rows[i].Protocol == protocol && rows[i].OK() {
			return &rows[i]
		}
	}
	return nil
}

// ratio returns a/b, or zero ("unknown") when b is zero.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
