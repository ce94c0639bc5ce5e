package render

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// helpKeys lists every key of an interactive run: the keys, and what they
// do (a key of the message catalog).
var helpKeys = [][2]string{
	{"Enter, space, n, →", "next page, then the next stop"},
	{"b, p, ←", "previous page, then an earlier note"},
	{"j, ↓ / k, ↑", "one line down / up"},
	{"PgDn / PgUp", "next / previous page of this stop"},
	{"v", "every value observed at this stop"},
	{"s", "show the source lines and go to them, or hide them"},
	{"g, Home / G, End", "first / latest note"},
	{"1-5", "the note of that phase"},
	{"?", "this help: the next key closes it"},
	{"q", "quit: the processes are stopped, all cleaned up"},
	{"Ctrl-C", "interrupt (exit 130), all cleaned up too"},
}

// asciiKeys spells the arrows of helpKeys in ASCII.
var asciiKeys = strings.NewReplacer("→", "Right", "←", "Left", "↓", "Down", "↑", "Up")

// KeyHelp returns the key help that ? shows over the page: a framed box
// listing every key, in lang.
func KeyHelp(lang string, ascii bool) []string {
	keyW := 0
	for _, k := range helpKeys {
		keyW = max(keyW, ansi.StringWidth(helpKey(k[0], ascii)))
	}
	lines := []string{tr(lang, "Keys"), ""}
	for _, k := range helpKeys {
		key := helpKey(k[0], ascii)
		lines = append(lines, key+strings.Repeat(" ", keyW-ansi.StringWidth(key)+2)+tr(lang, k[1]))
	}
	lines = append(lines, "", tr(lang, "no rewind"))
	return frame(lines, ascii)
}

func helpKey(k string, ascii bool) string {
	if ascii {
		return asciiKeys.Replace(k)
	}
	return k
}

// frame draws a box around lines, one blank column inside each side.
func frame(lines []string, ascii bool) []string {
	w := 0
	for _, l := range lines {
		w = max(w, ansi.StringWidth(l))
	}
	tl, tr, bl, br, h, v := "┌", "┐", "└", "┘", "─", "│"
	if ascii {
		tl, tr, bl, br, h, v = "+", "+", "+", "+", "-", "|"
	}
	out := []string{tl + strings.Repeat(h, w+2) + tr}
	for _, l := range lines {
		out = append(out, v+" "+l+strings.Repeat(" ", w-ansi.StringWidth(l))+" "+v)
	}
	return append(out, bl+strings.Repeat(h, w+2)+br)
}

// Footer returns the line under a stop on a terminal of width columns: the
// stop's heading, the page, a hint, and always, at its end, "? keys · q
// quit". What does not fit goes: the hint, then the end of the heading. A
// terminal narrower than pgwalk renders for (40 columns) gets the line cut
// at its end.
func Footer(st walkthrough.State, heading string, width int, color, ascii bool, lang string) string {
	sep := " · "
	if ascii {
		sep = " | "
	}
	right := tr(lang, "? keys") + sep + tr(lang, "q quit")
	var page, hint string
	if p, n := st.Page(); n > 1 {
		page = fmt.Sprintf("%d/%d", p+1, n)
	}
	switch {
	case st.Reviewing():
		hint = fmt.Sprintf(tr(lang, "reviewing stop %d of %d"), st.Pos+1, len(st.Stops))
	case !st.AtEnd():
		hint = tr(lang, "Enter: more")
	case st.Done && st.Pos == len(st.Stops)-1:
		hint = tr(lang, "the end: Enter finishes")
	}
	join := func(parts ...string) string {
		var keep []string
		for _, p := range parts {
			if p != "" {
				keep = append(keep, p)
			}
		}
		return " " + strings.Join(keep, sep)
	}
	room := width - 1 // the last column stays free: no wrap, no scroll
	line := join(heading, page, hint, right)
	if ansi.StringWidth(line) > room {
		line = join(heading, page, right)
	}
	if w := ansi.StringWidth(line); w > room {
		tail := sep + join(page, right)[1:]
		if page == "" {
			tail = sep + right
		}
		if keep := room - 1 - ansi.StringWidth(tail) - 1; keep >= 10 && width >= 40 {
			line = " " + ansi.Truncate(heading, keep, "…") + tail
		} else {
			line = ansi.Truncate(join(heading, page, right), max(room, 1), "…")
		}
	}
	if color {
		return "\x1b[7m" + line + "\x1b[0m"
	}
	return line
}
