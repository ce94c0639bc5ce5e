package export

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// stepFields are the properties CodeTour's schema (schema.json of
// github.com/microsoft/codetour) defines for a step.
var stepFields = []string{"file", "directory", "view", "uri", "line", "pattern", "title", "description", "selection", "commands"}

// tourFields are the properties the schema defines for a tour.
var tourFields = []string{"$schema", "title", "description", "ref", "isPrimary", "steps", "stepMarker", "nextTour", "when"}

// validateTour checks data against the rules of CodeTour's schema that a
// generated tour must meet: a title, steps, and every step with a
// description and a file with a line or a selection, positions counted
// from 1. It decodes into plain maps so that it checks the JSON, not the Go
// types that produced it.
func validateTour(data []byte) []string {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	var tour map[string]any
	if err := json.Unmarshal(data, &tour); err != nil {
		return []string{"not a JSON object: " + err.Error()}
	}
	for k := range tour {
		if !slices.Contains(tourFields, k) {
			bad("unknown tour property %q", k)
		}
	}
	if s, ok := tour["$schema"].(string); ok && s != CodeTourSchema {
		bad("$schema is %q", s)
	}
	if s, ok := tour["title"].(string); !ok || strings.TrimSpace(s) == "" {
		bad("title missing or not a string")
	}
	for _, k := range []string{"description", "ref"} {
		if v, ok := tour[k]; ok {
			if _, ok := v.(string); !ok {
				bad("%s is not a string", k)
			}
		}
	}
	steps, ok := tour["steps"].([]any)
	if !ok {
		return append(errs, "steps missing or not an array")
	}
	if len(steps) == 0 {
		bad("no steps")
	}
	number := func(v any) (int, bool) {
		f, ok := v.(float64)
		return int(f), ok && f == float64(int(f))
	}
	position := func(i int, name string, v any) (line, char int) {
		p, ok := v.(map[string]any)
		if !ok {
			bad("step %d: selection.%s is not an object", i, name)
			return 0, 0
		}
		line, okl := number(p["line"])
		char, okc := number(p["character"])
		if !okl || !okc || line < 1 || char < 1 {
			bad("step %d: selection.%s needs line and character, counted from 1: %v", i, name, p)
		}
		return line, char
	}
	for i, raw := range steps {
		step, ok := raw.(map[string]any)
		if !ok {
			bad("step %d is not an object", i)
			continue
		}
		for k := range step {
			if !slices.Contains(stepFields, k) {
				bad("step %d: unknown property %q", i, k)
			}
		}
		if d, ok := step["description"].(string); !ok || strings.TrimSpace(d) == "" {
			bad("step %d: description missing or empty", i)
		}
		file, ok := step["file"].(string)
		if !ok || file == "" {
			bad("step %d: no file", i)
		} else if path.IsAbs(file) || strings.HasPrefix(path.Clean(file), "..") || strings.Contains(file, `\`) {
			bad("step %d: file %q is not relative to the workspace root", i, file)
		}
		_, hasLine := step["line"]
		sel, hasSel := step["selection"]
		if !hasLine && !hasSel {
			bad("step %d: neither line nor selection", i)
		}
		if hasLine {
			if l, ok := number(step["line"]); !ok || l < 1 {
				bad("step %d: line %v is not a line number", i, step["line"])
			}
		}
		if hasSel {
			s, ok := sel.(map[string]any)
			if !ok {
				bad("step %d: selection is not an object", i)
				continue
			}
			sl, sc := position(i, "start", s["start"])
			el, ec := position(i, "end", s["end"])
			if sl > el || (sl == el && sc > ec) {
				bad("step %d: selection ends before it starts", i)
			}
		}
		if t, ok := step["title"]; ok {
			if _, ok := t.(string); !ok {
				bad("step %d: title is not a string", i)
			}
		}
	}
	return errs
}

func TestValidateTour(t *testing.T) {
	good := `{"$schema":"https://aka.ms/codetour-schema","title":"T","steps":[{"file":"a.c","line":3,"description":"d"}]}`
	tests := []struct {
		name, tour string
		wantErr    string // "" for a valid tour
	}{
		{"valid", good, ""},
		{"valid with selection", `{"title":"T","steps":[{"file":"a.c","selection":{"start":{"line":1,"character":1},"end":{"line":4,"character":1}},"description":"d"}]}`, ""},
		{"no title", `{"steps":[{"file":"a.c","line":3,"description":"d"}]}`, "title missing"},
		{"no steps", `{"title":"T"}`, "steps missing"},
		{"empty steps", `{"title":"T","steps":[]}`, "no steps"},
		{"no description", `{"title":"T","steps":[{"file":"a.c","line":3}]}`, "description missing"},
		{"no line or selection", `{"title":"T","steps":[{"file":"a.c","description":"d"}]}`, "neither line nor selection"},
		{"line zero", `{"title":"T","steps":[{"file":"a.c","line":0,"description":"d"}]}`, "not a line number"},
		{"line as string", `{"title":"T","steps":[{"file":"a.c","line":"3","description":"d"}]}`, "not a line number"},
		{"absolute file", `{"title":"T","steps":[{"file":"/src/a.c","line":3,"description":"d"}]}`, "not relative"},
		{"inverted selection", `{"title":"T","steps":[{"file":"a.c","selection":{"start":{"line":5,"character":1},"end":{"line":4,"character":1}},"description":"d"}]}`, "ends before"},
		{"selection without character", `{"title":"T","steps":[{"file":"a.c","selection":{"start":{"line":5},"end":{"line":6,"character":1}},"description":"d"}]}`, "needs line and character"},
		{"misspelt property", `{"title":"T","steps":[{"file":"a.c","lines":3,"line":3,"description":"d"}]}`, `unknown property "lines"`},
		{"wrong schema", `{"$schema":"x","title":"T","steps":[{"file":"a.c","line":3,"description":"d"}]}`, "$schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := validateTour([]byte(tt.tour))
			if tt.wantErr == "" {
				if len(errs) > 0 {
					t.Errorf("valid tour rejected: %v", errs)
				}
				return
			}
			if !strings.Contains(strings.Join(errs, "\n"), tt.wantErr) {
				t.Errorf("errors %v, want one with %q", errs, tt.wantErr)
			}
		})
	}
}

func TestCodeTour(t *testing.T) {
	for _, v := range walkthrough.Versions() {
		for _, lang := range []string{"en", "ko"} {
			t.Run(v.Name+"/"+lang, func(t *testing.T) {
				notes := defaultNotes(t)
				data, err := CodeTour(Input{Version: v, Notes: notes, Lang: lang})
				if err != nil {
					t.Fatal(err)
				}
				if errs := validateTour(data); len(errs) > 0 {
					t.Fatalf("invalid tour:\n%s", strings.Join(errs, "\n"))
				}
				var tour Tour
				if err := json.Unmarshal(data, &tour); err != nil {
					t.Fatal(err)
				}
				if tour.Ref != v.Tag {
					t.Errorf("ref = %q, want %s", tour.Ref, v.Tag)
				}
				// One step per cited range, in phase order, each on its range.
				i := 0
				for _, p := range walkthrough.Phases() {
					n, _, err := notes.Note(v.Name, p.ID, lang)
					if err != nil {
						t.Fatal(err)
					}
					for j, r := range n.Refs {
						if i >= len(tour.Steps) {
							t.Fatalf("only %d steps", len(tour.Steps))
						}
						s := tour.Steps[i]
						if s.File != r.File || s.Line != r.Last || s.Selection == nil ||
							s.Selection.Start != (TourPosition{Line: r.First, Character: 1}) ||
							s.Selection.End != (TourPosition{Line: r.Last + 1, Character: 1}) {
							t.Errorf("step %d = %s:%d %+v, want %s lines %d-%d", i, s.File, s.Line, s.Selection, r.File, r.First, r.Last)
						}
						if j == 0 && !strings.Contains(s.Description, strings.TrimSpace(n.Body)[:40]) {
							t.Errorf("step %d, the first of %s, does not carry the note", i, p.ID)
						}
						if link := v.Permalink(r.File, r.First, r.Last); !strings.Contains(s.Description, link) {
							t.Errorf("step %d lacks the permalink %s", i, link)
						}
						i++
					}
				}
				if i != len(tour.Steps) {
					t.Errorf("%d steps, want %d (one per cited range)", len(tour.Steps), i)
				}
			})
		}
	}
	t.Run("with a run", func(t *testing.T) {
		data, err := CodeTour(Input{Version: v164(t), Notes: defaultNotes(t), Events: toyEvents()})
		if err != nil {
			t.Fatal(err)
		}
		if errs := validateTour(data); len(errs) > 0 {
			t.Fatalf("invalid tour: %v", errs)
		}
		if !strings.Contains(string(data), "Observed at stop 3") || !strings.Contains(string(data), "`fork_return` = 101") {
			t.Errorf("the tour lacks the run's values")
		}
		if strings.Contains(string(data), `\u003c`) {
			t.Errorf("the tour escapes < for HTML, which makes it hard to read and edit")
		}
	})
}
