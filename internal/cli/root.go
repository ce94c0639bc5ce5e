// Package cli is pgwalk's command tree. Each command lives in its own file;
// NewCmdRoot builds the tree, and Main runs it and turns the outcome into
// an exit code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// version is pgwalk's own version; release builds set it with -ldflags.
var version = "0.1.0-dev"

// Main runs pgwalk with the process's arguments and returns the exit code.
func Main() ExitCode {
	warm(os.Args[1:])
	f := NewFactory(iostreams.System())
	return Execute(context.Background(), f, os.Args[1:])
}

// warm reads, in the background, the embedded data that the command in
// args reads first, while the command tree is built: the message catalog
// and the release manifests (every command's help names them), and for
// `run` the notes and the study material its first stop shows. Each is
// read once, whoever asks first.
func warm(args []string) {
	go func() {
		_ = catalog.Err()
		_, _ = annotations.Manifests()
	}()
	if len(args) > 0 && args[0] == "run" {
		go func() {
			_, _ = annotations.Default()
			warmStudy()
		}()
	}
}

// NewFactory returns the factory of a real invocation over io.
func NewFactory(io *iostreams.IOStreams) *Factory {
	return &Factory{
		IO: io,
		Notes: func(dir string) (*annotations.Set, error) {
			if dir == "" {
				return annotations.Default()
			}
			if st, err := os.Stat(dir); err != nil {
				return nil, err
			} else if !st.IsDir() {
				return nil, catalog.Errorf(catalog.DefaultLang, "usage.not_a_directory")
			}
			return annotations.Load(os.DirFS(dir))
		},
		NewDriver: newDriver,
		Version:   buildVersion(),
	}
}

// Execute runs the command tree with args and returns the exit code. It
// prints an error once, to ErrOut; a flag error also prints the usage.
func Execute(ctx context.Context, f *Factory, args []string) ExitCode {
	// Every command reads the catalog of releases: one that cannot be built
	// (a broken embedded manifest) is reported once, here.
	if _, err := walkthrough.DefaultCatalog(); err != nil {
		fmt.Fprintf(f.IO.ErrOut, "pgwalk: %s\n", err)
		return ExitFailure
	}
	root := NewCmdRoot(f)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	if strings.HasPrefix(err.Error(), "unknown command ") {
		// cobra's own error for `pgwalk bogus` is a plain error: it is a
		// usage error like an unknown flag (exit 2, with the usage).
		err = &FlagError{Err: err}
	}
	var se errSilent
	if !errors.As(err, &se) {
		fmt.Fprintf(f.IO.ErrOut, "pgwalk: %s\n", err)
	}
	var fe *FlagError
	if errors.As(err, &fe) && cmd != nil {
		fmt.Fprintf(f.IO.ErrOut, "\n%s", cmd.UsageString())
	}
	return exitCodeFor(err)
}

// NewCmdRoot builds pgwalk's command tree.
func NewCmdRoot(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "pgwalk <command> [flags]",
		Short: "Step through how PostgreSQL starts a backend",
		Long: strings.TrimSpace(`
pgwalk steps through one real run of PostgreSQL's BackendStartup(): the moment
the postmaster turns a new client connection into a backend process. It pauses
at each phase (struct creation, struct init, fork, child cleanup and start,
parent registration, and the fork-failure branch) and shows notes tied to the
exact source lines of PostgreSQL ` + strings.Join(walkthrough.VersionNames(), ", ") + `, next to the real pids,
cancel key, child slot and file descriptors of the run.

By default the run is a re-enactment: pgwalk becomes a small postmaster with
real sockets, a real client, a cancel key from the OS's random source and a
real child process. With --driver live it traces a real PostgreSQL postmaster
with ptrace instead.`),
		Example: strings.Trim(`
  # walk BackendStartup of PostgreSQL 16.4, one phase per key press
  pgwalk run --version 16.4

  # PostgreSQL 18.4: pooled entries, the cancel key made in the backend
  pgwalk run --version 18.4

  # let students connect with their own psql and watch their connection
  pgwalk run --version 17.1 --wait-for-client

  # list the phases and their source ranges, then read one note
  pgwalk phases --version 17.1
  pgwalk show fork --version 17.1`, "\n"),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetIn(f.IO.In)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &FlagError{Err: err} })
	root.AddCommand(
		NewCmdRun(f, nil),
		NewCmdPhases(f, nil),
		NewCmdShow(f, nil),
		NewCmdVersions(f),
		NewCmdVersion(f),
		NewCmdVerify(f, nil),
		NewCmdSource(f),
	)
	// Later commands register here.
	root.AddCommand(NewCmdDiff(f, nil), NewCmdExport(f, nil), NewCmdGlossary(f, nil))
	return root
}

// buildVersion returns pgwalk's version with the VCS revision when known.
func buildVersion() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += "+" + s.Value[:12]
			}
		}
	}
	return v
}

// completeVersions completes --version values.
func completeVersions(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, v := range walkthrough.Versions() {
		out = append(out, v.Name+"\tPostgreSQL "+v.Name+" ("+v.Tag+")")
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completePhases completes phase names.
func completePhases(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, p := range walkthrough.Phases() {
		out = append(out, string(p.ID)+"\t"+p.Title)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// addVersionFlag adds the --version flag and its completion to cmd.
func addVersionFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "version", "", "PostgreSQL release to walk: "+strings.Join(walkthrough.VersionNames(), " or "))
	_ = cmd.RegisterFlagCompletionFunc("version", completeVersions)
}

// requireNoArgs is cobra.NoArgs as a flag error.
func requireNoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &FlagError{Err: catalog.Errorf(catalog.DefaultLang, "usage.no_args", "command", cmd.CommandPath(), "args", fmt.Sprintf("%q", args))}
	}
	return nil
}
