package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/export"
	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/internal/source"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// ExportOptions are the settings of `pgwalk export`.
type ExportOptions struct {
	IO      *iostreams.IOStreams
	Factory *Factory
	Version walkthrough.Version
	// Format is one of export.Formats.
	Format string
	// EventsFile holds the JSON lines of `pgwalk run --output json`; "-"
	// reads them from stdin.
	EventsFile string
	Lang       string
	// OutFile is where the document goes; "" or "-" is stdout.
	OutFile  string
	NotesDir string
	// SourceLines puts the cited lines into the document, each range
	// only when its SHA-256 is the note's.
	SourceLines bool
	// SourceDir is --source: a PostgreSQL tree or git clone to read the
	// lines from; "" reads the cache of `pgwalk source fetch`. Setting it
	// sets SourceLines.
	SourceDir string
}

// NewCmdExport returns `pgwalk export`. runF replaces the work in tests.
func NewCmdExport(f *Factory, runF func(*ExportOptions) error) *cobra.Command {
	opts := &ExportOptions{IO: f.IO, Factory: f}
	var versionName string
	cmd := &cobra.Command{
		Use:   "export --version V --format md|html|slides|codetour",
		Short: "Write a handout, an HTML page, slides or a VS Code CodeTour of the notes",
		Long: strings.TrimSpace(`
Write every phase's note of one release as a document to share:

  md        a Markdown handout: every note in phase order, with its cited
            ranges and their permalinks.
  html      the same as one self-contained HTML page (inline CSS, no script,
            no external asset), in large type for a projector and with a
            print stylesheet.
  slides    one self-contained HTML page of slides, one phase per slide:
            the note's opening and what the code does, the cited ranges,
            the run's values, the questions and the exercise. Large type;
            arrow keys, Space, PageUp/PageDown, Home and End move between
            slides (a few lines of inline script); printed, every slide
            starts a landscape page.
  codetour  a VS Code CodeTour (.tour) file with one step per cited range.
            Put it in .tours/ of a PostgreSQL checkout (or open it with
            "CodeTour: Open Tour File..."); its ref is the release tag, so
            each step lands on the cited lines of that release.

With --events FILE (the output of pgwalk run --output json, "-" for stdin)
the document also shows the values observed in that run under each phase:
hand out the page of the very run the class just watched. Each phase ends
with its questions and its exercise ("try this"), filled with the values of
that run; md and html end with the glossary.

With --source-lines, the cited lines themselves go into md, html and slides,
read from --source DIR (a PostgreSQL tree or git clone; it implies
--source-lines) or from the cache that 'pgwalk source fetch' fills. A range
is shown only when its SHA-256 is the note's; otherwise the document says
why in its place and keeps the permalink. With no source for the release at
all, export fails (exit 1) and says how to get one: a handout does not
silently lack the lines it was asked for.

The document goes to stdout, or to the file named by --out.`),
		Example: strings.Trim(`
  pgwalk export --version 16.4 --format md > backendstartup-16.4.md
  pgwalk run --version 16.4 --output json > run.jsonl
  pgwalk export --version 16.4 --format html --events run.jsonl --out handout.html
  pgwalk export --version 17.1 --format html --lang ko --out handout-ko.html
  pgwalk export --version 16.4 --format slides --events run.jsonl --out slides.html
  pgwalk export --version 16.4 --format md --source ~/src/postgres > handout.md
  pgwalk export --version 16.4 --format codetour --out postgres/.tours/backendstartup.tour`, "\n"),
		Args: requireNoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := lookupVersion(versionName)
			if err != nil {
				return err
			}
			opts.Version = v
			if !slices.Contains(export.Formats, opts.Format) {
				return UsageError(fmt.Errorf("unknown export format %q (formats: %s)", opts.Format, strings.Join(export.Formats, ", ")))
			}
			if err := validateLang(opts.Lang); err != nil {
				return err
			}
			if opts.SourceDir != "" {
				opts.SourceLines = true
			}
			if opts.SourceLines && opts.Format == "codetour" {
				return UsageError(errors.New("--source-lines: a CodeTour opens the lines in the checkout itself; use it with md, html or slides"))
			}
			if runF != nil {
				return runF(opts)
			}
			return runExport(opts)
		},
	}
	addVersionFlag(cmd, &versionName)
	fl := cmd.Flags()
	fl.StringVar(&opts.Format, "format", "md", "document format: "+strings.Join(export.Formats, ", "))
	fl.StringVar(&opts.EventsFile, "events", "", "JSON lines of pgwalk run --output json, to show the values of that run (- for stdin)")
	addLangFlag(cmd, &opts.Lang)
	fl.StringVar(&opts.OutFile, "out", "", "write the document to this file instead of stdout")
	addNotesFlag(cmd, &opts.NotesDir, "read the notes from this directory instead of the built-in ones")
	fl.BoolVar(&opts.SourceLines, "source-lines", false, "put the cited lines into the document, hash-checked (from --source or the source cache)")
	fl.StringVar(&opts.SourceDir, "source", "", "PostgreSQL source tree or git clone to read the cited lines from (implies --source-lines)")
	_ = cmd.MarkFlagDirname("source")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(export.Formats, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagFilename("events", "json", "jsonl")
	return cmd
}

func runExport(opts *ExportOptions) error {
	notes, err := opts.Factory.loadNotes(opts.NotesDir)
	if err != nil {
		return err
	}
	in := export.Input{Version: opts.Version, Lang: opts.Lang, Notes: notes}
	if opts.Format != "codetour" {
		if in.Study, err = annotations.DefaultStudy(); err != nil {
			return fmt.Errorf("loading the study material: %w", err)
		}
		if in.Glossary, err = annotations.DefaultGlossary(); err != nil {
			return fmt.Errorf("loading the glossary: %w", err)
		}
	}
	if opts.SourceLines {
		if in.Source, err = exportSource(opts, notes); err != nil {
			return err
		}
	}
	if opts.EventsFile != "" {
		if in.Events, err = readEventsFile(opts); err != nil {
			return err
		}
	}
	var missing []string
	for _, p := range walkthrough.Phases() {
		if _, fell, err := notes.Note(opts.Version.Name, p.ID, opts.Lang); err == nil && fell {
			missing = append(missing, string(p.ID))
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "pgwalk: no %q note for %s yet; using the English one\n", opts.Lang, strings.Join(missing, ", "))
	}
	var doc []byte
	switch opts.Format {
	case "md":
		var s string
		s, err = export.Markdown(in)
		doc = []byte(s)
	case "html":
		doc, err = export.HTML(in)
	case "slides":
		doc, err = export.Slides(in)
	case "codetour":
		doc, err = export.CodeTour(in)
	}
	if err != nil {
		var vm *export.VersionMismatchError
		if errors.As(err, &vm) {
			return UsageError(err)
		}
		return err
	}
	if opts.OutFile == "" || opts.OutFile == "-" {
		_, err := opts.IO.Out.Write(doc)
		return err
	}
	if err := os.WriteFile(opts.OutFile, doc, 0o644); err != nil {
		return fmt.Errorf("writing the %s export: %w", opts.Format, err)
	}
	fmt.Fprintf(opts.IO.ErrOut, "pgwalk: wrote %s (%s, PostgreSQL %s, %d bytes)\n", opts.OutFile, opts.Format, opts.Version.Name, len(doc))
	return nil
}

// readEventsFile reads the events of --events, from stdin for "-".
func readEventsFile(opts *ExportOptions) ([]walkthrough.Event, error) {
	if opts.EventsFile == "-" {
		evs, err := export.ReadEvents(opts.IO.In)
		if err != nil {
			return nil, UsageError(fmt.Errorf("--events -: %w", err))
		}
		return evs, nil
	}
	f, err := os.Open(opts.EventsFile)
	if err != nil {
		return nil, UsageError(fmt.Errorf("--events: %w", err))
	}
	defer f.Close()
	evs, err := export.ReadEvents(f)
	if err != nil {
		return nil, UsageError(fmt.Errorf("--events %s: %w", opts.EventsFile, err))
	}
	return evs, nil
}

// exportSource opens the source of the export's release and returns the
// function that gives each cited range's lines, hash-checked. It reports
// on ErrOut how many ranges cannot be shown. With no source at all it
// fails, saying how to get one.
func exportSource(opts *ExportOptions, notes *annotations.Set) (func(annotations.Ref) export.CitedLines, error) {
	ctx := context.Background()
	src, err := openCheckedSource(ctx, opts.Factory, opts.SourceDir, opts.Version)
	if err != nil {
		if errors.Is(err, source.ErrNoSource) {
			return nil, fmt.Errorf("--source-lines: %w", err)
		}
		return nil, err
	}
	if w := src.Warning(); w != "" {
		fmt.Fprintf(opts.IO.ErrOut, "pgwalk: %s\n", w)
	}
	lines := func(ref annotations.Ref) export.CitedLines {
		file, why := src.Lines(ctx, ref, "the note's")
		if why != "" {
			return export.CitedLines{Why: why}
		}
		return export.CitedLines{Lines: source.Range(file, ref, 0).Lines}
	}
	failed, total := 0, 0
	for _, p := range walkthrough.Phases() {
		n, _, err := notes.Note(opts.Version.Name, p.ID, opts.Lang)
		if err != nil {
			continue
		}
		for _, ref := range n.Refs {
			total++
			if cl := lines(ref); cl.Why != "" {
				failed++
				if failed == 1 {
					fmt.Fprintf(opts.IO.ErrOut, "pgwalk: source lines: %s: %s\n", ref, cl.Why)
				}
			}
		}
	}
	if failed > 1 {
		fmt.Fprintf(opts.IO.ErrOut, "pgwalk: source lines: %d of %d cited ranges are not shown; the document says why in their place\n", failed, total)
	}
	return lines, nil
}
