// Command cmp measures whole pgwalk processes against their baselines on
// this machine, in one run, interleaved round by round (the machine may be
// shared: every measure sees the same load), and prints medians and
// ratios. bench/run.sh builds the binaries and runs it.
//
//	cmp -pgwalk BIN -bare BIN [-before BIN] [-rounds N] [-version V] [-style S] [-width W]
//
// It compares, for one version, style and width:
//   - a whole non-interactive re-enactment with a bare glamour render of
//     the same notes (bench/bare), target at most 2.0x;
//   - the same re-enactment with its floor: `pgwalk run --driver narrate`
//     followed by `pgwalk version` (a second process of the same binary,
//     package init included), target at most 1.10x;
//   - the time until the first stop is on stdout with a bare render of one
//     note (whole process), target at most 1.2x;
//   - the re-enactment's peak RSS (its own process), target under 40 MB.
//
// With -before, the same re-enactment by another binary runs in every
// round too, for a before/after table.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"
)

func main() {
	pgwalk := flag.String("pgwalk", "", "the pgwalk binary")
	before := flag.String("before", "", "another pgwalk binary to compare with (optional)")
	bare := flag.String("bare", "", "the bench/bare binary")
	rounds := flag.Int("rounds", 30, "rounds; each runs every command once")
	version := flag.String("version", "16.4", "PostgreSQL version")
	style := flag.String("style", "notty", "style (notty or dark; bare renders the same)")
	width := flag.Int("width", 80, "width")
	flag.Parse()
	if *pgwalk == "" || *bare == "" {
		fmt.Fprintln(os.Stderr, "usage: cmp -pgwalk BIN -bare BIN [-before BIN] [-rounds N] [-version V] [-style S] [-width W]")
		os.Exit(2)
	}
	w := fmt.Sprint(*width)
	run := func(bin, driver string) []string {
		return []string{bin, "run", "--version", *version, "--driver", driver, "--no-pause", "--style", *style, "--width", w}
	}
	env := append(os.Environ(), "BARE_STYLE="+*style, "BARE_WIDTH="+w, "NO_COLOR=")
	type measure struct {
		name string
		do   func() (time.Duration, int64)
	}
	// The first stop is on stdout when the separator that starts the
	// second one is.
	sep := strings.Repeat("-", min(*width, 72)) + "\n"
	measures := []measure{
		{"bare glamour, all notes", func() (time.Duration, int64) { return whole(env, []string{*bare, *version}) }},
		{"bare glamour, one note", func() (time.Duration, int64) {
			return whole(append(env, "BARE_FIRST_ONLY=1"), []string{*bare, *version})
		}},
		{"reenact", func() (time.Duration, int64) { return whole(env, run(*pgwalk, "reenact")) }},
		{"floor: narrate + version", func() (time.Duration, int64) {
			a, _ := whole(env, run(*pgwalk, "narrate"))
			b, _ := whole(env, []string{*pgwalk, "version"})
			return a + b, 0
		}},
		{"reenact, first stop on stdout", func() (time.Duration, int64) { return until(env, run(*pgwalk, "reenact"), sep) }},
	}
	if *before != "" {
		measures = append(measures,
			measure{"before: reenact", func() (time.Duration, int64) { return whole(env, run(*before, "reenact")) }},
			measure{"before: floor", func() (time.Duration, int64) {
				a, _ := whole(env, run(*before, "narrate"))
				b, _ := whole(env, []string{*before, "version"})
				return a + b, 0
			}},
			measure{"before: first stop on stdout", func() (time.Duration, int64) { return until(env, run(*before, "reenact"), sep) }},
		)
	}
	times := make([][]time.Duration, len(measures))
	rss := make([][]int64, len(measures))
	for _, m := range measures { // warm-up: caches, page cache
		m.do()
	}
	for r := 0; r < *rounds; r++ {
		for i, m := range measures {
			d, kb := m.do()
			times[i] = append(times[i], d)
			if kb > 0 {
				rss[i] = append(rss[i], kb)
			}
		}
	}
	med := func(i int) float64 { return float64(median(times[i])) / 1e6 }
	fmt.Printf("version %s, style %s, width %d, %d rounds interleaved; load average %s\n", *version, *style, *width, *rounds, loadavg())
	fmt.Printf("%-32s %9s %9s %9s\n", "measure", "median ms", "p25 ms", "p75 ms")
	for i, m := range measures {
		s := append([]time.Duration(nil), times[i]...)
		sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
		fmt.Printf("%-32s %9.1f %9.1f %9.1f\n", m.name, med(i), float64(s[len(s)/4])/1e6, float64(s[len(s)*3/4])/1e6)
	}
	idx := func(name string) int {
		for i, m := range measures {
			if m.name == name {
				return i
			}
		}
		return -1
	}
	ratio := func(label, a, b, target string) {
		fmt.Printf("%-52s %5.2fx (target %s)\n", label, med(idx(a))/med(idx(b)), target)
	}
	ratio("reenact / bare glamour (all notes)", "reenact", "bare glamour, all notes", "<= 2.0x")
	ratio("reenact / floor (narrate + version)", "reenact", "floor: narrate + version", "<= 1.10x")
	ratio("first stop on stdout / one bare note", "reenact, first stop on stdout", "bare glamour, one note", "<= 1.2x")
	if *before != "" {
		ratio("before: reenact / bare glamour (all notes)", "before: reenact", "bare glamour, all notes", "<= 2.0x")
		ratio("before: reenact / its floor", "before: reenact", "before: floor", "<= 1.10x")
		ratio("before: first stop / one bare note", "before: first stop on stdout", "bare glamour, one note", "<= 1.2x")
	}
	if r := rss[idx("reenact")]; len(r) > 0 {
		fmt.Printf("%-52s %5.1f MB (target < 40 MB)\n", "reenact peak RSS (median, its own process)", float64(medianInt(r))/1024)
	}
	if *before != "" {
		if r := rss[idx("before: reenact")]; len(r) > 0 {
			fmt.Printf("%-52s %5.1f MB\n", "before: reenact peak RSS", float64(medianInt(r))/1024)
		}
	}
}

// whole runs argv to its end and returns its wall time and peak RSS (KB).
func whole(env, argv []string) (time.Duration, int64) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	start := time.Now()
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "cmp: %s: %v\n", strings.Join(argv, " "), err)
		os.Exit(1)
	}
	d := time.Since(start)
	var kb int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		kb = ru.Maxrss
	}
	return d, kb
}

// until runs argv and returns the time until its stdout holds marker; it
// lets the process finish before it returns.
func until(env, argv []string, marker string) (time.Duration, int64) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	if err != nil {
		panic(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	var seen bytes.Buffer
	var at time.Duration
	buf := make([]byte, 32<<10)
	for {
		n, err := out.Read(buf)
		seen.Write(buf[:n])
		if at == 0 && bytes.Contains(seen.Bytes(), []byte(marker)) {
			at = time.Since(start)
		}
		if err != nil {
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		fmt.Fprintf(os.Stderr, "cmp: %s: %v\n", strings.Join(argv, " "), err)
		os.Exit(1)
	}
	if at == 0 {
		fmt.Fprintf(os.Stderr, "cmp: %s: no %q on stdout\n", strings.Join(argv, " "), marker)
		os.Exit(1)
	}
	return at, 0
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	return s[len(s)/2]
}

func medianInt(d []int64) int64 {
	s := append([]int64(nil), d...)
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	return s[len(s)/2]
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
