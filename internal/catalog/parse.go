package catalog

import (
	"bufio"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// keyPattern is what a key looks like: dotted lowercase words.
var keyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$`)

// IsKey reports whether s has the form of a catalog key ("fact.which_path").
func IsKey(s string) bool { return keyPattern.MatchString(s) }

// fieldsOf lists the fields a key may have, by its kind.
func fieldsOf(key string) (required, optional []string) {
	switch {
	case strings.HasPrefix(key, "fact."):
		return []string{"text"}, []string{"label", "one"}
	case strings.HasPrefix(key, "check."):
		return []string{"name"}, []string{"detail"}
	}
	return []string{"text"}, []string{"one"}
}

// parse reads one language's file: comments (#) and blank lines, and
// messages, each a key in brackets on a line of its own followed by its
// fields, one per line, "name = text". A text is taken as written, blanks
// at its ends removed; a text in double quotes keeps its blanks. name
// says what the file is, in errors.
func parse(name, data string) (*table, error) {
	t := &table{entries: map[string]Entry{}}
	var key string
	var e Entry
	seen := map[string]bool{}
	flush := func(line int) error {
		if key == "" {
			return nil
		}
		required, _ := fieldsOf(key)
		f := e.fields()
		for _, r := range required {
			if _, ok := f[r]; !ok {
				return fmt.Errorf("%s:%d: [%s] has no %s", name, line, key, r)
			}
		}
		t.entries[key] = e
		t.order = append(t.order, key)
		return nil
	}
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "["):
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("%s:%d: %q: a key line is [key]", name, n, line)
			}
			if err := flush(n); err != nil {
				return nil, err
			}
			key, e = strings.TrimSpace(line[1:len(line)-1]), Entry{}
			if !IsKey(key) {
				return nil, fmt.Errorf("%s:%d: %q is not a key (dotted lowercase words: run.walked)", name, n, key)
			}
			if seen[key] {
				return nil, fmt.Errorf("%s:%d: [%s] again", name, n, key)
			}
			seen[key] = true
		default:
			if key == "" {
				return nil, fmt.Errorf("%s:%d: a field before the first [key]", name, n)
			}
			field, text, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("%s:%d: %q: a field line is name = text", name, n, line)
			}
			field, text = strings.TrimSpace(field), strings.TrimSpace(text)
			if len(text) >= 2 && strings.HasPrefix(text, `"`) && strings.HasSuffix(text, `"`) {
				text = text[1 : len(text)-1]
			}
			required, optional := fieldsOf(key)
			if !slices.Contains(required, field) && !slices.Contains(optional, field) {
				return nil, fmt.Errorf("%s:%d: [%s] cannot have a field %q (fields: %s)", name, n, key, field, strings.Join(append(required, optional...), ", "))
			}
			if _, dup := e.fields()[field]; dup {
				return nil, fmt.Errorf("%s:%d: [%s] has %s twice", name, n, key, field)
			}
			if text == "" {
				return nil, fmt.Errorf("%s:%d: [%s] %s is empty", name, n, key, field)
			}
			switch field {
			case "text":
				e.Text = text
			case "one":
				e.One = text
			case "label":
				e.Label = text
			case "name":
				e.Name = text
			case "detail":
				e.Detail = text
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := flush(n); err != nil {
		return nil, err
	}
	return t, nil
}

// parseAt reads a file of translated `at:` lines: pairs of lines, the
// English ("en: …") then its translation ("ko: …" for ko), blank lines and
// comments (#) between them.
func parseAt(name, data string) (map[string]string, error) {
	out := map[string]string{}
	var en string
	n := 0
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		tag, text, ok := strings.Cut(line, ":")
		text = strings.TrimSpace(text)
		switch {
		case !ok || text == "":
			return nil, fmt.Errorf("%s:%d: %q: a line is en: text or <lang>: text", name, n, line)
		case tag == "en":
			if en != "" {
				return nil, fmt.Errorf("%s:%d: two English lines in a row", name, n)
			}
			if _, dup := out[text]; dup {
				return nil, fmt.Errorf("%s:%d: %q again", name, n, text)
			}
			en = text
		default:
			if en == "" {
				return nil, fmt.Errorf("%s:%d: a translation with no English line before it", name, n)
			}
			out[en], en = text, ""
		}
	}
	if en != "" {
		return nil, fmt.Errorf("%s: %q has no translation", name, en)
	}
	return out, sc.Err()
}
