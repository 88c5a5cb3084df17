package main

import (
	"bytes"
	"io"
	"log"
	"strings"
	"sync"
)

// Bounds on the warnings a report carries: quic-go logs a handful of lines
// at most, and a report must stay one short line.
const (
	maxWarnings    = 8
	maxWarningSize = 512
)

// logWarnings collects what quic-go prints through the standard logger
// (such as "failed to sufficiently increase receive buffer size"), so the
// report can carry it to the harness as well as to standard error.
type logWarnings struct {
	mu    sync.Mutex
	lines []string
}

// captureLogWarnings redirects the standard logger to stderr and the
// returned collector.
func captureLogWarnings(stderr io.Writer) *logWarnings {
	w := new(logWarnings)
	log.SetFlags(0)
	log.SetPrefix("quicgo-peer: quic-go: ")
	log.SetOutput(io.MultiWriter(stderr, w))
	return w
}

// Write takes one log record; the standard logger writes each record in one
// call.
func (w *logWarnings) Write(p []byte) (int, error) {
	line := strings.TrimPrefix(string(bytes.TrimSpace(p)), "quicgo-peer: quic-go: ")
	if len(line) > maxWarningSize {
		line = line[:maxWarningSize]
	}
	w.mu.Lock()
	if len(w.lines) < maxWarnings {
		w.lines = append(w.lines, line)
	}
	w.mu.Unlock()
	return len(p), nil
}

// Lines returns the warnings so far.
func (w *logWarnings) Lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.lines...)
}
