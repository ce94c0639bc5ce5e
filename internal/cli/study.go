package cli

import (
	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// studyMarkdown returns the questions, the exercise and the terms line of
// a phase of v in lang, or "" when there are none (a notes directory of a
// release pgwalk has no study material for). With values nil the exercise
// keeps its placeholders, each explained, and its alternative follows;
// otherwise it is filled with values, or replaced by its alternative when
// one of them is missing.
func studyMarkdown(v walkthrough.Version, phase walkthrough.PhaseID, lang string, values *walkthrough.Values) string {
	set, err := annotations.DefaultStudy()
	if err != nil {
		return ""
	}
	st, fell, ok := set.Get(v.Name, phase, lang)
	if !ok {
		return ""
	}
	if fell {
		lang = annotations.DefaultLang
	}
	g, _ := annotations.DefaultGlossary()
	return annotations.StudyMarkdown(st, annotations.StudyOptions{Lang: lang, Values: values, Glossary: g})
}

// withStudy returns n with the study part of its phase after its body,
// filled with the values of ev, the stop it is shown at. n itself is not
// changed.
func withStudy(n *annotations.Note, ev walkthrough.Event, v walkthrough.Version, lang string) *annotations.Note {
	if n == nil {
		return nil
	}
	md := studyMarkdown(v, n.Phase, lang, &ev.Values)
	if md == "" {
		return n
	}
	c := *n
	c.Body = c.Body + "\n\n" + md
	return &c
}

// warmStudy reads the study material and the glossary the notes' study
// part is made from, so that the first stop need not wait for them.
func warmStudy() {
	_, _ = annotations.DefaultStudy()
	_, _ = annotations.DefaultGlossary()
}
