package bench

import "time"

// Report is everything one qbench invocation measured, in the shape its
// -json file takes: enough context (command, date, machine, size) to compare
// it with a later run, every individual Result, and the summary rows.
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
	// Size is the bytes each run moves; Reps how many runs per protocol.
	Size     int64          `json:"size_bytes"`
	Reps     int            `json:"reps"`
	SelfTest SelfTestResult `json:"self_test"`
	Results  []Result       `json:"results"`
	Summary  []Summary      `json:"summary"`
}
