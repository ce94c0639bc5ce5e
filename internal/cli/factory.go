package cli

import (
	"strings"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/catalog"
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
type UnknownDriverError struct {
	Name string
	// Lang is the language of the message; "" is English.
	Lang string
}

func (e *UnknownDriverError) Error() string {
	return catalog.S(e.Lang, "usage.unknown_driver", "driver", e.Name, "drivers", strings.Join(DriverNames, ", "))
}

// lookupVersion resolves a --version value, as a usage error when unknown.
func lookupVersion(name string) (walkthrough.Version, error) {
	if name == "" {
		return walkthrough.Version{}, UsageError(catalog.Errorf(catalog.DefaultLang, "usage.version_required", "versions", strings.Join(walkthrough.VersionNames(), ", ")))
	}
	v, err := walkthrough.LookupVersion(name)
	if err != nil {
		return v, UsageError(err)
	}
	return v, nil
}

// loadNotes loads the notes for dir through the factory.
func (f *Factory) loadNotes(dir string) (*annotations.Set, error) {
	return f.loadNotesIn(dir, catalog.DefaultLang)
}

// loadNotesIn is loadNotes with its errors in lang.
func (f *Factory) loadNotesIn(dir, lang string) (*annotations.Set, error) {
	set, err := f.Notes(dir)
	if err != nil {
		if dir != "" {
			return nil, UsageError(catalog.Wrap(lang, err, "usage.notes_dir", "dir", dir))
		}
		return nil, catalog.Wrap(lang, err, "usage.loading_notes")
	}
	return set, nil
}

// maxWidth is the widest --width.
const maxWidth = 400

// validateOutputFlags checks --output, --lang, --style and --width; its
// errors are in lang once lang is known to be one.
func validateOutputFlags(output, lang, style string, width int) error {
	if err := validateLang(lang); err != nil {
		return err
	}
	if output != "text" && output != "json" {
		return UsageError(catalog.Errorf(lang, "usage.output", "format", output, "formats", strings.Join(outputFormats, ", ")))
	}
	if _, err := render.ResolveStyle(style, false); err != nil {
		return UsageError(err)
	}
	if width != 0 && (width < iostreams.MinWidth || width > maxWidth) {
		return UsageError(catalog.Errorf(lang, "usage.width", "width", width, "min", iostreams.MinWidth, "max", maxWidth))
	}
	return nil
}
