package annotations

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// The texts that compare two releases live at diff/<lang>/<from>..<to>/<phase>.md:
// Markdown that says what changed in a phase between the two releases and
// why it matters, written so that it reads the same in either direction
// (the older release comes first in the directory's name). They cite
// lines; they never quote PostgreSQL's source.
//
//go:embed diff
var diffFS embed.FS

// Pair names two releases that a comparison text is about: the older one
// first.
type Pair struct{ From, To string }

// String returns the pair as its directory is named: "16.4..17.1".
func (p Pair) String() string { return p.From + ".." + p.To }

// ParsePair reads "16.4..17.1".
func ParsePair(s string) (Pair, bool) {
	from, to, ok := strings.Cut(s, "..")
	if !ok || from == "" || to == "" || strings.Contains(to, "..") {
		return Pair{}, false
	}
	return Pair{From: from, To: to}, true
}

// DiffPairs returns the pairs of releases that have English comparison
// texts, in the order of their directories' names.
func DiffPairs() []Pair {
	entries, err := fs.ReadDir(diffFS, "diff/"+DefaultLang)
	if err != nil {
		return nil
	}
	var out []Pair
	for _, e := range entries {
		if p, ok := ParsePair(e.Name()); ok && e.IsDir() {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// NoDiffError says that two releases have no comparison text.
type NoDiffError struct {
	A, B string
	// Pairs are the pairs that have one.
	Pairs []Pair
}

func (e *NoDiffError) Error() string {
	names := make([]string, len(e.Pairs))
	for i, p := range e.Pairs {
		names[i] = p.From + " and " + p.To
	}
	return fmt.Sprintf("no comparison of %s and %s (comparisons exist for %s)", e.A, e.B, strings.Join(names, "; "))
}

// LookupPair returns the pair of a and b, in either order, when it has
// comparison texts.
func LookupPair(a, b string) (Pair, error) {
	for _, p := range DiffPairs() {
		if (p.From == a && p.To == b) || (p.From == b && p.To == a) {
			return p, nil
		}
	}
	return Pair{}, &NoDiffError{A: a, B: b, Pairs: DiffPairs()}
}

// Diff returns the Markdown that says what changed in phase between the
// releases of pair, in lang ("" means English). When lang has no text for
// phase, Diff returns the English one; HasDiff tells the two cases apart.
func Diff(lang string, pair Pair, phase walkthrough.PhaseID) (string, error) {
	if p, err := walkthrough.LookupPhase(string(phase)); err != nil || p.ID != phase {
		return "", &walkthrough.UnknownPhaseError{Name: string(phase)}
	}
	if lang == "" {
		lang = DefaultLang
	}
	for _, l := range []string{lang, DefaultLang} {
		data, err := fs.ReadFile(diffFS, diffPath(l, pair, phase))
		if err == nil {
			return strings.TrimSpace(string(data)) + "\n", nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("reading the %s diff of %s for %s: %w", l, phase, pair, err)
		}
	}
	return "", fmt.Errorf("no diff text for phase %s of %s: %w", phase, pair, fs.ErrNotExist)
}

// HasDiff reports whether lang has its own text for phase of pair.
func HasDiff(lang string, pair Pair, phase walkthrough.PhaseID) bool {
	_, err := fs.Stat(diffFS, diffPath(lang, pair, phase))
	return err == nil
}

func diffPath(lang string, pair Pair, phase walkthrough.PhaseID) string {
	return "diff/" + lang + "/" + pair.String() + "/" + string(phase) + ".md"
}
