package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/internal/source"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// sourceOptions returns the options every command starts from when it reads
// PostgreSQL's source: the defaults (user cache dir, GitHub's raw files).
// Commands set Dir from their --source flag.
func (f *Factory) sourceOptions() source.Options {
	return source.Options{}
}

// SourceFetchOptions are the settings of `pgwalk source fetch`.
type SourceFetchOptions struct {
	IO      *iostreams.IOStreams
	Factory *Factory
	// Ctx bounds the downloads; nil means context.Background().
	Ctx      context.Context
	Versions []walkthrough.Version
	NotesDir string
	// Source holds the cache directory, the base URL and the timeout.
	Source source.Options
}

// SourcePathOptions are the settings of `pgwalk source path`.
type SourcePathOptions struct {
	IO *iostreams.IOStreams
	// Version, when set, asks for that release's directory.
	Version *walkthrough.Version
	Source  source.Options
}

// NewCmdSource returns `pgwalk source` and its subcommands.
func NewCmdSource(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "source <command>",
		Short: "Get PostgreSQL's source lines that the notes cite",
		Long: strings.TrimSpace(`
pgwalk never ships PostgreSQL's source. To show the cited lines next to the
notes, and to verify them, it reads them from --source DIR (a PostgreSQL tree
or git clone) or from a per-release cache in your user cache directory.

'pgwalk source fetch' fills that cache: it downloads each file the notes cite,
at the release tag, from PostgreSQL's repository on GitHub, and keeps it only
if every cited range's SHA-256 matches the notes.`),
		Example: strings.TrimSpace(`
  pgwalk source fetch --version 16.4
  pgwalk source path`),
	}
	cmd.AddCommand(NewCmdSourceFetch(f, nil), NewCmdSourcePath(f, nil))
	return cmd
}

// NewCmdSourceFetch returns `pgwalk source fetch`.
func NewCmdSourceFetch(f *Factory, runF func(*SourceFetchOptions) error) *cobra.Command {
	opts := &SourceFetchOptions{IO: f.IO, Factory: f, Source: f.sourceOptions()}
	var versionName string
	cmd := &cobra.Command{
		Use:   "fetch [--version V]",
		Short: "Download the cited PostgreSQL files into the cache",
		Long: strings.TrimSpace(`
Download every file that the notes of a release cite, at the release's git tag,
from PostgreSQL's repository on GitHub (raw.githubusercontent.com), check every
cited range against the SHA-256 in the notes, and only then keep the files in
the cache (see 'pgwalk source path'). A file that does not match is refused and
nothing is cached. Without --version, every release is fetched.`),
		Example: strings.TrimSpace(`
  pgwalk source fetch --version 17.1
  pgwalk source fetch --timeout 2m`),
		Args: requireNoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			if versionName != "" {
				v, err := lookupVersion(versionName)
				if err != nil {
					return err
				}
				opts.Versions = []walkthrough.Version{v}
			} else {
				opts.Versions = walkthrough.Versions()
			}
			if opts.Source.Timeout < 0 {
				return UsageError(catalog.Errorf(catalog.DefaultLang, "usage.timeout_negative", "timeout", opts.Source.Timeout))
			}
			if runF != nil {
				return runF(opts)
			}
			return runSourceFetch(opts)
		},
	}
	addVersionFlag(cmd, &versionName)
	fl := cmd.Flags()
	addNotesFlag(cmd, &opts.NotesDir, "fetch the files that the notes of this directory cite")
	if opts.Source.Timeout == 0 {
		opts.Source.Timeout = source.DefaultTimeout
	}
	if opts.Source.BaseURL == "" {
		opts.Source.BaseURL = source.DefaultBaseURL
	}
	fl.DurationVar(&opts.Source.Timeout, "timeout", opts.Source.Timeout, "give up after this long")
	fl.StringVar(&opts.Source.BaseURL, "base-url", opts.Source.BaseURL, "download <base-url>/<tag>/<path> (a mirror of PostgreSQL's repository)")
	return cmd
}

func runSourceFetch(opts *SourceFetchOptions) error {
	ctx := opts.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	set, err := opts.Factory.loadNotes(opts.NotesDir)
	if err != nil {
		return err
	}
	store := source.Open(opts.Source)
	for _, v := range opts.Versions {
		notes := allLangNotes(set, v)
		files := citedFiles(notes)
		fmt.Fprintf(opts.IO.ErrOut, "pgwalk: %s\n", catalog.S(catalog.DefaultLang, "source.fetching", "n", len(files), "version", v.Name, "tag", v.Tag, "url", store.Options().BaseURL))
		start := time.Now()
		if err := store.Fetch(ctx, v, notes); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.ErrOut, "pgwalk: %s\n", catalog.S(catalog.DefaultLang, "source.fetched", "duration", time.Since(start).Round(time.Millisecond)))
		fmt.Fprintf(opts.IO.Out, "PostgreSQL %s: %s (%s)\n", v.Name, store.CacheDir(v), strings.Join(files, ", "))
	}
	return nil
}

// NewCmdSourcePath returns `pgwalk source path`.
func NewCmdSourcePath(f *Factory, runF func(*SourcePathOptions) error) *cobra.Command {
	opts := &SourcePathOptions{IO: f.IO, Source: f.sourceOptions()}
	var versionName string
	cmd := &cobra.Command{
		Use:   "path [--version V]",
		Short: "Print the source cache directory",
		Long:  "Print the directory where 'pgwalk source fetch' keeps PostgreSQL's files: one subdirectory per release tag. With --version, print that release's directory.",
		Example: strings.TrimSpace(`
  pgwalk source path
  ls -R "$(pgwalk source path --version 16.4)"`),
		Args: requireNoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if versionName != "" {
				v, err := lookupVersion(versionName)
				if err != nil {
					return err
				}
				opts.Version = &v
			}
			if runF != nil {
				return runF(opts)
			}
			return runSourcePath(opts)
		},
	}
	addVersionFlag(cmd, &versionName)
	return cmd
}

func runSourcePath(opts *SourcePathOptions) error {
	store := source.Open(opts.Source)
	dir := store.Options().CacheDir
	if opts.Version != nil {
		dir = store.CacheDir(*opts.Version)
	}
	if dir == "" {
		return catalog.Errorf(catalog.DefaultLang, "source.no_cache_dir")
	}
	_, err := fmt.Fprintln(opts.IO.Out, dir)
	return err
}

// allLangNotes returns every note of v, in every language.
func allLangNotes(set *annotations.Set, v walkthrough.Version) []*annotations.Note {
	var notes []*annotations.Note
	for _, lang := range set.Langs() {
		notes = append(notes, set.Notes(v.Name, lang)...)
	}
	return notes
}

// citedFiles returns the files that notes cite, sorted, each once.
func citedFiles(notes []*annotations.Note) []string {
	seen := map[string]bool{}
	var files []string
	for _, n := range notes {
		for _, r := range n.Refs {
			if !seen[r.File] {
				seen[r.File] = true
				files = append(files, r.File)
			}
		}
	}
	sort.Strings(files)
	return files
}
