//go:build linux || darwin

package main

import (
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/internal/testutil/ptytest"
)

var keyRuns = flag.Int("key-runs", 200, "how many runs TestKeysNeverDropped makes (-short: 20; under -race: 40)")

// TestKeysNeverDropped walks many narrate runs on terminals, several at
// once: half of them press n the moment each stop's footer is on screen,
// the other half type ahead, pressing n for every stop at the first
// footer. A key that arrives while pgwalk fetches the next stop from the
// driver must be kept for the next wait, never dropped: a pgwalk that
// dropped one waited for a key that had already come, and a run that hangs
// here fails (within ptytest.Timeout) with the goroutines of the hung
// pgwalk.
func TestKeysNeverDropped(t *testing.T) {
	runs := *keyRuns
	switch {
	case testing.Short():
		runs = 20
	case raceEnabled && !flagSet("key-runs"):
		// A pgwalk built with -race is several times slower: fewer
		// runs, each one checked for races as well.
		runs = 40
	}
	for i := range runs {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			tm := startTerm(t, "run", "--version", "16.4", "--driver", "narrate")
			if i%2 == 1 {
				tm.WaitScreen(1)
				tm.Press("nnnnn")
				for stop := 2; stop <= 5; stop++ {
					if s := ptytest.StripEscapes(tm.WaitScreen(stop)); !strings.Contains(s, fmt.Sprintf("Phase %d/5", stop)) {
						t.Fatalf("screen %d is not stop %d:\n%s", stop, stop, s)
					}
				}
				if code := tm.Wait(); code != 0 {
					t.Fatalf("exit %d; stderr:\n%s", code, tm.Stderr())
				}
				return
			}
			for stop := 1; stop <= 5; stop++ {
				if s := ptytest.StripEscapes(tm.WaitScreen(stop)); !strings.Contains(s, fmt.Sprintf("Phase %d/5", stop)) {
					t.Fatalf("screen %d is not stop %d:\n%s", stop, stop, s)
				}
				tm.Press("n")
			}
			if code := tm.Wait(); code != 0 {
				t.Fatalf("exit %d; stderr:\n%s", code, tm.Stderr())
			}
		})
	}
}

// flagSet reports whether the flag called name was given.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
