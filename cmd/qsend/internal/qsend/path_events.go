package qsend

import (
	"fmt"
	"sync"
	"time"

	sess "github.com/limpetnet/limpet/transport/session"
)

// pathEvents tells the person running qsend what its session is doing
// while the path is down: a line when the connection is lost and when the
// transfer resumes, and "waiting for the path" in the progress display.
type pathEvents struct {
	con *console

	mu       sync.Mutex
	progress *progress
	lostAt   time.Time
}

func (p *pathEvents) setProgress(pr *progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.progress = pr
}

func (p *pathEvents) on(ev sess.Event) {
	p.mu.Lock()
	pr := p.progress
	switch ev.Kind {
	case sess.EventConnectionLost:
		p.lostAt = ev.Time
	case sess.EventResumed:
		p.lostAt = time.Time{}
	}
	lostAt := p.lostAt
	p.mu.Unlock()
	switch ev.Kind {
	case sess.EventConnectionLost:
		msg, _ := describeConnError(ev.Err)
		p.con.logf("connection lost (%s); reconnecting", msg)
		pr.setStatus("waiting for the path")
	case sess.EventReconnecting:
		pr.setStatus(fmt.Sprintf("waiting for the path (%s, attempt %d)", formatClock(ev.Time.Sub(lostAt)), ev.Attempt))
	case sess.EventResumed:
		p.con.logf("resumed after %s without the path; %s sent again", ev.Outage.Round(100*time.Millisecond), FormatSize(ev.Resent))
		pr.setStatus("")
	}
}
