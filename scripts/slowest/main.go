// Command slowest reads the output of `go test -json` on its standard
// input and prints what `go test` prints without -json: each package's
// result line, build errors, and the output of the tests that fail (a
// passing test's output is dropped, as go test drops it without -v). At
// the end it lists the slowest tests. It exits 1 when a test, a package
// or a build failed.
//
//	go test -json ./... | go run ./scripts/slowest -n 10
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

func main() {
	n := flag.Int("n", 10, "how many of the slowest tests to list")
	flag.Parse()
	failed, err := run(os.Stdin, os.Stdout, *n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "slowest:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Elapsed    float64
	Output     string
	ImportPath string
}

// timing is how long one test took.
type timing struct {
	pkg, test string
	elapsed   time.Duration
	failed    bool
}

// run copies the readable part of the event stream in to out, then lists
// the n slowest top-level tests. It reports whether anything failed.
func run(in io.Reader, out io.Writer, n int) (failed bool, err error) {
	// The output of each running test, until it passes (dropped) or
	// fails (printed).
	pending := map[[2]string]*strings.Builder{}
	var times []timing
	flush := func(key [2]string) {
		if b := pending[key]; b != nil {
			io.WriteString(out, b.String())
			delete(pending, key)
		}
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if err := json.Unmarshal(line, &ev); err != nil || ev.Action == "" {
			// Not an event (go vet's or the build's own words): pass
			// it through.
			fmt.Fprintf(out, "%s\n", line)
			continue
		}
		key := [2]string{ev.Package, ev.Test}
		switch ev.Action {
		case "build-output":
			io.WriteString(out, ev.Output)
		case "build-fail":
			failed = true
		case "output":
			if ev.Test == "" {
				if ev.Output != "PASS\n" {
					io.WriteString(out, ev.Output)
				}
				continue
			}
			b := pending[key]
			if b == nil {
				b = &strings.Builder{}
				pending[key] = b
			}
			b.WriteString(ev.Output)
		case "pass", "skip":
			delete(pending, key)
			if ev.Test != "" && ev.Action == "pass" {
				times = append(times, timing{ev.Package, ev.Test, seconds(ev.Elapsed), false})
			}
		case "fail":
			failed = true
			if ev.Test != "" {
				flush(key)
				times = append(times, timing{ev.Package, ev.Test, seconds(ev.Elapsed), true})
				continue
			}
			// A package that failed with tests still running (a panic,
			// a timeout): what they said is the evidence.
			for k := range pending {
				if k[0] == ev.Package {
					flush(k)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return failed, err
	}
	for k := range pending {
		flush(k)
	}
	printSlowest(out, times, n)
	return failed, nil
}

func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(10 * time.Millisecond)
}

// printSlowest lists the n slowest top-level tests (a subtest's time is
// part of its parent's; parallel subtests overlap).
func printSlowest(out io.Writer, times []timing, n int) {
	var top []timing
	for _, t := range times {
		if !strings.Contains(t.test, "/") {
			top = append(top, t)
		}
	}
	sort.SliceStable(top, func(i, j int) bool { return top[i].elapsed > top[j].elapsed })
	if len(top) > n {
		top = top[:n]
	}
	if len(top) == 0 {
		return
	}
	fmt.Fprintf(out, "\nslowest %d tests:\n", len(top))
	for _, t := range top {
		mark := ""
		if t.failed {
			mark = " (FAILED)"
		}
		fmt.Fprintf(out, "%9s  %s  %s%s\n", t.elapsed, t.test, t.pkg, mark)
	}
}
