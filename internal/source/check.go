package source

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/pgwalk/pgwalk/annotations"
)

// Line is one numbered line of a Snippet.
type Line struct {
	// Number counts from 1.
	Number int
	// Text is the line without its newline; tabs are kept.
	Text string
	// Cited is true for the lines of the cited range.
	Cited bool
}

// Snippet is a cited range with some lines of context around it.
type Snippet struct {
	// File is the cited file, as the note names it.
	File string
	// First and Last are the cited range, as the note gives it; when it
	// runs past the end of the file, only the lines marked Cited exist.
	First, Last int
	// Lines are the lines shown, in order: the range and its context.
	Lines []Line
	// Total is the number of lines in the file.
	Total int
	// OutOfRange is true when the cited range does not lie within the file;
	// Lines then holds whatever part of it exists.
	OutOfRange bool
}

// Range returns the lines of ref's range, with up to context lines before
// and after it, each numbered and marked as cited or not.
func Range(lines []string, ref annotations.Ref, context int) Snippet {
	if context < 0 {
		context = 0
	}
	s := Snippet{File: ref.File, First: ref.First, Last: ref.Last, Total: len(lines)}
	if ref.First < 1 || ref.Last < ref.First || ref.Last > len(lines) {
		s.OutOfRange = true
	}
	first, last := max(ref.First, 1), min(ref.Last, len(lines))
	if first > last {
		return s
	}
	from := max(1, first-context)
	to := min(len(lines), last+context)
	s.Lines = make([]Line, 0, to-from+1)
	for n := from; n <= to; n++ {
		s.Lines = append(s.Lines, Line{Number: n, Text: lines[n-1], Cited: n >= first && n <= last})
	}
	return s
}

// RangeHash returns the first 16 hex digits of the SHA-256 of lines
// first..last (counted from 1), each followed by "\n": what
// `sed -n 'first,lastp' FILE | sha256sum` prints.
func RangeHash(lines []string, first, last int) (string, error) {
	if first < 1 || last < first || last > len(lines) {
		return "", fmt.Errorf("lines %d-%d are not within the file's %d lines", first, last, len(lines))
	}
	h := sha256.New()
	for _, l := range lines[first-1 : last] {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// Status is the outcome of checking one cited range.
type Status int

// The outcomes of Check, best first.
const (
	// OK: the range hash matches and every symbol is in the range.
	OK Status = iota
	// MissingSymbols: the hash matches but a named symbol is not in the
	// range (the note's front matter is wrong, not the file).
	MissingSymbols
	// Mismatch: the range's text is not the text the note was written for.
	Mismatch
	// OutOfRange: the file is shorter than the cited range.
	OutOfRange
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case MissingSymbols:
		return "missing symbols"
	case Mismatch:
		return "mismatch"
	case OutOfRange:
		return "out of range"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// RefResult is the outcome of checking one cited range against a file.
type RefResult struct {
	Ref    annotations.Ref
	Status Status
	// Actual is the range hash of the file's lines; empty when OutOfRange.
	Actual string
	// Missing are the ref's symbols that are not in the range.
	Missing []string
	// FileLines is the number of lines in the file.
	FileLines int
}

// OK reports whether the range holds what the note says.
func (r RefResult) OK() bool { return r.Status == OK }

// String describes the result in one line: "postmaster.c:4165-4168: mismatch
// (expected 663ff346674346c5, actual 0123456789abcdef)".
func (r RefResult) String() string {
	switch r.Status {
	case OK:
		return fmt.Sprintf("%s: ok (%s)", r.Ref, r.Actual)
	case MissingSymbols:
		return fmt.Sprintf("%s: missing symbols %s", r.Ref, strings.Join(r.Missing, ", "))
	case Mismatch:
		s := fmt.Sprintf("%s: mismatch (expected %s, actual %s)", r.Ref, r.Ref.SHA256, r.Actual)
		if len(r.Missing) > 0 {
			s += "; missing symbols " + strings.Join(r.Missing, ", ")
		}
		return s
	case OutOfRange:
		return fmt.Sprintf("%s: out of range (the file has %d lines)", r.Ref, r.FileLines)
	}
	return fmt.Sprintf("%s: %s", r.Ref, r.Status)
}

// Check checks ref against the file's lines: the range hash, and that each
// of ref.Symbols appears in the range. An identifier symbol must appear as a
// whole word (fork_process does not match fork_process_x); any other symbol
// (bn->pid) as a substring.
func Check(lines []string, ref annotations.Ref) RefResult {
	r := RefResult{Ref: ref, FileLines: len(lines)}
	actual, err := RangeHash(lines, ref.First, ref.Last)
	if err != nil {
		r.Status = OutOfRange
		return r
	}
	r.Actual = actual
	text := strings.Join(lines[ref.First-1:ref.Last], "\n")
	for _, sym := range ref.Symbols {
		if !containsSymbol(text, sym) {
			r.Missing = append(r.Missing, sym)
		}
	}
	switch {
	case actual != ref.SHA256:
		r.Status = Mismatch
	case len(r.Missing) > 0:
		r.Status = MissingSymbols
	default:
		r.Status = OK
	}
	return r
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isIdent(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdentByte(s[i]) {
			return false
		}
	}
	return true
}

// containsSymbol reports whether sym occurs in text; an identifier only as a
// whole word.
func containsSymbol(text, sym string) bool {
	if sym == "" {
		return true
	}
	if !isIdent(sym) {
		return strings.Contains(text, sym)
	}
	for i := 0; ; {
		j := strings.Index(text[i:], sym)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(sym)
		if (start == 0 || !isIdentByte(text[start-1])) && (end == len(text) || !isIdentByte(text[end])) {
			return true
		}
		i = start + 1
	}
}
