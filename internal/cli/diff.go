package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/internal/render"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// DiffOptions are the settings of `pgwalk diff`.
type DiffOptions struct {
	IO      *iostreams.IOStreams
	Factory *Factory
	From    walkthrough.Version
	To      walkthrough.Version
	// Pair names the comparison texts of From and To.
	Pair annotations.Pair
	// Phases are the phases to compare; all of them when empty.
	Phases []walkthrough.Phase
	Output string
	Lang   string
	Style  string
	Width  int
}

// NewCmdDiff returns `pgwalk diff`. runF replaces the work in tests.
func NewCmdDiff(f *Factory, runF func(*DiffOptions) error) *cobra.Command {
	opts := &DiffOptions{IO: f.IO, Factory: f}
	var fromName, toName string
	fromName, toName = defaultDiffPair()
	cmd := &cobra.Command{
		Use:   "diff [PHASE] [--from V] [--to V]",
		Short: "Show where each phase lives in two releases, and what changed",
		Long: strings.TrimSpace(`
Compare BackendStartup across two releases, phase by phase: where each phase
lives in each version (file:lines, with permalinks at the release tags), what
changed between them and why it matters. Without PHASE every phase is shown,
in order. PHASE is a phase name or its number (1-5):

  ` + strings.Join(walkthrough.PhaseIDs(), ", ") + `

Without --from and --to the two newest releases are compared (` + defaultDiffPairText() + `).
Any two releases that have a comparison text can be, in either order:
` + diffPairList() + `.

On a terminal the comparison is rendered with colour; piped it is plain text;
--output json prints an array of {phase, title, from, to, changes} objects,
where from and to hold the version, its tag and the cited ranges, and
changes is Markdown.`),
		Example: strings.Trim(`
  pgwalk diff
  pgwalk diff fork
  pgwalk diff 4 --lang ko
  pgwalk diff --from 17.1 --to 16.4 child
  pgwalk diff --output json | jq '.[].to.refs[].permalink'`, "\n"),
		ValidArgsFunction: completePhases,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &FlagError{Err: catalog.Errorf(msgLang(opts.Lang), "usage.diff_one_phase", "args", fmt.Sprintf("%q", args))}
			}
			opts.Phases = nil
			for _, a := range args {
				p, err := walkthrough.LookupPhase(a)
				if err != nil || p.ID == walkthrough.Epilogue {
					return UsageError(&walkthrough.UnknownPhaseError{Name: a})
				}
				opts.Phases = append(opts.Phases, p)
			}
			var err error
			if opts.From, err = lookupVersionFlag("--from", fromName); err != nil {
				return err
			}
			if opts.To, err = lookupVersionFlag("--to", toName); err != nil {
				return err
			}
			if opts.From.Name == opts.To.Name {
				return UsageError(catalog.Errorf(msgLang(opts.Lang), "usage.diff_same", "version", opts.From.Name, "versions", strings.Join(walkthrough.VersionNames(), ", ")))
			}
			if opts.Pair, err = annotations.LookupPair(opts.From.Name, opts.To.Name); err != nil {
				return UsageError(err)
			}
			if err := validateOutputFlags(opts.Output, opts.Lang, opts.Style, opts.Width); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runDiff(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&fromName, "from", fromName, "the version to compare from: "+strings.Join(walkthrough.VersionNames(), " or "))
	fl.StringVar(&toName, "to", toName, "the version to compare to: "+strings.Join(walkthrough.VersionNames(), " or "))
	fl.StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	addLangFlag(cmd, &opts.Lang)
	addStyleFlags(cmd, &opts.Style, &opts.Width)
	_ = cmd.RegisterFlagCompletionFunc("from", completeDiffVersions("to"))
	_ = cmd.RegisterFlagCompletionFunc("to", completeDiffVersions("from"))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// defaultDiffPair returns the releases diff compares when --from and --to
// are not given: the two newest, older first ("17.1", "18.4"). With a
// single release both are that release (and diff refuses the pair).
func defaultDiffPair() (from, to string) {
	versions := walkthrough.Versions()
	switch len(versions) {
	case 0:
		return "", ""
	case 1:
		return versions[0].Name, versions[0].Name
	}
	return versions[len(versions)-2].Name, versions[len(versions)-1].Name
}

// defaultDiffPairText says the default pair for the help: "17.1 → 18.4".
func defaultDiffPairText() string {
	from, to := defaultDiffPair()
	return from + " → " + to
}

// diffPairList lists the pairs of releases that have comparison texts.
func diffPairList() string {
	var parts []string
	for _, p := range annotations.DiffPairs() {
		parts = append(parts, p.From+" and "+p.To)
	}
	return "  " + strings.Join(parts, "; ")
}

// completeDiffVersions completes --from or --to with the releases that have
// a comparison text, with the value of the other flag when it is set.
func completeDiffVersions(other string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		with := ""
		if f := cmd.Flags().Lookup(other); f != nil && f.Changed {
			if v, err := walkthrough.LookupVersion(f.Value.String()); err == nil {
				with = v.Name
			}
		}
		paired := map[string]bool{}
		for _, p := range annotations.DiffPairs() {
			if with == "" || with == p.From {
				paired[p.To] = true
			}
			if with == "" || with == p.To {
				paired[p.From] = true
			}
		}
		var out []string
		for _, v := range walkthrough.Versions() {
			if paired[v.Name] {
				out = append(out, v.Name+"\tPostgreSQL "+v.Name+" ("+v.Tag+")")
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// lookupVersionFlag resolves the value of a version flag other than
// --version, as a usage error when it is empty or unsupported.
func lookupVersionFlag(flag, name string) (walkthrough.Version, error) {
	if name == "" {
		return walkthrough.Version{}, UsageError(catalog.Errorf(catalog.DefaultLang, "usage.version_flag", "flag", flag, "versions", strings.Join(walkthrough.VersionNames(), ", ")))
	}
	v, err := walkthrough.LookupVersion(name)
	if err != nil {
		return v, UsageError(fmt.Errorf("%s: %w", flag, err))
	}
	return v, nil
}

// DiffSide is one version's side of a phase in `pgwalk diff --output json`.
type DiffSide struct {
	Version string           `json:"version"`
	Tag     string           `json:"tag"`
	Refs    []render.JSONRef `json:"refs"`
}

// DiffPhase is one element of `pgwalk diff --output json`.
type DiffPhase struct {
	Phase walkthrough.PhaseID `json:"phase"`
	Title string              `json:"title"`
	From  DiffSide            `json:"from"`
	To    DiffSide            `json:"to"`
	// Changes is Markdown: what changed and why it matters.
	Changes string `json:"changes"`
}

func runDiff(opts *DiffOptions) error {
	set, err := opts.Factory.loadNotes("")
	if err != nil {
		return err
	}
	phases := opts.Phases
	if len(phases) == 0 {
		phases = walkthrough.Phases()
	}
	var rows []DiffPhase
	titles := map[walkthrough.PhaseID]string{}
	for _, p := range phases {
		row := DiffPhase{Phase: p.ID, Title: p.Title}
		for _, side := range []struct {
			v   walkthrough.Version
			out *DiffSide
		}{{opts.From, &row.From}, {opts.To, &row.To}} {
			n, _, err := set.Note(side.v.Name, p.ID, annotations.DefaultLang)
			if err != nil {
				return err
			}
			*side.out = DiffSide{Version: side.v.Name, Tag: side.v.Tag, Refs: jsonRefs(n, side.v)}
			if tn, fell, err := set.Note(side.v.Name, p.ID, opts.Lang); err == nil && !fell {
				titles[p.ID] = tn.Title
			}
		}
		if row.Changes, err = annotations.Diff(opts.Lang, opts.Pair, p.ID); err != nil {
			return err
		}
		if !annotations.HasDiff(opts.Lang, opts.Pair, p.ID) {
			fmt.Fprintf(opts.IO.ErrOut, "pgwalk: %s\n", catalog.S(opts.Lang, "diff.fell_back", "lang", opts.Lang, "phase", p.ID))
		}
		rows = append(rows, row)
	}
	out := opts.IO.Out
	if opts.Output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	r, err := newRenderer(opts.IO, opts.Style, opts.Width)
	if err != nil {
		return err
	}
	for i, row := range rows {
		if i > 0 {
			fmt.Fprintf(out, "\n%s\n\n", strings.Repeat("-", min(72, r.Width())))
		}
		title := row.Title
		if t, ok := titles[row.Phase]; ok && opts.Lang != annotations.DefaultLang {
			title = t
		}
		text, err := r.Document(diffMarkdown(row, title, opts.Lang))
		if err != nil {
			return err
		}
		if _, err := fmt.Fprint(out, text); err != nil {
			return err
		}
	}
	return nil
}

// jsonRefs returns n's cited ranges with their permalinks at v's tag.
func jsonRefs(n *annotations.Note, v walkthrough.Version) []render.JSONRef {
	refs := make([]render.JSONRef, 0, len(n.Refs))
	for _, r := range n.Refs {
		refs = append(refs, render.JSONRef{Ref: r, Permalink: v.Permalink(r.File, r.First, r.Last)})
	}
	return refs
}

// diffMarkdown returns the Markdown of one phase's comparison.
func diffMarkdown(row DiffPhase, title, lang string) string {
	p, _ := walkthrough.LookupPhase(string(row.Phase))
	head := catalog.S(lang, "diff.heading.branch", "title", title, "from", row.From.Version, "to", row.To.Version)
	if p.Number > 0 {
		head = catalog.S(lang, "diff.heading.phase", "n", p.Number, "total", walkthrough.MainPhaseCount, "title", title, "from", row.From.Version, "to", row.To.Version)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n## %s\n\n", head, catalog.S(lang, "diff.where"))
	for _, side := range []DiffSide{row.From, row.To} {
		fmt.Fprintf(&b, "### %s (%s)\n\n", side.Version, side.Tag)
		for _, r := range side.Refs {
			fmt.Fprintf(&b, "- [%s](%s)", r.Ref.String(), r.Permalink)
			if r.Label != "" && lang == annotations.DefaultLang {
				fmt.Fprintf(&b, " · %s", r.Label)
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	b.WriteString(strings.TrimSpace(row.Changes))
	b.WriteString("\n")
	return b.String()
}
