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
	"github.com/pgwalk/pgwalk/internal/render"
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
  pgwalk source function --version 16.4
  pgwalk source path`),
	}
	cmd.AddCommand(NewCmdSourceFetch(f, nil), NewCmdSourcePath(f, nil), NewCmdSourceFunction(f, nil))
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

// SourceFunctionOptions are the settings of `pgwalk source function`.
type SourceFunctionOptions struct {
	IO      *iostreams.IOStreams
	Factory *Factory
	// Ctx bounds reading the source; nil means context.Background().
	Ctx     context.Context
	Version walkthrough.Version
	// SourceDir is --source: a PostgreSQL tree or git clone; "" reads the
	// cache that `pgwalk source fetch` fills.
	SourceDir string
	NotesDir  string
	Lang      string
	Style     string
	Width     int
}

// NewCmdSourceFunction returns `pgwalk source function`.
func NewCmdSourceFunction(f *Factory, runF func(*SourceFunctionOptions) error) *cobra.Command {
	opts := &SourceFunctionOptions{IO: f.IO, Factory: f}
	var versionName string
	cmd := &cobra.Command{
		Use:   "function --version V",
		Short: "Print the whole of BackendStartup with each phase's lines marked",
		Long: strings.TrimSpace(`
Print the whole of BackendStartup of one release, from its header comment to
its closing brace, from the same source 'pgwalk show' reads: --source DIR (a
PostgreSQL tree or git clone at the release) or the cache that 'pgwalk source
fetch' fills. The margin marks each line a note cites with its phase: 1-5 for
the phases, f for the fork-failure branch, * for a line of more than one.
Ranges the notes cite outside the function are listed after it, with their
permalinks.

Nothing is shown that is not the release's text: the function's lines are
shown only when their SHA-256 is the one in the release's manifest, and a
cited range is marked only when its SHA-256 is the note's. When the function
does not match, pgwalk prints its permalink, says why in one line and exits 1.`),
		Example: strings.Trim(`
  pgwalk source fetch --version 16.4 && pgwalk source function --version 16.4
  pgwalk source function --version 17.1 --source ~/src/postgres
  pgwalk source function --version 16.4 --style notty | less`, "\n"),
		Args: requireNoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			v, err := lookupVersion(versionName)
			if err != nil {
				return err
			}
			opts.Version = v
			if err := validateOutputFlags("text", opts.Lang, opts.Style, opts.Width); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runSourceFunction(opts)
		},
	}
	addVersionFlag(cmd, &versionName)
	addStyleFlags(cmd, &opts.Style, &opts.Width)
	addLangFlag(cmd, &opts.Lang)
	addNotesFlag(cmd, &opts.NotesDir, "mark the ranges that the notes of this directory cite")
	cmd.Flags().StringVar(&opts.SourceDir, "source", "", "PostgreSQL source tree or git clone to read (default: the cache of pgwalk source fetch)")
	_ = cmd.MarkFlagDirname("source")
	return cmd
}

// functionWords are the fixed texts of the whole-function view, by language.
var functionWords = map[string]struct{ margin, outside, unmarked string }{
	"en": {"margin", "Also cited, outside %s:", "Cited but not marked:"},
	"ko": {"여백", "%s 밖에서 인용하는 범위:", "인용했지만 표시하지 않은 범위:"},
}

// phaseRange is a range one phase's note cites.
type phaseRange struct {
	Phase walkthrough.Phase
	Ref   annotations.Ref
}

// phaseMark is the margin's mark of a phase: its number, or f for the
// fork-failure branch.
func phaseMark(p walkthrough.Phase) string {
	if p.Number > 0 {
		return fmt.Sprint(p.Number)
	}
	return "f"
}

func runSourceFunction(opts *SourceFunctionOptions) error {
	ctx := opts.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	v := opts.Version
	rel := v.Release()
	if rel == nil || rel.Function == nil {
		return fmt.Errorf("the manifest of PostgreSQL %s gives no function range (function: in releases/%s/release.yaml)", v.Name, v.Name)
	}
	fn := annotations.Ref{File: rel.Function.File, First: rel.Function.First, Last: rel.Function.Last, SHA256: rel.Function.SHA256}
	name := rel.Facts.Startup.Function
	set, err := opts.Factory.loadNotes(opts.NotesDir)
	if err != nil {
		return err
	}
	words, ok := functionWords[opts.Lang]
	if !ok {
		words = functionWords[annotations.DefaultLang]
	}
	var ranges []phaseRange
	var legend []string
	for _, p := range walkthrough.Phases() {
		n, _, err := set.Note(v.Name, p.ID, annotations.DefaultLang)
		if err != nil {
			continue
		}
		title := p.Title
		if ln, fell, err := set.Note(v.Name, p.ID, opts.Lang); err == nil && !fell {
			title = ln.Title
		}
		legend = append(legend, phaseMark(p)+" "+title)
		for _, r := range n.Refs {
			ranges = append(ranges, phaseRange{Phase: p, Ref: r})
		}
	}

	r, err := newRenderer(opts.IO, opts.Style, opts.Width)
	if err != nil {
		return err
	}
	src, err := openCheckedSource(ctx, opts.Factory, opts.SourceDir, v)
	if err != nil {
		return err
	}
	out := opts.IO.Out
	fmt.Fprintf(out, "%s · PostgreSQL %s (%s) · %s:%d-%d\n", name, v.Name, v.Tag, fn.File, fn.First, fn.Last)
	if w := src.Warning(); w != "" {
		fmt.Fprintf(opts.IO.ErrOut, "pgwalk: %s\n", w)
	}
	lines, why := src.Lines(ctx, fn, "the manifest's")
	if why != "" {
		fmt.Fprintln(out, v.Permalink(fn.File, fn.First, fn.Last))
		return fmt.Errorf("%s: %s", fn, why)
	}
	var marked, outside []phaseRange
	var unmarked []string
	for _, pr := range ranges {
		ref := pr.Ref
		if ref.File != fn.File || ref.Last < fn.First || ref.First > fn.Last {
			outside = append(outside, pr)
			continue
		}
		if _, why := src.Lines(ctx, ref, "the note's"); why != "" {
			unmarked = append(unmarked, fmt.Sprintf("  %s %s: %s", phaseMark(pr.Phase), ref, why))
			continue
		}
		marked = append(marked, pr)
	}
	style := render.SourceStyle{
		Color:     r.Color(),
		TrueColor: opts.IO.Getenv != nil && opts.IO.Getenv("COLORTERM") == "truecolor",
		Width:     r.Width(),
		Theme:     render.SourceTheme(r.Style()),
		ASCII:     r.Style() == "ascii",
	}
	fmt.Fprintf(out, "%s: %s\n\n", words.margin, strings.Join(legend, " · "))
	fmt.Fprint(out, functionView(lines, fn, marked, style))
	fmt.Fprintf(out, "\n%s\n", v.Permalink(fn.File, fn.First, fn.Last))
	if len(outside) > 0 {
		fmt.Fprintf(out, "\n"+words.outside+"\n", name)
		for _, pr := range outside {
			line := fmt.Sprintf("  %s %s", phaseMark(pr.Phase), pr.Ref)
			if pr.Ref.Label != "" && opts.Lang == annotations.DefaultLang {
				line += " · " + pr.Ref.Label
			}
			fmt.Fprintf(out, "%s\n    %s\n", line, v.Permalink(pr.Ref.File, pr.Ref.First, pr.Ref.Last))
		}
	}
	if len(unmarked) > 0 {
		fmt.Fprintf(out, "\n%s\n%s\n", words.unmarked, strings.Join(unmarked, "\n"))
	}
	return nil
}

// functionView lays out lines fn.First..fn.Last of a file with a margin
// that marks each line of a range in marked with its phase (phaseMark), or
// with * when ranges of more than one phase hold it.
func functionView(lines []string, fn annotations.Ref, marked []phaseRange, style render.SourceStyle) string {
	first, last := max(fn.First, 1), min(fn.Last, len(lines))
	if first > last {
		return ""
	}
	marks := make([]string, last-first+1)
	snip := source.Snippet{File: fn.File, First: fn.First, Last: fn.Last, Total: len(lines)}
	for n := first; n <= last; n++ {
		mark := " "
		for _, pr := range marked {
			if n < pr.Ref.First || n > pr.Ref.Last {
				continue
			}
			switch m := phaseMark(pr.Phase); mark {
			case " ", m:
				mark = m
			default:
				mark = "*"
			}
		}
		marks[n-first] = mark
		snip.Lines = append(snip.Lines, source.Line{Number: n, Text: lines[n-1], Cited: mark != " "})
	}
	style.NoHeader = true
	if style.Width > 0 {
		style.Width--
	}
	body := strings.Split(strings.TrimSuffix(render.Source(snip, style), "\n"), "\n")
	var b strings.Builder
	for i, l := range body {
		mark := " "
		if i < len(marks) {
			mark = marks[i]
		}
		if style.Color && mark != " " {
			mark = "\x1b[1;33m" + mark + "\x1b[0m"
		}
		b.WriteString(mark + l + "\n")
	}
	return b.String()
}
