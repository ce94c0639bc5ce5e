package main

import (
	"os"
	"os/exec"
	"runtime"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary act as pgwalk inside the scripts: testscript
// runs it under the name "pgwalk", and a re-enactment child re-executes it.
func TestMain(m *testing.M) {
	if os.Getenv("PGWALK_TEST_MAIN") == "1" {
		os.Exit(run())
	}
	testscript.Main(m, map[string]func(){
		"pgwalk": func() { os.Exit(run()) },
	})
}

// TestScripts runs the end-to-end CLI scripts in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("NO_COLOR", "")
			e.Setenv("CLICOLOR_FORCE", "")
			e.Setenv("HOME", e.WorkDir)
			e.Setenv("XDG_CACHE_HOME", e.WorkDir+"/.cache")
			for _, k := range []string{"PGWALK_PG_CACHE", "PGWALK_PG_BIN", "CI", "PATH"} {
				if v, ok := os.LookupEnv(k); ok {
					e.Setenv(k, v)
				}
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "psql":
				_, err := exec.LookPath("psql")
				return err == nil, nil
			case "amd64":
				return runtime.GOARCH == "amd64", nil
			}
			return false, nil
		},
	})
}
