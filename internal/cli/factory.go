package cli

import (
	"fmt"
	"strings"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/internal/render"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// Factory holds what commands need from the outside world, so that tests
// can replace it.
type Factory struct {
	IO *iostreams.IOStreams
	// Notes loads the notes: the embedded ones, or those of --notes DIR.
	Notes func(dir string) (*annotations.Set, error)
	// NewDriver returns the driver called name.
	NewDriver func(name string, opts walkthrough.DriverOptions) (walkthrough.Driver, error)
	// Version is pgwalk's own version.
	Version string
}

// UnknownDriverError is returned for a --driver value pgwalk does not have.
type UnknownDriverError struct{ Name string }

func (e *UnknownDriverError) Error() string {
	return fmt.Sprintf("unknown driver %q (drivers: %s)", e.Name, strings.Join(DriverNames, ", "))
}

// lookupVersion resolves a --version value, as a usage error when unknown.
func lookupVersion(name string) (walkthrough.Version, error) {
	if name == "" {
		return walkthrough.Version{}, UsageError(fmt.Errorf("--version is required (supported: %s)", strings.Join(walkthrough.VersionNames(), ", ")))
	}
	v, err := walkthrough.LookupVersion(name)
	if err != nil {
		return v, UsageError(err)
	}
	return v, nil
}

// loadNotes loads the notes for dir through the factory.
func (f *Factory) loadNotes(dir string) (*annotations.Set, error) {
	set, err := f.Notes(dir)
	if err != nil {
		if dir != "" {
			return nil, UsageError(fmt.Errorf("notes directory %s: %w", dir, err))
		}
		return nil, fmt.Errorf("loading the notes: %w", err)
	}
	return set, nil
}

// validateOutputFlags checks --output, --lang, --style and --width.
func validateOutputFlags(output, lang, style string, width int) error {
	if output != "text" && output != "json" {
		return UsageError(fmt.Errorf("unknown output format %q (formats: text, json)", output))
	}
	if err := validateLang(lang); err != nil {
		return err
	}
	if _, err := render.ResolveStyle(style, false); err != nil {
		return UsageError(err)
	}
	if width != 0 && (width < iostreams.MinWidth || width > 400) {
		return UsageError(fmt.Errorf("--width %d: must be between %d and 400 columns", width, iostreams.MinWidth))
	}
	return nil
}
