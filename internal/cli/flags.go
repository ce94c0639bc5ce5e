package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/internal/render"
)

// The flags that several commands take are registered here, once, so that
// every command takes them the same way.

// langNames lists the values of --lang: the languages of the message
// catalog (the notes of a language may still be missing: pgwalk then shows
// the English ones, and says so).
var langNames = catalog.Langs()

// outputFormats lists the values of --output.
var outputFormats = []string{"text", "json"}

// sourceViews lists the values of --source-view.
var sourceViews = []string{"auto", "on", "off"}

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

// addOutputFlag adds --output (-o), with completion, to cmd.
func addOutputFlag(cmd *cobra.Command, output *string, usage string) {
	cmd.Flags().StringVarP(output, "output", "o", "text", usage)
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputFormats, cobra.ShellCompDirectiveNoFileComp))
}

// addSourceFlags adds --source and --source-view, with completion, to cmd.
func addSourceFlags(cmd *cobra.Command, dir, view *string) {
	cmd.Flags().StringVar(dir, "source", "", "PostgreSQL source tree or git clone to show the cited lines from")
	cmd.Flags().StringVar(view, "source-view", "auto", "show source lines: auto (when available), on, off")
	_ = cmd.MarkFlagDirname("source")
	_ = cmd.RegisterFlagCompletionFunc("source-view", cobra.FixedCompletions(sourceViews, cobra.ShellCompDirectiveNoFileComp))
}

// msgLang returns the language to say a message in for --lang lang: lang
// when the catalog has it, else English (an unknown --lang is answered in
// English).
func msgLang(lang string) string {
	if catalog.IsLang(lang) {
		return lang
	}
	return catalog.DefaultLang
}

// validateLang checks a --lang value.
func validateLang(lang string) error {
	if !catalog.IsLang(lang) {
		return UsageError(catalog.Errorf(catalog.DefaultLang, "usage.lang", "lang", lang, "langs", strings.Join(langNames, ", ")))
	}
	return nil
}

// validateSourceView checks a --source-view value; the error is in lang.
func validateSourceView(view, lang string) error {
	for _, v := range sourceViews {
		if view == v {
			return nil
		}
	}
	return UsageError(catalog.Errorf(lang, "usage.source_view", "value", view))
}
