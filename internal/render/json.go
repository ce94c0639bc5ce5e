package render

import (
	"encoding/json"
	"io"
	"slices"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/catalog"
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

// NewJSONStop returns the JSON form of s. A fact or a check said as a
// catalog message (a key and its args) gets its name and value, or name
// and detail, from the catalog in s.Lang; the key and the args stay, for
// programs. A point said as a catalog message gets its English text as
// point, beside point_key and point_args.
func NewJSONStop(s Stop) JSONStop {
	j := JSONStop{Event: s.Event, Title: walkthrough.PhaseTitle(s.Event.Phase), Refs: []JSONRef{}}
	if j.PointKey != "" {
		// point stays English in every language, for programs.
		j.Point = catalog.Text(catalog.DefaultLang, j.PointMsg())
	}
	j.Values.Facts = Facts(s.Event.Values.Facts, s.Lang)
	j.Values.Checks = Checks(s.Event.Values.Checks, s.Lang)
	if s.Note != nil {
		for _, r := range s.Note.Refs {
			j.Refs = append(j.Refs, JSONRef{Ref: r, Permalink: s.Version.Permalink(r.File, r.First, r.Last)})
		}
	}
	return j
}

// Facts returns facts with the name and value of each one that has a
// catalog key said in lang; facts itself is not changed.
func Facts(facts []walkthrough.Fact, lang string) []walkthrough.Fact {
	if facts == nil {
		return nil
	}
	out := slices.Clone(facts)
	for i, f := range out {
		if f.Key != "" {
			out[i].Name, out[i].Value = catalog.Fact(lang, f)
		}
	}
	return out
}

// Checks returns checks with the name and detail of each one that has a
// catalog key said in lang; checks itself is not changed.
func Checks(checks []walkthrough.Check, lang string) []walkthrough.Check {
	if checks == nil {
		return nil
	}
	out := slices.Clone(checks)
	for i, c := range out {
		if c.Key != "" {
			out[i].Name, out[i].Detail = catalog.Check(lang, c)
		}
	}
	return out
}

// WriteJSON writes s as one line of JSON to w.
func WriteJSON(w io.Writer, s Stop) error {
	return json.NewEncoder(w).Encode(NewJSONStop(s))
}
