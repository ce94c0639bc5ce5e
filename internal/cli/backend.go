package cli

import (
	"github.com/spf13/cobra"

	"github.com/pgwalk/pgwalk/walkthrough/reenact"
)

// newCmdBackend returns the hidden command that runs the backend side of the
// re-enactment. The re-enactment's postmaster starts it by re-executing
// pgwalk's own binary, as PostgreSQL does in EXEC_BACKEND builds; it is not
// meant to be typed.
func newCmdBackend() *cobra.Command {
	return &cobra.Command{
		Use:                reenact.ChildCommand,
		Short:              "Run the backend side of the re-enactment (started by pgwalk itself)",
		Hidden:             true,
		DisableFlagParsing: true,
		Args:               cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			if code := reenact.ChildMain(args); code != 0 {
				return SilentExit(ExitCode(code))
			}
			return nil
		},
	}
}
