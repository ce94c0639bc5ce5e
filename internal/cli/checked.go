package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/source"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// checkedSource hands out PostgreSQL's lines only for ranges whose SHA-256
// is the one the notes or the manifest give: the lines of a range that does
// not match are never shown under the cited line numbers.
type checkedSource struct {
	store   *source.Store
	version walkthrough.Version
	// dir is --source, or "" for the cache.
	dir    string
	origin source.Origin
}

// openCheckedSource finds the source of v in dir (a tree or a git clone),
// else in the cache. Its error matches source.ErrNoSource when there is
// none; a dir that is no PostgreSQL tree, or a plain tree of another
// release, is a usage error.
func openCheckedSource(ctx context.Context, f *Factory, dir string, v walkthrough.Version) (*checkedSource, error) {
	opts := f.sourceOptions()
	opts.Dir = dir
	c := &checkedSource{store: source.Open(opts), version: v, dir: dir}
	origin, err := c.store.Available(ctx, v)
	var notTree *source.NotTreeError
	var wrong *source.WrongVersionError
	switch {
	case err == nil:
		c.origin = origin
		return c, nil
	case errors.As(err, &notTree) || errors.As(err, &wrong):
		return nil, UsageError(err)
	}
	return nil, err
}

// where names the source in a message.
func (c *checkedSource) where() string {
	if c.dir != "" {
		return c.dir
	}
	return "the source cache (" + c.origin.Dir + ")"
}

// Warning returns one line about the source worth showing once, or "".
func (c *checkedSource) Warning() string { return c.origin.Warning }

// Lines returns the lines of ref's file when lines ref.First..ref.Last
// hash to ref.SHA256; otherwise why says in one line why they are not
// shown. whose names the hash's owner in that line: "the note's",
// "the manifest's".
func (c *checkedSource) Lines(ctx context.Context, ref annotations.Ref, whose string) (lines []string, why string) {
	lines, _, err := c.store.File(ctx, c.version, ref.File)
	if err != nil {
		return nil, "lines not shown: " + err.Error()
	}
	switch r := source.Check(lines, ref); r.Status {
	case source.OK, source.MissingSymbols:
		// The text is the release's: a symbol missing from a note's
		// front matter is the note's fault, for verify to report.
		return lines, ""
	case source.Mismatch:
		return nil, fmt.Sprintf("lines not shown: in %s they are not PostgreSQL %s's text (sha256 %s, %s %s)", c.where(), c.version.Name, r.Actual, whose, ref.SHA256)
	default:
		return nil, fmt.Sprintf("lines not shown: %s in %s has only %d lines", ref.File, c.where(), r.FileLines)
	}
}
