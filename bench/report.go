package bench

import "time"

// Report is everything one qbench invocation measured, in the shape its
// -json file takes: enough context (command, date, machine, sizes) to
// compare it with a later run, and every row of the matrix with every
// individual run.
type Report struct {
	Command   string    `json:"command"`
	Date      time.Time `json:"date"`
	GoVersion string    `json:"go_version"`
	Platform  string    `json:"platform"` // GOOS/GOARCH
	CPUs      int       `json:"cpus"`
	// GOMAXPROCS matters because client and server share the process.
	GOMAXPROCS int `json:"gomaxprocs"`
	// LoadAverage is /proc/loadavg's 1, 5 and 15 minute figures when the
	// run started (empty where there is none): on a shared machine it
	// explains absolute figures that drift from run to run.
	LoadAverage string `json:"load_average,omitempty"`
	// The transfer sizes, the time cap on emulated bulk transfers, and
	// the runs per protocol and transfer.
	LoopbackSize int64          `json:"loopback_size_bytes"`
	BulkSize     int64          `json:"bulk_size_bytes"`
	SmallSize    int64          `json:"small_size_bytes"`
	BulkCap      time.Duration  `json:"bulk_cap_ns"`
	Reps         int            `json:"reps"`
	Protocols    []string       `json:"protocols"`
	SelfTest     SelfTestResult `json:"self_test"`
	Paths        []PathResult   `json:"paths"`
}

// ThinTimelines keeps at most n progress samples per disruption run (see
// DisruptionResult.ThinTimeline): sampled every millisecond, a 200 MiB run
// would otherwise fill megabytes of JSON.
func (r *Report) ThinTimelines(n int) {
	for i := range r.Paths {
		for j := range r.Paths[i].Disruptions {
			r.Paths[i].Disruptions[j].ThinTimeline(n)
		}
	}
}
