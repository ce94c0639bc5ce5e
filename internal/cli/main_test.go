package cli

import (
	"os"
	"strings"
	"testing"
)

// TestMain lets this test binary be the re-enactment's backend: the driver
// re-executes os.Executable(), which under go test is this binary.
func TestMain(m *testing.M) {
	if code, ok := ChildMain(os.Args); ok {
		os.Exit(code)
	}
	if g := os.Getenv("GORACE"); !strings.Contains(g, "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=0"))
	}
	os.Exit(m.Run())
}
