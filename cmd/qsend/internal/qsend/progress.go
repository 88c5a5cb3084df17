package qsend

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// console is qsend's human output on stderr: log lines and, on a terminal,
// a live progress display kept below them. Log lines erase the display,
// print, and let the next tick redraw it, so the two never interleave.
type console struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	width int
	drawn int // lines of the live display now on screen
}

func newConsole(w io.Writer) *console {
	width, tty := terminalWidth(w)
	return &console{w: w, tty: tty, width: width}
}

// logf prints one line prefixed with "qsend: ".
func (c *console) logf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.eraseLocked()
	fmt.Fprintf(c.w, "qsend: "+format+"\n", args...)
}

// draw replaces the live display with lines (terminal only).
func (c *console) draw(lines []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	if c.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dF", c.drawn) // to the start of the display's first line
	}
	for _, l := range lines {
		b.WriteString(fitWidth(l, c.width-1))
		b.WriteString("\x1b[K\n")
	}
	b.WriteString("\x1b[J") // clear what a longer previous display left
	io.WriteString(c.w, b.String())
	c.drawn = len(lines)
}

// erase removes the live display.
func (c *console) erase() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.eraseLocked()
}

func (c *console) eraseLocked() {
	if c.drawn > 0 {
		fmt.Fprintf(c.w, "\x1b[%dF\x1b[J", c.drawn)
		c.drawn = 0
	}
}

func fitWidth(s string, width int) string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}

// progress tracks a transfer for the display: totals, a recent rate, and
// the files in flight. Its methods are safe for concurrent use by the file
// goroutines.
type progress struct {
	con      *console
	verb     string // "sent" or "received"
	start    time.Time
	interval time.Duration

	mu         sync.Mutex
	total      int64 // bytes this run has to move
	done       int64
	filesTotal int
	filesDone  int
	active     map[int]*fileProgress
	samples    []sample // recent (time, done) pairs for the rate
	status     string   // shown instead of the rate and ETA, e.g. while the path is down

	stop     chan struct{}
	finished chan struct{}
}

type fileProgress struct {
	name       string
	size, done int64
}

type sample struct {
	at   time.Time
	done int64
}

// rateWindow is how far back the displayed rate looks: long enough to
// smooth bursts, short enough to show a stall within seconds.
const rateWindow = 5 * time.Second

// newProgress starts the display: redrawn every 200 ms on a terminal, a line
// every 10 s otherwise (or nothing when quiet).
func newProgress(con *console, verb string, quiet bool) *progress {
	p := &progress{
		con:      con,
		verb:     verb,
		start:    time.Now(),
		active:   make(map[int]*fileProgress),
		stop:     make(chan struct{}),
		finished: make(chan struct{}),
	}
	p.interval = 10 * time.Second
	if con.tty {
		p.interval = 200 * time.Millisecond
	}
	if quiet {
		close(p.finished)
		return p
	}
	go p.run()
	return p
}

func (p *progress) run() {
	defer close(p.finished)
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			p.con.erase()
			return
		case now := <-t.C:
			lines := p.render(now)
			if p.con.tty {
				p.con.draw(lines)
			} else {
				p.con.logf("%s", lines[0])
			}
		}
	}
}

// close stops the display and erases it.
func (p *progress) close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.finished
}

// setStatus shows s instead of the rate and ETA; "" returns to them. A
// nil progress (before the display starts) ignores it.
func (p *progress) setStatus(s string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status = s
}

func (p *progress) setTotal(bytes int64, files int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.filesTotal = bytes, files
}

func (p *progress) startFile(index int, name string, size, offset int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active[index] = &fileProgress{name: name, size: size, done: offset}
}

func (p *progress) add(index int, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if f := p.active[index]; f != nil {
		f.done += n
	}
}

// addTotal corrects the total when a file restarts from zero.
func (p *progress) addTotal(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total += n
}

// endFile removes a file from the display, counting it if it arrived.
func (p *progress) endFile(index int, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.active, index)
	if ok {
		p.filesDone++
	}
}

// maxFileLines bounds the per-file part of the display.
const maxFileLines = 4

func (p *progress) render(now time.Time) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.samples = append(p.samples, sample{now, p.done})
	for len(p.samples) > 2 && now.Sub(p.samples[0].at) > rateWindow {
		p.samples = p.samples[1:]
	}
	rate, rateText := 0.0, "-- MB/s"
	if first := p.samples[0]; now.Sub(first.at) > 0 {
		rate = float64(p.done-first.done) / now.Sub(first.at).Seconds()
		rateText = FormatRate(int64(rate), time.Second)
	}
	eta := "--:--"
	if rate > 0 && p.total >= p.done {
		eta = formatClock(time.Duration(float64(p.total-p.done) / rate * float64(time.Second)))
	}
	amount := fmt.Sprintf("%3d%% %s / %s", percent(p.done, p.total), FormatSize(p.done), FormatSize(p.total))
	tail := fmt.Sprintf("%s, ETA %s, %d/%d files", rateText, eta, p.filesDone, p.filesTotal)
	if p.status != "" {
		tail = fmt.Sprintf("%s, %d/%d files", p.status, p.filesDone, p.filesTotal)
	}
	if !p.con.tty {
		return []string{amount + " " + p.verb + ", " + tail}
	}
	lines := []string{bar(p.done, p.total, 16) + " " + amount + ", " + tail}
	// The largest files in flight, which are the ones worth watching.
	files := make([]*fileProgress, 0, len(p.active))
	for _, f := range p.active {
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b *fileProgress) int {
		if a.size != b.size {
			return int(min(max(b.size-a.size, -1), 1))
		}
		return strings.Compare(a.name, b.name)
	})
	for i, f := range files {
		if i == maxFileLines {
			lines = append(lines, fmt.Sprintf("  … and %d more files in flight", len(files)-maxFileLines))
			break
		}
		lines = append(lines, fmt.Sprintf("  %3d%% %10s  %s", percent(f.done, f.size), FormatSize(f.size), f.name))
	}
	return lines
}

func percent(done, total int64) int64 {
	if total <= 0 {
		return 100
	}
	return min(100, done*100/total)
}

func bar(done, total int64, width int) string {
	filled := int(percent(done, total)) * width / 100
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "]"
}

func formatClock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
