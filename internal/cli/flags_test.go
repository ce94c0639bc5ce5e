package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/internal/render"
)

// TestSharedFlags: every command that takes --lang, --style, --width or
// --notes takes it the same way, from one list of languages and styles.
func TestSharedFlags(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	root := NewCmdRoot(NewFactory(io))
	seen := map[string]int{}
	for _, c := range root.Commands() {
		for _, c := range append(c.Commands(), c) {
			for name, want := range map[string][]string{"lang": langNames, "style": render.Styles} {
				f := c.Flags().Lookup(name)
				if f == nil {
					continue
				}
				seen[name]++
				fn, ok := c.GetFlagCompletionFunc(name)
				if !ok {
					t.Errorf("%s --%s has no completion", c.CommandPath(), name)
					continue
				}
				got, _ := fn(c, nil, "")
				if !slices.Equal(got, want) {
					t.Errorf("%s --%s completes %v, want %v", c.CommandPath(), name, got, want)
				}
				if !strings.Contains(f.Usage, strings.Join(want, ", ")) && !strings.Contains(f.Usage, strings.Join(want, " or ")) {
					t.Errorf("%s --%s usage %q does not list %v", c.CommandPath(), name, f.Usage, want)
				}
			}
			if f := c.Flags().Lookup("width"); f != nil {
				seen["width"]++
				if c.Flags().Lookup("style") == nil {
					t.Errorf("%s has --width without --style", c.CommandPath())
				}
			}
			if f := c.Flags().Lookup("notes"); f != nil {
				seen["notes"]++
				if !strings.Contains(f.Usage, "<lang>/<version>/<phase>.md") || f.Annotations["cobra_annotation_bash_completion_subdirs_in_dir"] == nil {
					t.Errorf("%s --notes: usage %q, annotations %v", c.CommandPath(), f.Usage, f.Annotations)
				}
			}
		}
	}
	for _, name := range []string{"lang", "style", "width", "notes"} {
		if seen[name] < 2 {
			t.Errorf("--%s on %d commands: the test found too few to mean anything", name, seen[name])
		}
	}
	if err := validateLang("fr"); err == nil || !strings.Contains(err.Error(), "languages: en, ko") {
		t.Errorf("validateLang(fr) = %v", err)
	}
}
