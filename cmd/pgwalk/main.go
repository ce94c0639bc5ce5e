// Command pgwalk steps through one real run of PostgreSQL's BackendStartup()
// and explains each phase with notes tied to the exact source lines.
package main

import (
	"os"

	"github.com/pgwalk/pgwalk/internal/cli"
)

func main() {
	os.Exit(int(cli.Main()))
}
