//go:build !linux

package qsend

import "io"

// terminalWidth reports no terminal outside Linux: qsend writes plain
// progress lines there rather than guess at ioctl numbers.
func terminalWidth(io.Writer) (width int, ok bool) { return 0, false }
