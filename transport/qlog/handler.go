package qlog

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// HandlerOptions configures NewJSONHandler.
type HandlerOptions struct {
	// Dir is where the trace files go: one <group_id>_<vantage>.sqlog per
	// connection, and endpoint.sqlog for events of no connection. It must
	// exist.
	Dir string
	// Level is the least level written; nil means LevelPacket.
	Level slog.Leveler
}

// NewJSONHandler returns a slog.Handler that writes the qlog events a
// limpet Conn logs through Config.QLogLogger as JSON-SEQ traces (RFC 7464,
// draft-ietf-quic-qlog-main-schema), a file per connection in opts.Dir.
//
// The transport opens a connection's trace by deriving a logger with
// slog.Logger.With and the attributes "group_id" (the connection's
// original destination connection ID) and "vantage_point" (a group with
// "type", client or server); every record logged through it is an event
// whose message is the event's name and whose attributes are its data. The
// event ConnectionClosed ends the trace and closes its file.
func NewJSONHandler(opts HandlerOptions) slog.Handler {
	if opts.Level == nil {
		opts.Level = LevelPacket
	}
	return &rootHandler{opts: opts}
}

// rootHandler is the handler before a connection's attributes arrive.
type rootHandler struct {
	opts HandlerOptions

	mu       sync.Mutex
	endpoint *trace // endpoint.sqlog, opened on the first endpoint event
}

func (h *rootHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.opts.Level.Level()
}

// Handle writes an event of no connection to endpoint.sqlog.
func (h *rootHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	if h.endpoint == nil {
		t, err := openTrace(h.opts.Dir, "endpoint", "", "endpoint", r.Time)
		if err != nil {
			h.mu.Unlock()
			return err
		}
		h.endpoint = t
	}
	t := h.endpoint
	h.mu.Unlock()
	return t.write(r, nil)
}

// WithAttrs starts a connection's trace when attrs carry its group_id and
// vantage_point.
func (h *rootHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var group, vantage string
	var rest []slog.Attr
	for _, a := range attrs {
		switch {
		case a.Key == "group_id":
			group = a.Value.String()
		case a.Key == "vantage_point" && a.Value.Kind() == slog.KindGroup:
			for _, v := range a.Value.Group() {
				if v.Key == "type" {
					vantage = v.Value.String()
				}
			}
		default:
			rest = append(rest, a)
		}
	}
	if group == "" || vantage == "" {
		return &attrsHandler{root: h, attrs: attrs}
	}
	t, err := openTrace(h.opts.Dir, group+"_"+vantage, group, vantage, time.Now())
	if err != nil {
		// The connection goes untraced rather than into another's file.
		return discardHandler{}
	}
	return &traceHandler{root: h, t: t, attrs: rest}
}

func (h *rootHandler) WithGroup(name string) slog.Handler {
	return &attrsHandler{root: h, group: name}
}

// attrsHandler carries attributes that opened no trace; its events go to
// endpoint.sqlog.
type attrsHandler struct {
	root  *rootHandler
	attrs []slog.Attr
	group string
}

func (h *attrsHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.root.Enabled(ctx, l) }
func (h *attrsHandler) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.attrs...)
	return h.root.Handle(ctx, r)
}
func (h *attrsHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.root.WithAttrs(append(append([]slog.Attr(nil), h.attrs...), attrs...))
}
func (h *attrsHandler) WithGroup(name string) slog.Handler { return h }

// traceHandler writes one connection's events to its file.
type traceHandler struct {
	root  *rootHandler
	t     *trace
	attrs []slog.Attr
}

func (h *traceHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.root.Enabled(ctx, l) }
func (h *traceHandler) Handle(_ context.Context, r slog.Record) error {
	err := h.t.write(r, h.attrs)
	if r.Message == ConnectionClosed {
		h.t.close()
	}
	return err
}
func (h *traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &traceHandler{root: h.root, t: h.t, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}
func (h *traceHandler) WithGroup(string) slog.Handler { return h }

// discardHandler drops everything: the trace of a connection whose file
// could not be created.
type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }

// flushDelay bounds how long an event waits in a trace's buffer: events
// are written in batches, not one system call each, and a trace being
// read while its connection runs is at most this far behind.
const flushDelay = time.Second

// trace is one open .sqlog file.
type trace struct {
	mu      sync.Mutex
	f       *os.File
	w       *bufio.Writer
	start   time.Time
	buf     []byte
	flusher *time.Timer // runs flush a flushDelay after the buffer filled
	armed   bool        // the flusher is due
	closed  bool
	err     error // the first write error; the trace stops there
}

// openTrace creates name.sqlog in dir (name-2.sqlog and so on if taken)
// and writes the file header.
func openTrace(dir, name, group, vantage string, start time.Time) (*trace, error) {
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r < ' ' {
			return '_'
		}
		return r
	}, name)
	var f *os.File
	var err error
	for i := 1; i < 100; i++ {
		path := filepath.Join(dir, name+".sqlog")
		if i > 1 {
			path = filepath.Join(dir, fmt.Sprintf("%s-%d.sqlog", name, i))
		}
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if !os.IsExist(err) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("qlog: %w", err)
	}
	t := &trace{f: f, w: bufio.NewWriterSize(f, 64<<10), start: start}
	if _, err := f.Write(appendHeader(nil, group, vantage, start)); err != nil {
		f.Close()
		return nil, fmt.Errorf("qlog: %w", err)
	}
	return t, nil
}

// write appends one event record.
func (t *trace) write(r slog.Record, extra []slog.Attr) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.err != nil {
		return t.err
	}
	t.buf = appendEvent(t.buf[:0], r, extra, t.start)
	if _, t.err = t.w.Write(t.buf); t.err != nil {
		return t.err
	}
	if !t.armed && t.w.Buffered() > 0 {
		t.armed = true
		if t.flusher == nil {
			t.flusher = time.AfterFunc(flushDelay, t.flush)
		} else {
			t.flusher.Reset(flushDelay)
		}
	}
	return nil
}

// flush writes out the buffered events.
func (t *trace) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.armed = false
	if !t.closed && t.err == nil {
		t.err = t.w.Flush()
	}
}

func (t *trace) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	if t.flusher != nil {
		t.flusher.Stop()
	}
	if t.err == nil {
		t.err = t.w.Flush()
	}
	t.f.Close()
}
