package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// CommandDocs returns the Markdown command reference of the tree under
// root: every visible command with its description, usage, examples and
// flags. docs/commands.md is this text; a test fails when it is stale.
func CommandDocs(root *cobra.Command) string {
	root.InitDefaultCompletionCmd()
	var b strings.Builder
	b.WriteString("# pgwalk command reference\n\n")
	b.WriteString("Generated from the command tree by `go test ./internal/cli -run TestCommandDocs -update-docs`; do not edit by hand.\n\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		fmt.Fprintf(&b, "## %s\n\n%s\n\n", c.CommandPath(), c.Short)
		if c.Long != "" && c.Long != c.Short {
			fmt.Fprintf(&b, "```\n%s\n```\n\n", strings.TrimSpace(c.Long))
		}
		if c.Runnable() {
			fmt.Fprintf(&b, "Usage: `%s`\n\n", c.UseLine())
		}
		if c.Example != "" {
			fmt.Fprintf(&b, "Examples:\n\n```\n%s\n```\n\n", c.Example)
		}
		if fl := c.NonInheritedFlags(); fl.HasAvailableFlags() {
			fmt.Fprintf(&b, "Flags:\n\n```\n%s```\n\n", fl.FlagUsages())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return b.String()
}
