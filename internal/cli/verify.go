package cli

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/internal/source"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// VerifyOptions are the settings of `pgwalk verify`.
type VerifyOptions struct {
	IO      *iostreams.IOStreams
	Factory *Factory
	// Ctx bounds the work; nil means context.Background().
	Ctx context.Context
	// Versions are the releases to check; with VersionGiven false they are
	// every supported release, and those without source are skipped.
	Versions     []walkthrough.Version
	VersionGiven bool
	NotesDir     string
	// Source says where to read PostgreSQL's files; Source.Dir is --source.
	Source source.Options
}

// NewCmdVerify returns `pgwalk verify`.
func NewCmdVerify(f *Factory, runF func(*VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IO, Factory: f, Source: f.sourceOptions()}
	var versionName string
	cmd := &cobra.Command{
		Use:   "verify [--source DIR] [--version V]",
		Short: "Check every cited line range against PostgreSQL's real source",
		Long: strings.TrimSpace(`
Check every line range that every note cites (in every language) against the
real file of its release: the SHA-256 of the range must be the one in the
note's front matter, and every symbol the note names must appear in the range.

The files come from --source DIR, a PostgreSQL source tree of the release or a
git clone with its tag (read with git, no checkout needed), or else from the
cache that 'pgwalk source fetch' fills. Without --version, every release with
source available is checked.

verify prints one row per cited range (note, file, range, status) and exits 0
when every range holds, 1 when any does not (naming the note, file, range,
and the expected and actual hash), and 2 when no source is available.`),
		Example: strings.TrimSpace(`
  # against a git clone of PostgreSQL (both tags)
  git clone https://github.com/postgres/postgres ~/src/postgres
  pgwalk verify --source ~/src/postgres

  # against an unpacked release tarball
  pgwalk verify --source ~/src/postgresql-16.4 --version 16.4

  # against the cache
  pgwalk source fetch --version 17.1 && pgwalk verify --version 17.1`),
		Args: requireNoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			if versionName != "" {
				v, err := lookupVersion(versionName)
				if err != nil {
					return err
				}
				opts.Versions, opts.VersionGiven = []walkthrough.Version{v}, true
			} else {
				opts.Versions = walkthrough.Versions()
			}
			if runF != nil {
				return runF(opts)
			}
			return runVerify(opts)
		},
	}
	addVersionFlag(cmd, &versionName)
	fl := cmd.Flags()
	fl.StringVar(&opts.Source.Dir, "source", "", "PostgreSQL source tree or git clone to check against (default: the source cache)")
	addNotesFlag(cmd, &opts.NotesDir, "check the notes of this directory instead of the built-in ones")
	return cmd
}

// verifyRow is one line of verify's table.
type verifyRow struct {
	note   string
	ref    annotations.Ref
	status string
	// failure is set for a range that does not hold.
	failure string
	// unavailable is set when the file could not be read from the cache.
	unavailable bool
}

func runVerify(opts *VerifyOptions) error {
	ctx := opts.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	set, err := opts.Factory.loadNotes(opts.NotesDir)
	if err != nil {
		return err
	}
	store := source.Open(opts.Source)

	type checked struct {
		v      walkthrough.Version
		origin source.Origin
	}
	var todo []checked
	var missing []error
	for _, v := range opts.Versions {
		o, err := store.Available(ctx, v)
		var wrong *source.WrongVersionError
		var notTree *source.NotTreeError
		switch {
		case err == nil:
		case errors.As(err, &notTree):
			return UsageError(err)
		case errors.Is(err, source.ErrNoSource) || errors.As(err, &wrong):
			missing = append(missing, err)
			continue
		default:
			return err
		}
		if o.Kind == source.FromTree && !o.Confirmed && !opts.VersionGiven {
			return UsageError(fmt.Errorf("cannot tell which release %s is (%s); pass --version", opts.Source.Dir, o.Warning))
		}
		if o.Warning != "" {
			fmt.Fprintf(opts.IO.ErrOut, "pgwalk: warning: %s\n", o.Warning)
		}
		todo = append(todo, checked{v, o})
	}
	if len(todo) == 0 {
		return &ExitError{Code: ExitUsage, Err: noSourceError(opts, missing)}
	}

	var rows []verifyRow
	for _, c := range todo {
		fmt.Fprintf(opts.IO.ErrOut, "pgwalk: checking PostgreSQL %s against %s\n", c.v.Name, c.origin)
		notes := allLangNotes(set, c.v)
		if len(notes) == 0 {
			return fmt.Errorf("no notes for PostgreSQL %s", c.v.Name)
		}
		for _, n := range notes {
			for _, ref := range n.Refs {
				rows = append(rows, verifyRef(ctx, store, c.v, n, ref))
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
	}

	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NOTE\tFILE\tRANGE\tSTATUS")
	var failures []string
	unavailable := 0
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d-%d\t%s\n", r.note, r.ref.File, r.ref.First, r.ref.Last, r.status)
		if r.failure != "" {
			failures = append(failures, r.failure)
		}
		if r.unavailable {
			unavailable++
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, err := range missing {
		fmt.Fprintf(opts.IO.ErrOut, "pgwalk: skipped: %s\n", err)
	}
	switch {
	case len(failures) > 0:
		fmt.Fprintf(opts.IO.Out, "%d of %d cited ranges do not hold\n", len(failures), len(rows))
		noun := "ranges do"
		if len(failures) == 1 {
			noun = "range does"
		}
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d cited %s not match the source:\n  %s", len(failures), noun, strings.Join(failures, "\n  "))}
	case unavailable > 0:
		fmt.Fprintf(opts.IO.Out, "%d of %d cited ranges could not be read\n", unavailable, len(rows))
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%d cited files are missing from the source cache; run `pgwalk source fetch` again", unavailable)}
	}
	_, err = fmt.Fprintf(opts.IO.Out, "all %d cited ranges hold\n", len(rows))
	return err
}

// verifyRef checks one cited range of note n.
func verifyRef(ctx context.Context, store *source.Store, v walkthrough.Version, n *annotations.Note, ref annotations.Ref) verifyRow {
	row := verifyRow{note: n.Path, ref: ref}
	where := fmt.Sprintf("%s: %s lines %d-%d", n.Path, ref.File, ref.First, ref.Last)
	lines, _, err := store.File(ctx, v, ref.File)
	if err != nil {
		if errors.Is(err, source.ErrNoSource) {
			row.status, row.unavailable = "no source", true
			return row
		}
		var nf *source.FileNotFoundError
		if errors.As(err, &nf) {
			row.status = "file not found"
		} else {
			row.status = "error: " + err.Error()
		}
		row.failure = fmt.Sprintf("%s: %v", where, err)
		return row
	}
	r := source.Check(lines, ref)
	switch r.Status {
	case source.OK:
		row.status = "ok"
	case source.Mismatch:
		row.status = fmt.Sprintf("MISMATCH expected %s actual %s", ref.SHA256, r.Actual)
		row.failure = fmt.Sprintf("%s: expected sha256 %s, actual %s", where, ref.SHA256, r.Actual)
		if len(r.Missing) > 0 {
			row.failure += fmt.Sprintf(" (and not in the range: %s)", strings.Join(r.Missing, ", "))
		}
	case source.MissingSymbols:
		row.status = "MISSING SYMBOLS " + strings.Join(r.Missing, ", ")
		row.failure = fmt.Sprintf("%s: hash %s matches, but not in the range: %s", where, r.Actual, strings.Join(r.Missing, ", "))
	case source.OutOfRange:
		row.status = fmt.Sprintf("OUT OF RANGE (%s has %d lines)", path.Base(ref.File), r.FileLines)
		row.failure = fmt.Sprintf("%s: out of range, the file has %d lines (expected sha256 %s)", where, r.FileLines, ref.SHA256)
	}
	return row
}

// noSourceError says that no release could be checked, and how to get the
// source. It matches source.ErrNoSource.
func noSourceError(opts *VerifyOptions, missing []error) error {
	if len(missing) == 1 {
		return missing[0]
	}
	in := ""
	if opts.Source.Dir != "" {
		in = " in " + opts.Source.Dir
	}
	var details strings.Builder
	for _, err := range missing {
		details.WriteString("\n  " + err.Error())
	}
	return fmt.Errorf("%w%s: pass --source DIR (a PostgreSQL source tree, or a git clone with the release tags) or run `pgwalk source fetch`%s", source.ErrNoSource, in, details.String())
}
