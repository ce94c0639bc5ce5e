package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/internal/render"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// ShowOptions are the settings of `pgwalk show`.
type ShowOptions struct {
	IO         *iostreams.IOStreams
	Factory    *Factory
	Phase      walkthrough.Phase
	Version    walkthrough.Version
	Style      string
	Width      int
	Lang       string
	NotesDir   string
	SourceDir  string
	SourceView string
}

// NewCmdShow returns `pgwalk show`.
func NewCmdShow(f *Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IO, Factory: f}
	var versionName string
	cmd := &cobra.Command{
		Use:   "show PHASE --version V",
		Short: "Render one phase's note",
		Long: strings.TrimSpace(`
Render the note of one phase for one release: what the code does and why, the
cited line ranges with permalinks, what changed from the release before, and
what to look at in a run. PHASE is a phase name or its number (1-5):

  ` + strings.Join(walkthrough.PhaseIDs(), ", ")),
		Example: strings.Trim(`
  pgwalk show fork --version 16.4
  pgwalk show 4 --version 17.1 --style light
  pgwalk show fork-failure --version 17.1 | less -R`, "\n"),
		ValidArgsFunction: completePhases,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &FlagError{Err: catalog.Errorf(catalog.DefaultLang, "usage.show_one_phase", "phases", strings.Join(walkthrough.PhaseIDs(), ", "))}
			}
			p, err := walkthrough.LookupPhase(args[0])
			if err != nil || p.ID == walkthrough.Epilogue {
				return UsageError(err)
			}
			opts.Phase = p
			if opts.Version, err = lookupVersion(versionName); err != nil {
				return err
			}
			if err := validateOutputFlags("text", opts.Lang, opts.Style, opts.Width); err != nil {
				return err
			}
			if err := validateSourceView(opts.SourceView, opts.Lang); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runShow(opts)
		},
	}
	addVersionFlag(cmd, &versionName)
	addStyleFlags(cmd, &opts.Style, &opts.Width)
	addLangFlag(cmd, &opts.Lang)
	addNotesFlag(cmd, &opts.NotesDir, "read the notes from this directory instead of the built-in ones")
	addSourceFlags(cmd, &opts.SourceDir, &opts.SourceView)
	return cmd
}

func runShow(opts *ShowOptions) error {
	set, err := opts.Factory.loadNotesIn(opts.NotesDir, opts.Lang)
	if err != nil {
		return err
	}
	n, fell, err := set.Note(opts.Version.Name, opts.Phase.ID, opts.Lang)
	if err != nil {
		return err
	}
	r, err := newRendererIn(opts.IO, opts.Style, opts.Width, opts.Lang)
	if err != nil {
		return err
	}
	ctx := context.Background()
	var blocks string
	if opts.SourceView != "off" {
		// Checked before anything is printed: a --source that is no
		// PostgreSQL tree is a usage error.
		sv, err := newSourceView(ctx, opts.Factory, opts.SourceDir, opts.SourceView, opts.Version, r, opts.Lang)
		if err != nil {
			return err
		}
		if msg := sv.Summary(ctx, n.Refs); msg != "" {
			fmt.Fprintf(opts.IO.ErrOut, "pgwalk: %s\n", catalog.S(opts.Lang, "source.lines", "why", msg))
		}
		blocks = sv.Blocks(ctx, n)
	}
	md := render.NoteMarkdown(n, opts.Version)
	if fell {
		fmt.Fprintf(opts.IO.ErrOut, "pgwalk: %s\n", catalog.S(opts.Lang, "show.fell_back", "lang", opts.Lang, "phase", opts.Phase.ID))
	}
	// The questions, the exercise (its placeholders explained) and the terms.
	md += studyMarkdown(opts.Version, opts.Phase.ID, opts.Lang, nil)
	text, err := r.Document(md)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(opts.IO.Out, text+blocks)
	return err
}
