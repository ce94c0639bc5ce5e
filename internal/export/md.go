package export

import (
	"fmt"
	"strings"
)

// Markdown returns the handout: the title, then every phase in order with
// its cited ranges and permalinks, its note, and, when in has the events of
// a run, the values observed at each of the phase's stops.
func Markdown(in Input) (string, error) {
	d, err := build(in)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n%s\n", d.Title(), d.IntroMarkdown())
	for _, s := range d.sections {
		b.WriteString(d.sectionMarkdown(s))
	}
	if g := d.GlossaryMarkdown(2, d.glossaryAnchors()); g != "" {
		b.WriteString("\n" + g)
	}
	return strings.TrimRight(b.String(), "\n") + "\n", nil
}

// sectionMarkdown returns one phase of the handout, under a level-2 heading:
// its cited ranges (and their lines, with a source), its note, the values
// of the run, and its questions and exercise.
func (d *document) sectionMarkdown(s section) string {
	return fmt.Sprintf("\n## %s\n\n", d.Heading(s)) + d.SourceMarkdown(s) + d.LinesMarkdown(s) + d.BodyMarkdown(s, 2) + d.StopsMarkdown(s, 3) + d.StudyMarkdown(s, 3, d.glossaryAnchors())
}
