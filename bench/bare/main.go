// Command bare renders pgwalk's notes for one version with a bare glamour
// renderer and nothing else: the baseline that bench/run.sh compares a
// whole pgwalk run with, process start included on both sides. BARE_STYLE
// (notty) and BARE_WIDTH (80) choose the style and width; BARE_FIRST_ONLY
// renders the first note alone.
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/charmbracelet/glamour"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/walkthrough"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}

func run() error {
	name := "16.4"
	if len(os.Args) > 1 {
		name = os.Args[1]
	}
	v, err := walkthrough.LookupVersion(name)
	if err != nil {
		return err
	}
	set, err := annotations.Default()
	if err != nil {
		return err
	}
	style, width := "notty", 80
	if s := os.Getenv("BARE_STYLE"); s != "" {
		style = s
	}
	if w, err := strconv.Atoi(os.Getenv("BARE_WIDTH")); err == nil && w > 0 {
		width = w
	}
	tr, err := glamour.NewTermRenderer(glamour.WithStandardStyle(style), glamour.WithWordWrap(width))
	if err != nil {
		return err
	}
	n := 0
	for _, note := range set.Notes(v.Name, annotations.DefaultLang) {
		if note.Phase == walkthrough.ForkFailure {
			continue
		}
		if n == 1 && os.Getenv("BARE_FIRST_ONLY") != "" {
			break
		}
		out, err := tr.Render(note.Body)
		if err != nil {
			return err
		}
		fmt.Print(out)
		n++
	}
	return nil
}
