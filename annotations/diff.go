package annotations

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// The cross-version texts live at diff/<lang>/<phase>.md: Markdown that says
// what changed in a phase between 16.4 and 17.1 and why it matters, written
// so that it reads the same in either direction. They cite lines; they never
// quote PostgreSQL's source.
//
//go:embed diff
var diffFS embed.FS

// Diff returns the Markdown that says what changed in phase between the
// supported releases, in lang ("" means English). When lang has no text for
// phase, Diff returns the English one; HasDiff tells the two cases apart.
func Diff(lang string, phase walkthrough.PhaseID) (string, error) {
	if p, err := walkthrough.LookupPhase(string(phase)); err != nil || p.ID != phase {
		return "", &walkthrough.UnknownPhaseError{Name: string(phase)}
	}
	if lang == "" {
		lang = DefaultLang
	}
	for _, l := range []string{lang, DefaultLang} {
		data, err := fs.ReadFile(diffFS, diffPath(l, phase))
		if err == nil {
			return strings.TrimSpace(string(data)) + "\n", nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("reading the %s diff of %s: %w", l, phase, err)
		}
	}
	return "", fmt.Errorf("no diff text for phase %s: %w", phase, fs.ErrNotExist)
}

// HasDiff reports whether lang has its own diff text for phase.
func HasDiff(lang string, phase walkthrough.PhaseID) bool {
	_, err := fs.Stat(diffFS, diffPath(lang, phase))
	return err == nil
}

func diffPath(lang string, phase walkthrough.PhaseID) string {
	return "diff/" + lang + "/" + string(phase) + ".md"
}
