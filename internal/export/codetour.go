package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// CodeTourSchema is the JSON schema address a .tour file names.
const CodeTourSchema = "https://aka.ms/codetour-schema"

// Tour is a VS Code CodeTour file (.tour), as described by the schema of
// github.com/microsoft/codetour (schema.json).
type Tour struct {
	Schema      string `json:"$schema"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	// Ref is the git ref the tour belongs to. When the workspace is not at
	// it, CodeTour opens each file as it is at that ref.
	Ref   string     `json:"ref,omitempty"`
	Steps []TourStep `json:"steps"`
}

// TourStep is one stop of a tour.
type TourStep struct {
	// File is relative to the workspace root: the PostgreSQL checkout.
	File string `json:"file"`
	// Line is where CodeTour shows the step's comment, counted from 1.
	Line int `json:"line,omitempty"`
	// Selection is the highlighted range, lines and characters counted
	// from 1.
	Selection   *TourSelection `json:"selection,omitempty"`
	Title       string         `json:"title,omitempty"`
	Description string         `json:"description"`
}

// TourSelection is a range of text in a step's file.
type TourSelection struct {
	Start TourPosition `json:"start"`
	End   TourPosition `json:"end"`
}

// TourPosition is a position in a file, counted from 1 in both directions.
type TourPosition struct {
	Line      int `json:"line"`
	Character int `json:"character"`
}

// CodeTour returns a .tour file that walks the cited ranges of every phase
// in order, one step per range, in a PostgreSQL checkout at the release tag.
// The first step of a phase carries its note (and, with events, the values
// observed); the others say what their range is.
func CodeTour(in Input) ([]byte, error) {
	d, err := build(in)
	if err != nil {
		return nil, err
	}
	v := d.in.Version
	t := Tour{
		Schema:      CodeTourSchema,
		Title:       d.Title(),
		Description: strings.TrimSpace(d.IntroMarkdown()),
		Ref:         v.Tag,
		Steps:       []TourStep{},
	}
	for _, s := range d.sections {
		if s.Note == nil {
			continue // the closing check cites no source
		}
		heading := d.Heading(s)
		for i, r := range s.Note.Refs {
			step := TourStep{
				File: r.File,
				// The comment goes under the last cited line, where
				// CodeTour itself puts a step made from a selection; the
				// selection ends at the start of the next line so that the
				// last cited line is highlighted whole.
				Line: r.Last,
				Selection: &TourSelection{
					Start: TourPosition{Line: r.First, Character: 1},
					End:   TourPosition{Line: r.Last + 1, Character: 1},
				},
				Title: fmt.Sprintf("%s · %s", heading, r.String()),
			}
			if i == 0 {
				step.Description = fmt.Sprintf("## %s\n\n", heading) + d.SourceMarkdown(s) + d.BodyMarkdown(s, 2) + d.StopsMarkdown(s, 3)
			} else {
				what := r.Label
				if what == "" || d.in.lang() != "en" {
					what = "`" + strings.Join(r.Symbols, "`, `") + "`"
				}
				step.Description = fmt.Sprintf("**%s** · [%s](%s)\n\n"+d.w.alsoCited+"\n", heading, r.String(), v.Permalink(r.File, r.First, r.Last), what)
			}
			step.Description = strings.TrimSpace(step.Description) + "\n"
			t.Steps = append(t.Steps, step)
		}
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(t); err != nil {
		return nil, fmt.Errorf("encoding the tour: %w", err)
	}
	return out.Bytes(), nil
}
