package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/limpetnet/limpet/bench"
	"github.com/limpetnet/limpet/bench/svgplot"
)

// plotQlog draws a qlog trace's congestion window, bytes in flight, RTTs
// and losses over time (bench.QlogTimeline) as one SVG: FILE with .svg for
// .sqlog, in dir if set. It returns the exit status: 2 if the file cannot
// be read as a trace, 1 if writing fails.
func plotQlog(file, dir string, stderr io.Writer) int {
	f, err := os.Open(file)
	if err != nil {
		fmt.Fprintf(stderr, "qbench: -qlogplot: %v\n", err)
		return 2
	}
	t, err := bench.ReadQlogTimeline(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(stderr, "qbench: -qlogplot %s: %v\n", file, err)
		return 2
	}
	out := strings.TrimSuffix(file, filepath.Ext(file)) + ".svg"
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintf(stderr, "qbench: %v\n", err)
			return 1
		}
		out = filepath.Join(dir, filepath.Base(out))
	}
	w, err := os.Create(out)
	if err == nil {
		err = svgplot.WriteStack(w, t.Charts(maxTimelinePoints)...)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "qbench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "qbench: wrote %s: %d events, %d losses, %d path changes\n", out, t.Events, len(t.Lost), len(t.PathChanges))
	return 0
}
