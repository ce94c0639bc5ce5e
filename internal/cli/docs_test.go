package cli

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/internal/iostreams"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/commands.md")

// TestCommandDocs fails when docs/commands.md is not what the command tree
// generates, like cmd/go's TestDocsUpToDate.
func TestCommandDocs(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	got := CommandDocs(NewCmdRoot(NewFactory(io)))
	const path = "../../docs/commands.md"
	if *updateDocs {
		if err := os.MkdirAll("../../docs", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Fatalf("docs/commands.md is stale: run go test ./internal/cli -run TestCommandDocs -update-docs")
	}
	for _, c := range NewCmdRoot(NewFactory(io)).Commands() {
		if c.Hidden || c.Name() == "completion" || c.Name() == "help" {
			continue
		}
		if c.Short == "" || c.Long == "" || c.Example == "" {
			t.Errorf("command %s lacks Short, Long or Example", c.Name())
		}
		if !strings.Contains(got, "## pgwalk "+c.Name()) {
			t.Errorf("docs lack %s", c.Name())
		}
	}
}
