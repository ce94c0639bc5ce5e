package reenact

import (
	"os"
	"testing"
)

// TestMain lets the test binary be the backend: the driver re-executes
// os.Executable(), which under go test is this binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ChildCommand {
		os.Exit(ChildMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}
