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
	"github.com/pgwalk/pgwalk/internal/catalog"
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
	en := catalog.DefaultLang
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
			return UsageError(catalog.Errorf(en, "verify.which_release", "dir", opts.Source.Dir, "warning", o.Warning))
		}
		if o.Warning != "" {
			fmt.Fprintf(opts.IO.ErrOut, "pgwalk: %s\n", catalog.S(en, "verify.warning", "warning", o.Warning))
		}
		todo = append(todo, checked{v, o})
	}
	if len(todo) == 0 {
		return &ExitError{Code: ExitUsage, Err: noSourceError(opts, missing)}
	}

	var rows []verifyRow
	for _, c := range todo {
		fmt.Fprintf(opts.IO.ErrOut, "pgwalk: %s\n", catalog.S(en, "verify.checking", "version", c.v.Name, "origin", c.origin))
		notes := allLangNotes(set, c.v)
		if len(notes) == 0 {
			return catalog.Errorf(en, "verify.no_notes", "version", c.v.Name)
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
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", catalog.S(en, "column.note"), catalog.S(en, "column.file"), catalog.S(en, "column.range"), catalog.S(en, "column.status"))
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
		fmt.Fprintf(opts.IO.ErrOut, "pgwalk: %s\n", catalog.S(en, "verify.skipped", "error", err))
	}
	switch {
	case len(failures) > 0:
		fmt.Fprintln(opts.IO.Out, catalog.S(en, "verify.failed_count", "n", len(failures), "total", len(rows)))
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s\n  %s", catalog.S(en, "verify.failed", "n", len(failures)), strings.Join(failures, "\n  "))}
	case unavailable > 0:
		fmt.Fprintln(opts.IO.Out, catalog.S(en, "verify.unreadable_count", "n", unavailable, "total", len(rows)))
		return &ExitError{Code: ExitUsage, Err: catalog.Errorf(en, "verify.missing_files", "n", unavailable)}
	}
	_, err = fmt.Fprintln(opts.IO.Out, catalog.S(en, "verify.all_hold", "n", len(rows)))
	return err
}

// verifyRef checks one cited range of note n.
func verifyRef(ctx context.Context, store *source.Store, v walkthrough.Version, n *annotations.Note, ref annotations.Ref) verifyRow {
	en := catalog.DefaultLang
	row := verifyRow{note: n.Path, ref: ref}
	where := catalog.S(en, "verify.where", "note", n.Path, "file", ref.File, "first", ref.First, "last", ref.Last)
	lines, _, err := store.File(ctx, v, ref.File)
	if err != nil {
		if errors.Is(err, source.ErrNoSource) {
			row.status, row.unavailable = catalog.S(en, "verify.status.no_source"), true
			return row
		}
		var nf *source.FileNotFoundError
		if errors.As(err, &nf) {
			row.status = catalog.S(en, "verify.status.not_found")
		} else {
			row.status = catalog.S(en, "verify.status.error", "error", err)
		}
		row.failure = fmt.Sprintf("%s: %v", where, err)
		return row
	}
	r := source.Check(lines, ref)
	switch r.Status {
	case source.OK:
		row.status = catalog.S(en, "verify.status.ok")
	case source.Mismatch:
		row.status = catalog.S(en, "verify.status.mismatch", "want", ref.SHA256, "actual", r.Actual)
		if len(r.Missing) > 0 {
			row.failure = catalog.S(en, "verify.mismatch_missing", "where", where, "want", ref.SHA256, "actual", r.Actual, "symbols", strings.Join(r.Missing, ", "))
		} else {
			row.failure = catalog.S(en, "verify.mismatch", "where", where, "want", ref.SHA256, "actual", r.Actual)
		}
	case source.MissingSymbols:
		row.status = catalog.S(en, "verify.status.missing_symbols", "symbols", strings.Join(r.Missing, ", "))
		row.failure = catalog.S(en, "verify.missing_symbols", "where", where, "actual", r.Actual, "symbols", strings.Join(r.Missing, ", "))
	case source.OutOfRange:
		row.status = catalog.S(en, "verify.status.out_of_range", "file", path.Base(ref.File), "lines", r.FileLines)
		row.failure = catalog.S(en, "verify.out_of_range", "where", where, "lines", r.FileLines, "want", ref.SHA256)
	}
	return row
}

// noSourceError says that no release could be checked, and how to get the
// source. It matches source.ErrNoSource.
func noSourceError(opts *VerifyOptions, missing []error) error {
	if len(missing) == 1 {
		return missing[0]
	}
	en := catalog.DefaultLang
	in := ""
	if opts.Source.Dir != "" {
		in = catalog.S(en, "verify.in_dir", "dir", opts.Source.Dir)
	}
	var details strings.Builder
	for _, err := range missing {
		details.WriteString("\n  " + err.Error())
	}
	return fmt.Errorf("%w%s: %s%s", source.ErrNoSource, in, catalog.S(en, "verify.get_source"), details.String())
}
