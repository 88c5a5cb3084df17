package qlog

import (
	"encoding/json"
	"log/slog"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// recordSeparator starts every JSON-SEQ record (RFC 7464).
const recordSeparator = 0x1e

// Schemas name the event definitions a trace uses: the QUIC events of the
// qlog draft, and limpet's own, under the limpet namespace.
const (
	QUICEventSchema   = "urn:ietf:params:qlog:events:quic-12"
	LimpetEventSchema = "https://github.com/limpetnet/limpet/122026/limpet"
)

// appendHeader appends the file header record. It carries both the
// current draft's fields (file_schema, serialization_format, event_schemas)
// and the qlog_version and qlog_format that qvis still requires, as
// quic-go's traces do.
func appendHeader(b []byte, group, vantage string, start time.Time) []byte {
	b = append(b, recordSeparator)
	b = append(b, `{"file_schema":"urn:ietf:params:qlog:file:sequential","serialization_format":"application/qlog+json-seq","title":"limpet qlog","trace":{"event_schemas":[`...)
	b = appendString(b, QUICEventSchema)
	b = append(b, ',')
	b = appendString(b, LimpetEventSchema)
	b = append(b, `],"vantage_point":{"name":"limpet","type":`...)
	b = appendString(b, vantage)
	b = append(b, `},"common_fields":{`...)
	if group != "" {
		b = append(b, `"group_id":`...)
		b = appendString(b, group)
		b = append(b, ',')
	}
	b = append(b, `"reference_time":{"clock_type":"monotonic","epoch":"unknown","wall_clock_time":`...)
	b = appendString(b, start.UTC().Format(time.RFC3339Nano))
	b = append(b, `}}},"qlog_format":"JSON-SEQ","qlog_version":"0.3"}`...)
	return append(b, '\n')
}

// appendEvent appends one event record: time in milliseconds since the
// trace started, the record's message as the name, its attributes (and
// the handler's extra ones) as data.
func appendEvent(b []byte, r slog.Record, extra []slog.Attr, start time.Time) []byte {
	b = append(b, recordSeparator)
	b = append(b, `{"time":`...)
	b = appendMillis(b, r.Time.Sub(start))
	b = append(b, `,"name":`...)
	b = appendString(b, r.Message)
	b = append(b, `,"data":{`...)
	first := true
	each := func(a slog.Attr) bool {
		if a.Key == "" {
			return true
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendAttr(b, a)
		return true
	}
	for _, a := range extra {
		each(a)
	}
	r.Attrs(each)
	b = append(b, "}}\n"...)
	return b
}

func appendAttr(b []byte, a slog.Attr) []byte {
	b = appendString(b, a.Key)
	b = append(b, ':')
	return appendValue(b, a.Value)
}

// appendValue writes a slog value as JSON: durations as milliseconds,
// groups as objects, and anything else through encoding/json.
func appendValue(b []byte, v slog.Value) []byte {
	v = v.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return appendString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		f := v.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return appendMillis(b, v.Duration())
	case slog.KindTime:
		return appendString(b, v.Time().UTC().Format(time.RFC3339Nano))
	case slog.KindGroup:
		b = append(b, '{')
		for i, a := range v.Group() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAttr(b, a)
		}
		return append(b, '}')
	}
	j, err := json.Marshal(v.Any())
	if err != nil {
		return appendString(b, err.Error())
	}
	return append(b, j...)
}

// appendMillis writes d as fractional milliseconds, to the nanosecond.
func appendMillis(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', -1, 64)
}

// appendString writes s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < ' ':
				b = append(b, `\u00`...)
				b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}
