package cli

import (
	"fmt"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// NewCmdVersions returns `pgwalk versions`.
func NewCmdVersions(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "versions",
		Short:   "List the PostgreSQL releases pgwalk can walk",
		Long:    "List the PostgreSQL releases whose BackendStartup pgwalk has notes for, with their git tags.\nThe notes cite line numbers of these exact releases.",
		Example: "  pgwalk versions",
		Args:    requireNoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			en := catalog.DefaultLang
			fmt.Fprintf(tw, "%s\t%s\t%s\n", catalog.S(en, "column.version"), catalog.S(en, "column.tag"), catalog.S(en, "column.source"))
			for _, v := range walkthrough.Versions() {
				fmt.Fprintf(tw, "%s\t%s\thttps://github.com/postgres/postgres/tree/%s\n", v.Name, v.Tag, v.Tag)
			}
			return tw.Flush()
		},
	}
}

// NewCmdVersion returns `pgwalk version`.
func NewCmdVersion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print pgwalk's own version",
		Long:    "Print pgwalk's own version, the Go toolchain it was built with, and the PostgreSQL releases it knows.",
		Example: "  pgwalk version",
		Args:    requireNoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(f.IO.Out, "pgwalk %s (%s, %s/%s) · PostgreSQL %s\n", f.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH, strings.Join(walkthrough.VersionNames(), ", "))
			return err
		},
	}
}
