package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/render"
	"github.com/pgwalk/pgwalk/internal/source"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// sourceContext is how many lines around a cited range the source view shows.
const sourceContext = 2

// sourceView shows the real PostgreSQL lines a note cites, when a source
// tree, a git clone or the per-tag cache has them.
type sourceView struct {
	store   *source.Store
	version walkthrough.Version
	style   render.SourceStyle
	// avail is set when source for the version was found; reason says
	// why not otherwise, with how to get it.
	avail  bool
	reason string
}

// newSourceView looks for the source of v (in dir, else the cache) and
// reports on ErrOut where it came from or, when mode is "on", why there is
// none.
func newSourceView(ctx context.Context, f *Factory, dir, mode string, v walkthrough.Version, r *render.Renderer) *sourceView {
	opts := f.sourceOptions()
	opts.Dir = dir
	sv := &sourceView{store: source.Open(opts), version: v}
	sv.style = render.SourceStyle{
		Color:     r.Color(),
		TrueColor: f.IO.Getenv != nil && f.IO.Getenv("COLORTERM") == "truecolor",
		Width:     r.Width(),
		Theme:     render.SourceTheme(r.Style()),
		ASCII:     r.Style() == "ascii",
	}
	if mode == "off" {
		return sv
	}
	origin, err := sv.store.Available(ctx, v)
	switch {
	case err == nil:
		sv.avail = true
		if origin.Warning != "" {
			fmt.Fprintf(f.IO.ErrOut, "pgwalk: %s\n", origin.Warning)
		}
	case errors.Is(err, source.ErrNoSource):
		sv.reason = fmt.Sprintf("no PostgreSQL %s source here; `pgwalk source fetch --version %s` downloads the cited files, or pass --source DIR", v.Name, v.Name)
	default:
		sv.reason = err.Error()
	}
	if !sv.avail && (mode == "on" || dir != "") {
		fmt.Fprintf(f.IO.ErrOut, "pgwalk: source lines: %s\n", sv.reason)
	}
	return sv
}

// Prefetch reads every file the notes of the version cite, so that no
// process needs to start later: while the live driver traces, its wait for
// any child would also collect a git started to read a file.
func (sv *sourceView) Prefetch(ctx context.Context, notes []*annotations.Note) {
	if !sv.avail {
		return
	}
	for _, n := range notes {
		for _, ref := range n.Refs {
			_, _, _ = sv.store.File(ctx, sv.version, ref.File)
		}
	}
}

// Blocks returns the cited ranges of n laid out for the terminal, or "".
func (sv *sourceView) Blocks(ctx context.Context, n *annotations.Note) string {
	if !sv.avail || n == nil {
		return ""
	}
	var b strings.Builder
	for _, ref := range n.Refs {
		lines, _, err := sv.store.File(ctx, sv.version, ref.File)
		if err != nil {
			fmt.Fprintf(&b, "  %s: %s\n\n", ref, err)
			continue
		}
		b.WriteString(render.Source(source.Range(lines, ref, sourceContext), sv.style))
		b.WriteString("\n")
	}
	return b.String()
}
