package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/limpetnet/limpet/bench"
)

// replot rewrites report.json (with thinned timelines), report.md and the
// plots in dir from the report JSON file of an earlier run (its -json file
// or -out's report.json), measuring nothing. It returns the exit status: 2 if the file cannot be read as a
// report, 1 if writing fails.
func replot(file, dir string, stderr io.Writer) int {
	b, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "qbench: -replot: %v\n", err)
		return 2
	}
	var r bench.Report
	if err := json.Unmarshal(b, &r); err != nil {
		fmt.Fprintf(stderr, "qbench: -replot %s: %v\n", file, err)
		return 2
	}
	var md strings.Builder
	writeMarkdown(&md, r)
	r.ThinTimelines(timelineSamples)
	err = os.MkdirAll(dir, 0o755)
	if err == nil {
		err = writeOutDir(dir, r, md.String())
	}
	if err != nil {
		fmt.Fprintf(stderr, "qbench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "qbench: wrote report.md and the plots of %s to %s\n", file, dir)
	return 0
}
