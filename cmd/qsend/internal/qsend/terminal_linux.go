package qsend

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// terminalWidth returns the width of w if it is a terminal that can take
// cursor movement, and ok=false for anything else (a pipe, a file, or
// TERM=dumb), where qsend writes plain lines instead of a live display.
func terminalWidth(w io.Writer) (width int, ok bool) {
	f, isFile := w.(*os.File)
	if !isFile || os.Getenv("TERM") == "dumb" {
		return 0, false
	}
	fd := int(f.Fd())
	if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err != nil {
		return 0, false
	}
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return 80, true
	}
	return int(ws.Col), true
}
