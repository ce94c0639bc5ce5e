package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/iostreams"
)

// GlossaryOptions are the settings of `pgwalk glossary`.
type GlossaryOptions struct {
	IO *iostreams.IOStreams
	// Term is what the reader asked for; "" lists every term.
	Term string
	// All shows every entry in full.
	All bool
	// Release, when set, keeps only the cited ranges of that release.
	Release string
	Lang    string
	Style   string
	Width   int
}

// NewCmdGlossary returns `pgwalk glossary`.
func NewCmdGlossary(f *Factory, runF func(*GlossaryOptions) error) *cobra.Command {
	opts := &GlossaryOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "glossary [TERM]",
		Short: "Explain the terms the notes rely on",
		Long: strings.TrimSpace(`
Explain a term the notes rely on: the postmaster, a backend, the child slot
(PMChildSlot), a dead-end child, EXEC_BACKEND, BackendKeyData, the cancel key,
the death pipe and the others. Each entry says where 16.4, 17.1 and 18.4
differ and cites the lines that show it.

TERM may be the term's name in any language, its id, or a name from the code
(MyPMChildSlot, BackendList, CAC_TOOMANY, ...); case, blanks, '-' and '_' do
not matter. Without TERM, pgwalk lists every term with its first sentence;
--all prints every entry in full.`),
		Example: strings.Trim(`
  pgwalk glossary
  pgwalk glossary PMChildSlot
  pgwalk glossary "dead-end child" --version 18.4
  pgwalk glossary death-pipe --lang ko
  pgwalk glossary --all | less -R`, "\n"),
		ValidArgsFunction: completeTerms,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &FlagError{Err: fmt.Errorf("glossary takes one term, got %d arguments (quote a term of several words)", len(args))}
			}
			if len(args) == 1 {
				opts.Term = args[0]
				if opts.All {
					return &FlagError{Err: errors.New("--all lists every term: give no TERM with it")}
				}
			}
			if opts.Release != "" && !slices.Contains(manifestNames(), opts.Release) {
				return UsageError(fmt.Errorf("unknown version %q (the glossary cites: %s)", opts.Release, strings.Join(manifestNames(), ", ")))
			}
			if err := validateOutputFlags("text", opts.Lang, opts.Style, opts.Width); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runGlossary(opts)
		},
	}
	addStyleFlags(cmd, &opts.Style, &opts.Width)
	addLangFlag(cmd, &opts.Lang)
	cmd.Flags().BoolVar(&opts.All, "all", false, "print every entry in full")
	cmd.Flags().StringVar(&opts.Release, "version", "", "cite only the lines of this release: "+strings.Join(manifestNames(), ", "))
	_ = cmd.RegisterFlagCompletionFunc("version", cobra.FixedCompletions(manifestNames(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runGlossary(opts *GlossaryOptions) error {
	g, err := annotations.DefaultGlossary()
	if err != nil {
		return fmt.Errorf("loading the glossary: %w", err)
	}
	var md string
	eo := annotations.EntryOptions{Level: 1, Release: opts.Release}
	switch {
	case opts.Term != "":
		e, err := g.Lookup(opts.Term, opts.Lang)
		if err != nil {
			return UsageError(err)
		}
		md = g.EntryMarkdown(e, eo)
	case opts.All:
		var b strings.Builder
		for _, e := range g.Entries(opts.Lang) {
			b.WriteString(g.EntryMarkdown(e, eo))
		}
		md = b.String()
	default:
		md = glossaryIndex(g, opts.Lang)
	}
	r, err := newRenderer(opts.IO, opts.Style, opts.Width)
	if err != nil {
		return err
	}
	text, err := r.Document(md)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(opts.IO.Out, text)
	return err
}

// glossaryIndexWords are the index's fixed texts, by language.
var glossaryIndexWords = map[string][2]string{
	"en": {"Glossary", "`pgwalk glossary TERM` shows one entry; `pgwalk glossary --all` shows them all."},
	"ko": {"용어집", "`pgwalk glossary 용어`로 한 항목을, `pgwalk glossary --all`로 전체를 볼 수 있습니다."},
}

// glossaryIndex lists every term with the first sentence of its text.
func glossaryIndex(g *annotations.Glossary, lang string) string {
	w, ok := glossaryIndexWords[lang]
	if !ok {
		w = glossaryIndexWords[annotations.DefaultLang]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", w[0])
	for _, e := range g.Entries(lang) {
		id := " (`" + e.ID + "`)"
		if strings.EqualFold(e.TermText.Term, e.ID) {
			id = ""
		}
		fmt.Fprintf(&b, "- %s%s: %s\n", e.TermText.Term, id, e.Gist())
	}
	fmt.Fprintf(&b, "\n%s\n", w[1])
	return b.String()
}

// completeTerms completes TERM with the glossary's ids.
func completeTerms(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	g, err := annotations.DefaultGlossary()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []string
	for _, e := range g.Entries(annotations.DefaultLang) {
		out = append(out, e.ID+"\t"+e.TermText.Term)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// manifestNames returns the names of every release the glossary may cite:
// the embedded manifests, offered or not yet.
func manifestNames() []string {
	rels, err := annotations.Manifests()
	if err != nil {
		return nil
	}
	out := make([]string, len(rels))
	for i, r := range rels {
		out[i] = r.Version.Name
	}
	return out
}
