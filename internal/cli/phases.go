package cli

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// PhasesOptions are the settings of `pgwalk phases`.
type PhasesOptions struct {
	Factory  *Factory
	Version  walkthrough.Version
	Output   string
	NotesDir string
}

// NewCmdPhases returns `pgwalk phases`.
func NewCmdPhases(f *Factory, runF func(*PhasesOptions) error) *cobra.Command {
	opts := &PhasesOptions{Factory: f}
	var versionName string
	cmd := &cobra.Command{
		Use:   "phases --version V",
		Short: "List the phases of BackendStartup and the source lines each one cites",
		Long: strings.TrimSpace(`
List the phases of BackendStartup in the order they run, with the file:line
ranges of the release that each phase's note cites. The fork-failure branch
is listed last: it replaces phases 4 and 5 when the fork fails.`),
		Example: strings.Trim(`
  pgwalk phases --version 16.4
  pgwalk phases --version 17.1 --output json`, "\n"),
		Args: requireNoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := lookupVersion(versionName)
			if err != nil {
				return err
			}
			opts.Version = v
			if opts.Output != "text" && opts.Output != "json" {
				return UsageError(catalog.Errorf(catalog.DefaultLang, "usage.output", "format", opts.Output, "formats", strings.Join(outputFormats, ", ")))
			}
			if runF != nil {
				return runF(opts)
			}
			return runPhases(opts)
		},
	}
	addVersionFlag(cmd, &versionName)
	addOutputFlag(cmd, &opts.Output, "output format: text or json")
	addNotesFlag(cmd, &opts.NotesDir, "read the notes from this directory instead of the built-in ones")
	return cmd
}

// phaseRow is one line of `pgwalk phases --output json`.
type phaseRow struct {
	walkthrough.Phase
	Version string            `json:"version"`
	Refs    []annotations.Ref `json:"refs"`
}

func runPhases(opts *PhasesOptions) error {
	set, err := opts.Factory.loadNotes(opts.NotesDir)
	if err != nil {
		return err
	}
	out := opts.Factory.IO.Out
	var rows []phaseRow
	for _, p := range walkthrough.Phases() {
		n, _, err := set.Note(opts.Version.Name, p.ID, annotations.DefaultLang)
		if err != nil {
			return err
		}
		rows = append(rows, phaseRow{Phase: p, Version: opts.Version.Name, Refs: n.Refs})
	}
	if opts.Output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	en := catalog.DefaultLang
	fmt.Fprintf(out, "%s\n\n", catalog.S(en, "phases.title", "version", opts.Version.Name, "tag", opts.Version.Tag))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "#\t%s\t%s\t%s\n", catalog.S(en, "column.phase"), catalog.S(en, "column.title"), catalog.S(en, "column.source"))
	for _, r := range rows {
		num := fmt.Sprint(r.Number)
		if r.Number == 0 {
			num = "-"
		}
		var refs []string
		for _, ref := range r.Refs {
			refs = append(refs, fmt.Sprintf("%s:%d-%d", path.Base(ref.File), ref.First, ref.Last))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", num, r.ID, r.Title, strings.Join(refs, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%s\n", catalog.S(en, "phases.footer", "version", opts.Version.Name))
	return nil
}
