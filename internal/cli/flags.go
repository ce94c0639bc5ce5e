package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/render"
)

// langNames lists the values of --lang: the languages of the notes.
var langNames = []string{"en", "ko"}

// addStyleFlags adds --style and --width, with completion, to cmd.
func addStyleFlags(cmd *cobra.Command, style *string, width *int) {
	cmd.Flags().StringVar(style, "style", "auto", "rendering style: "+strings.Join(render.Styles, ", "))
	cmd.Flags().IntVar(width, "width", 0, "wrap at this many columns (default: the terminal's, at most 120)")
	_ = cmd.RegisterFlagCompletionFunc("style", cobra.FixedCompletions(render.Styles, cobra.ShellCompDirectiveNoFileComp))
}

// addLangFlag adds --lang, with completion, to cmd.
func addLangFlag(cmd *cobra.Command, lang *string) {
	cmd.Flags().StringVar(lang, "lang", annotations.DefaultLang, "language of the notes: "+strings.Join(langNames, " or "))
	_ = cmd.RegisterFlagCompletionFunc("lang", cobra.FixedCompletions(langNames, cobra.ShellCompDirectiveNoFileComp))
}

// addNotesFlag adds --notes to cmd; usage says what cmd does with them.
func addNotesFlag(cmd *cobra.Command, dir *string, usage string) {
	cmd.Flags().StringVar(dir, "notes", "", usage+" (a directory laid out as <lang>/<version>/<phase>.md)")
	_ = cmd.MarkFlagDirname("notes")
}

// validateLang checks a --lang value.
func validateLang(lang string) error {
	if !slices.Contains(langNames, lang) {
		return UsageError(fmt.Errorf("unknown language %q (languages: %s)", lang, strings.Join(langNames, ", ")))
	}
	return nil
}
