package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/internal/render"
	"github.com/pgwalk/pgwalk/internal/source"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// sourceContext is how many lines around a cited range the source view shows.
const sourceContext = 2

// sourceView shows the real PostgreSQL lines a note cites, when a source
// tree, a git clone or the per-tag cache has them. Before it shows a
// range it checks the range's SHA-256 against the note, as verify does:
// the lines of a range that does not match are never shown under the
// note's line numbers.
type sourceView struct {
	store   *source.Store
	version walkthrough.Version
	style   render.SourceStyle
	// avail is set when source for the version was found; reason says
	// why not otherwise, with how to get it.
	avail  bool
	reason string
	origin source.Origin
	// dir is --source, or "" for the cache.
	dir string
	// lang is the language of what the view says.
	lang string
	// checked remembers each range's check.
	checked map[refKey]rangeCheck
}

// refKey identifies a cited range.
type refKey struct {
	file        string
	first, last int
	sha256      string
}

func keyOf(r annotations.Ref) refKey { return refKey{r.File, r.First, r.Last, r.SHA256} }

// rangeCheck is the outcome of checking one cited range before showing it.
type rangeCheck struct {
	lines []string
	// why, when not empty, says in one line why the range's lines are
	// not shown.
	why string
}

// newSourceView looks for the source of v (in dir, else the cache) and
// reports on ErrOut, in lang, why there is none when mode is "on" or dir
// was given. A dir that is not a PostgreSQL tree (or no directory at all)
// is a usage error, as it is for verify.
func newSourceView(ctx context.Context, f *Factory, dir, mode string, v walkthrough.Version, r *render.Renderer, lang string) (*sourceView, error) {
	opts := f.sourceOptions()
	opts.Dir = dir
	sv := &sourceView{store: source.Open(opts), version: v, dir: dir, lang: lang, checked: map[refKey]rangeCheck{}}
	sv.style = render.SourceStyle{
		Lang:      lang,
		Color:     r.Color(),
		TrueColor: f.IO.Getenv != nil && f.IO.Getenv("COLORTERM") == "truecolor",
		Width:     r.Width(),
		Theme:     render.SourceTheme(r.Style()),
		ASCII:     r.Style() == "ascii",
	}
	if mode == "off" {
		return sv, nil
	}
	origin, err := sv.store.Available(ctx, v)
	var notTree *source.NotTreeError
	var notDir *source.NotDirError
	switch {
	case err == nil:
		sv.avail, sv.origin = true, origin
	case errors.As(err, &notTree) || errors.As(err, &notDir):
		return nil, UsageError(err)
	case errors.Is(err, source.ErrNoSource):
		sv.reason = catalog.S(lang, "source.none_here", "version", v.Name)
	default:
		sv.reason = err.Error()
	}
	if !sv.avail && (mode == "on" || dir != "") {
		fmt.Fprintf(f.IO.ErrOut, "pgwalk: %s\n", catalog.S(lang, "source.lines", "why", sv.reason))
	}
	return sv, nil
}

// WithWidth returns the view laying out its lines for width columns.
func (sv *sourceView) WithWidth(width int) *sourceView {
	c := *sv
	c.style.Width = width
	return &c
}

// Prefetch reads and checks every range the notes of the version cite, so
// that no process needs to start later (while the live driver traces, its
// wait for any child would also collect a git started to read a file). It
// returns one line for the user when a range cannot be shown, or "".
func (sv *sourceView) Prefetch(ctx context.Context, notes []*annotations.Note) string {
	if !sv.avail {
		return ""
	}
	var refs []annotations.Ref
	for _, n := range notes {
		refs = append(refs, n.Refs...)
	}
	return sv.Summary(ctx, refs)
}

// Summary checks refs and returns one line that says how many of them
// cannot be shown and why, or "" when all can. Every range has a hash (the
// notes' loader requires one), so a tree whose release could not be read
// from its configure is worth a word only when a range fails.
func (sv *sourceView) Summary(ctx context.Context, refs []annotations.Ref) string {
	if !sv.avail {
		return ""
	}
	failed, total := 0, 0
	seen := map[refKey]bool{}
	var first string
	for _, ref := range refs {
		if seen[keyOf(ref)] {
			continue
		}
		seen[keyOf(ref)] = true
		total++
		if c := sv.check(ctx, ref); c.why != "" {
			failed++
			if first == "" {
				first = fmt.Sprintf("%s: %s", ref, c.why)
			}
		}
	}
	switch failed {
	case 0:
		return ""
	case 1:
		return first + sv.provenance()
	}
	return catalog.S(sv.lang, "source.not_text", "n", failed, "total", total, "where", sv.where(), "version", sv.version.Name, "provenance", sv.provenance())
}

// where names the source in a message.
func (sv *sourceView) where() string {
	if sv.dir != "" {
		return sv.dir
	}
	return catalog.S(sv.lang, "source.the_cache", "dir", sv.origin.Dir)
}

// provenance adds what is known about the source's release to a message
// about a range that failed.
func (sv *sourceView) provenance() string {
	switch {
	case sv.origin.Untagged != "":
		return catalog.S(sv.lang, "source.untagged", "dir", sv.dir, "tag", sv.origin.Untagged)
	case sv.origin.Kind == source.FromTree && !sv.origin.Confirmed:
		return catalog.S(sv.lang, "source.release_unknown")
	}
	return ""
}

// check reads ref's file and checks the range's hash.
func (sv *sourceView) check(ctx context.Context, ref annotations.Ref) rangeCheck {
	if c, ok := sv.checked[keyOf(ref)]; ok {
		return c
	}
	var c rangeCheck
	lines, _, err := sv.store.File(ctx, sv.version, ref.File)
	if err != nil {
		c.why = catalog.S(sv.lang, "source.not_shown", "error", err)
		if ctx.Err() != nil {
			return c // do not remember an interrupted read
		}
		sv.checked[keyOf(ref)] = c
		return c
	}
	c.lines = lines
	r := source.Check(lines, ref)
	switch r.Status {
	case source.OK, source.MissingSymbols:
		// The text is the note's: a symbol missing from the front
		// matter is the note's fault, for verify to report.
	case source.Mismatch:
		c.why = catalog.S(sv.lang, "source.not_release_text", "where", sv.where(), "version", sv.version.Name, "actual", r.Actual, "want", ref.SHA256)
	case source.OutOfRange:
		c.why = catalog.S(sv.lang, "source.too_short", "where", sv.where(), "lines", r.FileLines, "file", ref.File)
	}
	sv.checked[keyOf(ref)] = c
	return c
}

// BlockList returns each cited range of n laid out for the terminal, one
// string per range; nil when there is no source.
func (sv *sourceView) BlockList(ctx context.Context, n *annotations.Note) []string {
	if !sv.avail || n == nil {
		return nil
	}
	var blocks []string
	for _, ref := range n.Refs {
		c := sv.check(ctx, ref)
		if c.why != "" {
			// One line that says why, and the permalink, unwrapped.
			why := render.Wrap(fmt.Sprintf("%s: %s", ref, c.why), sv.style.Width)
			blocks = append(blocks, fmt.Sprintf("%s\n  %s\n", why, sv.version.Permalink(ref.File, ref.First, ref.Last)))
			continue
		}
		blocks = append(blocks, render.Source(source.Range(c.lines, ref, sourceContext), sv.style))
	}
	return blocks
}

// Blocks returns the cited ranges of n laid out for the terminal, one after
// the other, or "".
func (sv *sourceView) Blocks(ctx context.Context, n *annotations.Note) string {
	var b strings.Builder
	for _, block := range sv.BlockList(ctx, n) {
		b.WriteString(block)
		b.WriteString("\n")
	}
	return b.String()
}
