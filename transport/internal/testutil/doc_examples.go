package testutil

import (
	"bufio"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
)

// DocExample is one "```example NAME" block of docs/PROTOCOL.md appendix A:
// name = value lines in order, a key possibly repeated; a line that starts
// with a space continues the value before it.
type DocExample struct {
	T      *testing.T
	Name   string
	Keys   []string
	Values []string
}

// ReadDocExamples parses every example block of the protocol document at
// path.
func ReadDocExamples(t *testing.T, path string) map[string]*DocExample {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	examples := make(map[string]*DocExample)
	var cur *DocExample
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```example "):
			cur = &DocExample{T: t, Name: strings.TrimPrefix(line, "```example ")}
			if examples[cur.Name] != nil {
				t.Fatalf("example %q appears twice", cur.Name)
			}
			examples[cur.Name] = cur
		case cur == nil:
		case line == "```":
			cur = nil
		case strings.HasPrefix(line, " ") && len(cur.Values) > 0:
			cur.Values[len(cur.Values)-1] += " " + strings.TrimSpace(line)
		default:
			k, v, ok := strings.Cut(line, " = ")
			if !ok {
				t.Fatalf("example %s: line %q is not name = value", cur.Name, line)
			}
			cur.Keys = append(cur.Keys, strings.TrimSpace(k))
			cur.Values = append(cur.Values, strings.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return examples
}

// All returns every value of key, in order.
func (e *DocExample) All(key string) []string {
	var out []string
	for i, k := range e.Keys {
		if k == key {
			out = append(out, e.Values[i])
		}
	}
	return out
}

// Str returns the one value of key.
func (e *DocExample) Str(key string) string {
	e.T.Helper()
	v := e.All(key)
	if len(v) != 1 {
		e.T.Fatalf("example %s: %d values of %q, want 1", e.Name, len(v), key)
	}
	return v[0]
}

// Bytes returns the one value of key, written in hex.
func (e *DocExample) Bytes(key string) []byte {
	e.T.Helper()
	return DocHex(e.T, e.Name, e.Str(key))
}

// Uint returns the one value of key, a number.
func (e *DocExample) Uint(key string) uint64 {
	e.T.Helper()
	n, err := strconv.ParseUint(e.Str(key), 0, 64)
	if err != nil {
		e.T.Fatalf("example %s: %s: %v", e.Name, key, err)
	}
	return n
}

// DocHex decodes s, hex bytes separated by spaces, from example name.
func DocHex(t *testing.T, name, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("example %s: %q: %v", name, s, err)
	}
	return b
}

// DocExampleCheck checks one example; all holds every example, for checks
// that use another's values.
type DocExampleCheck func(t *testing.T, e *DocExample, all map[string]*DocExample)

// CheckDocExamples runs each check on its example of the document at path,
// failing for a missing example, and for an example that mine claims and
// no check covers.
func CheckDocExamples(t *testing.T, path string, checks map[string]DocExampleCheck, mine func(name string) bool) {
	t.Helper()
	ex := ReadDocExamples(t, path)
	for name, check := range checks {
		t.Run(name, func(t *testing.T) {
			e := ex[name]
			if e == nil {
				t.Fatalf("%s has no example %q", path, name)
			}
			e.T = t
			check(t, e, ex)
		})
	}
	for name := range ex {
		if mine(name) && checks[name] == nil {
			t.Errorf("%s example %q is not checked by this test", path, name)
		}
	}
}
