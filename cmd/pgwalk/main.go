// Command pgwalk steps through one real run of PostgreSQL's BackendStartup()
// and explains each phase with notes tied to the exact source lines.
package main

import (
	"os"

	"github.com/pgwalk/pgwalk/internal/cli"
)

func main() {
	os.Exit(run())
}

// run runs pgwalk and returns its exit code. A driver's child (the
// re-enactment's backend, which the driver starts by re-executing this
// binary, as PostgreSQL's EXEC_BACKEND builds start theirs) runs first,
// before any command is built.
func run() int {
	if code, ok := cli.ChildMain(os.Args); ok {
		return code
	}
	return int(cli.Main())
}
