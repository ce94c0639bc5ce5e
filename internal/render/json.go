package render

import (
	"encoding/json"
	"io"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// JSONRef is a cited range in the JSON output.
type JSONRef struct {
	annotations.Ref
	Permalink string `json:"permalink"`
}

// JSONStop is the JSON object written for one stop with --output json.
type JSONStop struct {
	walkthrough.Event
	Title string    `json:"title"`
	Refs  []JSONRef `json:"refs"`
}

// NewJSONStop returns the JSON form of s.
func NewJSONStop(s Stop) JSONStop {
	j := JSONStop{Event: s.Event, Title: walkthrough.PhaseTitle(s.Event.Phase), Refs: []JSONRef{}}
	if s.Note != nil {
		for _, r := range s.Note.Refs {
			j.Refs = append(j.Refs, JSONRef{Ref: r, Permalink: s.Version.Permalink(r.File, r.First, r.Last)})
		}
	}
	return j
}

// WriteJSON writes s as one line of JSON to w.
func WriteJSON(w io.Writer, s Stop) error {
	return json.NewEncoder(w).Encode(NewJSONStop(s))
}
